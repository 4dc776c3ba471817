"""Training: live curves, previews, progress, Pause/Resume/Stop, and what went wrong.

The view draws what a ``TrainingJob`` emits; it owns no process and no maths.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from noiseda_core.events import (
    Diagnostics,
    Finished,
    Preview,
    Progress,
    Resized,
    Started,
    StrengthChosen,
    Validation,
)
from noiseda_core.run_folder import RunFolder

from ..jobs import Failure, JobState, TrainingJob
from ..run_index import RunSummary
from ..theme import icon
from ..widgets.error_panel import ErrorPanel
from ..widgets.preview_strip import PreviewStrip
from ..widgets.score_line import ScoreLine

if TYPE_CHECKING:
    from ..widgets.loss_plot import LossPlot


STOPPING_TEXT = "Stopping… (finishing the step, keeping a checkpoint)"


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class TrainingView(QWidget):
    """Bind a job with ``attach``; emits the user's requests as signals."""

    pause_requested = Signal()
    resume_requested = Signal()
    stop_requested = Signal()
    continue_requested = Signal()  # resume a failed or stopped run from its checkpoint
    longer_requested = Signal()  # train a finished run further (only train.steps changes)
    export_requested = Signal()
    restore_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: TrainingJob | None = None
        self.run_dir: Path | None = None
        self.total_steps = 0
        self.stopped = False  # the last run ended on Stop (it can continue from its checkpoint)
        self.finished_event: Finished | None = None  # how the last run here ended
        self.replayed: RunSummary | None = None  # a past run shown from its events.jsonl
        self._latest: Progress | None = None
        self._ips: float | None = None  # images/s of the last progress shown
        self._elapsed = 0.0  # the worker's elapsed seconds at ``_event_clock``
        self._eta: float | None = None
        self._event_clock = time.monotonic()
        self._run_title = ""  # "Training on cpu": shown again after Resume
        self._tick = QTimer(self)  # elapsed and ETA move every second, not only on events
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._render_stats)
        self._ui_timer = QTimer(self)
        self._ui_timer.setSingleShot(True)
        self._ui_timer.setInterval(100)
        self._ui_timer.timeout.connect(self._show_latest)
        self.title = QLabel("No training yet. Set it up on the Setup page.", self)
        self.title.setObjectName("title")
        self.title.setWordWrap(True)
        self.run_label = QLabel(self)
        self.run_label.setObjectName("hint")
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar(self)
        self.progress.setFormat("%v / %m steps")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)  # no "0 / 1 steps" before a run says its length
        self.stats = QLabel("—", self)
        self.pause_button = QPushButton(icon("pause"), "Pause", self)
        self.stop_button = QPushButton(icon("stop"), "Stop", self)
        self.continue_button = QPushButton(icon("resume"), "Continue training", self)
        self.longer_button = QPushButton(icon("resume"), "Train longer…", self)
        self.longer_button.setToolTip(
            "Continue this finished run for more steps, from its last "
            "checkpoint (only the number of steps changes)"
        )
        self.export_button = QPushButton(icon("export"), "Export…", self)
        self.restore_button = QPushButton(icon("restore"), "Open in Restore", self)
        self.pause_button.clicked.connect(self._pause_clicked)
        self.stop_button.clicked.connect(self.stop_requested)
        self.continue_button.clicked.connect(self.continue_requested)
        self.longer_button.clicked.connect(self.longer_requested)
        self.export_button.clicked.connect(self.export_requested)
        self.restore_button.clicked.connect(self.restore_requested)
        self.stop_button.setToolTip("Stop after this step and keep a checkpoint")

        self.error_panel = ErrorPanel(self)
        self.error_panel.resume_requested.connect(self.continue_requested)
        self._plot: LossPlot | None = None  # built on first use: pyqtgraph is slow to import
        self.previews = PreviewStrip(self)
        self.splitter = splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.previews)
        splitter.setChildrenCollapsible(False)
        self.log = QPlainTextEdit(self)
        self.log.setObjectName("log")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(200)
        self.log.setMaximumHeight(110)
        self.log.setVisible(False)
        self.log_toggle = QToolButton(self)
        self.log_toggle.setObjectName("sectionToggle")
        self.log_toggle.setText("Log")
        self.log_toggle.setCheckable(True)
        self.log_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.log_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.log_toggle.toggled.connect(self._toggle_log)

        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(self.title)
        titles.addWidget(self.run_label)
        head.addLayout(titles, 1)
        for b in (
            self.pause_button,
            self.stop_button,
            self.continue_button,
            self.longer_button,
            self.export_button,
            self.restore_button,
        ):
            head.addWidget(b)
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.stats)
        self.scores = ScoreLine(self)  # noisy input / starting model / adapted PSNR
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(bar)
        layout.addWidget(self.scores)
        layout.addWidget(self.error_panel)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.log_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.log)
        self._update_buttons()

    @property
    def plot(self) -> LossPlot:
        if self._plot is None:
            from ..widgets.loss_plot import LossPlot

            self._plot = LossPlot(self)
            self.splitter.insertWidget(0, self._plot)
            self.splitter.setStretchFactor(0, 3)
            self.splitter.setStretchFactor(1, 2)
        return self._plot

    def restyle(self) -> None:
        """The theme changed: the curves (when built) take its colours."""
        if self._plot is not None:
            self._plot.restyle()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt name)
        self.plot  # noqa: B018 (builds the curves the first time the page shows)
        super().showEvent(event)

    # ------------------------------------------------------------------ binding
    def attach(self, job: TrainingJob) -> None:
        """Draw what ``job`` emits (called once; the job is reused run after run)."""
        self.job = job
        job.started.connect(self.on_started)
        job.progress.connect(self.on_progress)
        job.resized.connect(self.on_resized)
        job.validation.connect(lambda event: self.plot.add_validation(event))
        job.validation.connect(self.scores.add_validation)
        job.strength.connect(self.scores.add_strength)
        job.diagnostics.connect(lambda event: self.plot.add_diagnostics(event))
        job.preview.connect(self.previews.add_preview)
        job.finished.connect(self.on_finished)
        job.failed.connect(self.on_failed)
        job.log_line.connect(self.log.appendPlainText)
        job.state_changed.connect(self._update_buttons)
        self._update_buttons()

    def begin(self, run_dir: Path, *, fresh: bool) -> None:
        """A run starts in ``run_dir``; ``fresh`` clears the curves (a resumed run keeps them)."""
        self.run_dir = Path(run_dir)
        self.previews.set_run_dir(self.run_dir)
        if fresh:
            self.plot.clear()
            self.previews.clear()
            self.log.clear()
            self.scores.clear()
            self._ips, self._eta, self._elapsed = None, None, 0.0
            self.stats.setText("—")
            self.progress.setTextVisible(False)
        self.error_panel.hide()
        self.stopped = False
        self.finished_event = None
        self.replayed = None
        self.run_label.setText(f"Run folder: {self.run_dir}")
        self.title.setText("Starting the training worker…")
        self._update_buttons()

    def show_run(self, run: RunSummary) -> int:
        """Draw a past run's curves and previews from its event log; returns the events read."""
        self.begin(run.path, fresh=True)
        events = RunFolder(run.path).timeline()
        for event in events:
            if isinstance(event, Progress):
                self.plot.add_progress(event)
                self._latest = event
            elif isinstance(event, Validation):
                self.plot.add_validation(event)
                self.scores.add_validation(event)
            elif isinstance(event, Diagnostics):
                self.plot.add_diagnostics(event)
            elif isinstance(event, StrengthChosen):
                self.scores.add_strength(event)
            elif isinstance(event, Preview):
                self.previews.add_preview(event)
            elif isinstance(event, Resized):
                self.total_steps = event.total_steps
            elif isinstance(event, Started):
                self.total_steps = event.total_steps
                self.finished_event = None  # a resume: that end is history
            elif isinstance(event, Finished):
                self.finished_event = event
        if self.finished_event is not None:  # which weights were kept, as when it ended
            self.scores.add_finished(self.finished_event)
        self._show_latest()
        self.plot.flush()
        self.previews.flush()
        total = f" of {run.total_steps:,}" if run.total_steps else ""
        self.progress.setRange(0, max(1, run.total_steps or run.step))
        self.progress.setValue(run.step)
        self.progress.setTextVisible(True)
        self.title.setText(
            f"Run {run.name}: {run.state} at step {run.step:,}{total}." + self._cut_short_note()
        )
        self.replayed = run
        self._update_buttons()
        return len(events)

    def on_started(self, event: Started) -> None:
        self.total_steps = event.total_steps
        minutes = event.minutes
        if self.total_steps == 0 and minutes:
            self.progress.setRange(0, 0)  # busy until the first steps are timed
        else:
            self.progress.setRange(0, max(1, self.total_steps))
            self.progress.setValue(event.step)
        self.progress.setTextVisible(self.total_steps > 0)
        resumed = " (resumed)" if event.resumed else ""
        self._run_title = f"Training on {event.device or '?'}{resumed}"
        self.title.setText(self._run_title)
        self.stats.setText(
            f"timing the first steps to fit {float(minutes):g} min"
            if minutes and not self.total_steps
            else f"mode {event.mode}, {event.precision}"
        )
        self._ips, self._eta, self._elapsed = None, None, 0.0
        self._event_clock = time.monotonic()

    def on_resized(self, event: Resized) -> None:
        """A time budget set the run's length (or its deadline ended it): the bar's total."""
        self.total_steps = event.total_steps
        self.progress.setRange(0, max(1, self.total_steps))
        self.progress.setValue(event.step)
        self.progress.setTextVisible(self.total_steps > 0)

    def on_progress(self, event: Progress) -> None:
        """Curves take every point; the bar and the numbers update at most every 100 ms."""
        self.plot.add_progress(event)
        self._latest = event
        if not self._ui_timer.isActive():
            self._ui_timer.start()

    def _show_latest(self) -> None:
        event, self._latest = self._latest, None
        if event is None:
            return
        total = event.total_steps or self.total_steps
        step = event.step
        if total:
            self.progress.setRange(0, total)
        self.progress.setValue(step)
        self.progress.setTextVisible(total > 0)  # a budget still timing its first steps: busy
        self._ips = event.images_per_s
        self._elapsed = event.elapsed_s
        self._eta = event.eta_s
        self._event_clock = time.monotonic()
        self._render_stats()

    def _live(self) -> bool:
        return self.job is not None and self.job.state == JobState.RUNNING

    def _render_stats(self) -> None:
        """img/s, elapsed and ETA; the clock runs between events, and ETA only while running."""
        if self._ips is None:
            return
        since = time.monotonic() - self._event_clock if self._live() else 0.0
        text = f"{self._ips:.1f} img/s   elapsed {fmt_duration(self._elapsed + since)}"
        state = self.job.state if self.job is not None else JobState.IDLE
        if state == JobState.RUNNING and self._eta is not None:
            text += f"   ETA {fmt_duration(max(0.0, self._eta - since))}"
        elif state == JobState.PAUSED:
            text += "   paused"
        self.stats.setText(text)

    def on_finished(self, event: Finished) -> None:
        self._ui_timer.stop()
        self._show_latest()
        self.plot.flush()
        self.previews.flush()
        self.stopped = event.stopped
        self.scores.add_finished(event)
        self.finished_event = event
        step, planned = event.step, event.planned_steps
        if event.out_of_time and planned:
            self.progress.setRange(0, max(planned, step))
        elif self.progress.maximum() == 0:  # still busy: ended before the budget sized it
            self.progress.setRange(0, max(1, step))
        self.progress.setTextVisible(True)
        self.progress.setValue(min(step, self.progress.maximum()))
        if self.stopped:
            self.title.setText(f"Stopped at step {step:,}; a checkpoint was kept.")
        elif event.out_of_time:
            self.title.setText(f"Finished at step {step:,}." + self._cut_short_note())
        else:
            self.title.setText(f"Finished {step:,} steps.")
            self.progress.setValue(self.progress.maximum())
        self._render_stats()  # no ETA once the run has ended
        self._update_buttons()

    def _cut_short_note(self) -> str:
        """Why a run ended before its planned steps (the deadline of its minutes), else ""."""
        event = self.finished_event
        if event is None or not event.out_of_time:
            return ""
        planned = event.planned_steps
        steps = f"the {planned:,} planned steps" if planned else "its planned steps"
        return (
            f" The time ran out before {steps}: the machine slowed down. "
            "Train longer continues the run."
        )

    def can_train_longer(self) -> bool:
        """A finished (not stopped) run with a checkpoint, shown here and not training."""
        state = self.job.state if self.job is not None else JobState.IDLE
        if state in {JobState.STARTING, JobState.RUNNING, JobState.PAUSED, JobState.STOPPING}:
            return False
        if self.replayed is not None:
            finished = self.replayed.state == "finished"
        else:
            finished = state == JobState.FINISHED and not self.stopped
        return finished and self._has_checkpoint()

    def shown_step(self) -> int:
        """The step the run shown here reached."""
        if self.finished_event is not None:
            return int(getattr(self.finished_event, "step", 0))
        if self.replayed is not None:
            return self.replayed.step
        return self.progress.value()

    def _has_checkpoint(self) -> bool:
        return self.run_dir is not None and RunFolder(self.run_dir).checkpoint_path.is_file()

    def on_failed(self, failure: Failure) -> None:
        self._show_latest()
        self.plot.flush()
        self.previews.flush()
        self.title.setText("Training failed.")
        self._render_stats()
        self.error_panel.show_failure(failure)

    # ------------------------------------------------------------------ buttons
    def _pause_clicked(self) -> None:
        if self.job is not None and self.job.state == JobState.PAUSED:
            self.resume_requested.emit()
        else:
            self.pause_requested.emit()

    def _toggle_log(self, on: bool) -> None:
        self.log.setVisible(on)
        self.log_toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def _update_buttons(self, *_: object) -> None:
        state = self.job.state if self.job is not None else JobState.IDLE
        live = state in {JobState.RUNNING, JobState.PAUSED}
        self.pause_button.setEnabled(live)
        paused = state == JobState.PAUSED
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setIcon(icon("play" if paused else "pause"))
        if paused:
            self._freeze_clock()
            self.title.setText("Paused: press Resume to go on.")
        elif state == JobState.STOPPING:
            self._freeze_clock()
            self.title.setText(STOPPING_TEXT)
        elif state == JobState.RUNNING and self._run_title:
            self.title.setText(self._run_title)
        if state == JobState.RUNNING:
            if not self._tick.isActive():
                self._event_clock = time.monotonic()  # paused time does not count
            self._tick.start()
        else:
            self._tick.stop()
        self._render_stats()
        self.stop_button.setEnabled(live or state == JobState.STARTING)
        has_ckpt = self._has_checkpoint()
        resumable = state == JobState.FAILED or (state == JobState.FINISHED and self.stopped)
        self.longer_button.setVisible(self.can_train_longer())
        if self.replayed is not None and state not in {
            JobState.STARTING,
            JobState.RUNNING,
            JobState.PAUSED,
            JobState.STOPPING,
        }:
            self.continue_button.setVisible(
                self.replayed.can_resume and self.replayed.state != "finished"
            )
            self.restore_button.setEnabled(self._model_exists())
            self.export_button.setEnabled(has_ckpt or self._model_exists())
            return
        self.continue_button.setVisible(resumable and has_ckpt)
        done = state == JobState.FINISHED and self._model_exists()
        self.restore_button.setEnabled(done)
        self.export_button.setEnabled(
            state in {JobState.FINISHED, JobState.FAILED} and has_ckpt or done
        )

    def _freeze_clock(self) -> None:
        """Paused: elapsed stops where it is (the clock restarts on the next event or Resume)."""
        if not self._tick.isActive():
            return
        now = time.monotonic()
        self._elapsed += now - self._event_clock
        if self._eta is not None:
            self._eta = max(0.0, self._eta - (now - self._event_clock))
        self._event_clock = now

    def _model_exists(self) -> bool:
        return self.run_dir is not None and RunFolder(self.run_dir).model_path.is_file()
