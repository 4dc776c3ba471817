"""Training: live curves, previews, progress, Pause/Resume/Stop, and what went wrong.

The view draws what a ``TrainingJob`` emits; it owns no process and no maths.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFrame,
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

from ..jobs import Failure, JobState, TrainingJob
from ..theme import icon, status_colour
from ..widgets.preview_strip import PreviewStrip

if TYPE_CHECKING:
    from ..widgets.loss_plot import LossPlot


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ErrorPanel(QFrame):
    """Inline report of a dead worker: message, traceback, last log lines, resume."""

    resume_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorPanel")
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit(self)
        self.details.setObjectName("log")
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(160)
        self.resume_button = QPushButton(icon("resume"), "Resume from last checkpoint", self)
        self.resume_button.clicked.connect(self.resume_requested)
        self.dismiss = QToolButton(self)
        self.dismiss.setText("Dismiss")
        self.dismiss.clicked.connect(self.hide)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.resume_button)
        top.addWidget(self.dismiss)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.details)
        self.hide()

    def show_failure(self, failure: Failure) -> None:
        self.title.setText(f"<b>Training stopped with an error.</b> {failure.message}".replace("\n", "<br>"))
        self.title.setStyleSheet(f"color: {status_colour(False)}")
        parts = []
        if failure.traceback:
            parts += ["Traceback:", failure.traceback.rstrip(), ""]
        parts += ["Last log lines:", failure.log_tail or "(none)"]
        self.details.setPlainText("\n".join(parts))
        self.resume_button.setVisible(bool(failure.checkpoint))
        self.resume_button.setToolTip(failure.checkpoint)
        self.show()


class TrainingView(QWidget):
    """Bind a job with ``attach``; emits the user's requests as signals."""

    pause_requested = Signal()
    resume_requested = Signal()
    stop_requested = Signal()
    continue_requested = Signal()  # resume a failed or stopped run from its checkpoint
    export_requested = Signal()
    restore_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: TrainingJob | None = None
        self.run_dir: Path | None = None
        self.total_steps = 0
        self.stopped = False  # the last run ended on Stop (it can continue from its checkpoint)
        self._latest: object | None = None
        self._speed = ""  # "img/s   elapsed" of the last progress shown
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
        self.stats = QLabel("—", self)
        self.pause_button = QPushButton(icon("pause"), "Pause", self)
        self.stop_button = QPushButton(icon("stop"), "Stop", self)
        self.continue_button = QPushButton(icon("resume"), "Continue training", self)
        self.export_button = QPushButton(icon("export"), "Export…", self)
        self.restore_button = QPushButton(icon("restore"), "Open in Restore", self)
        self.pause_button.clicked.connect(self._pause_clicked)
        self.stop_button.clicked.connect(self.stop_requested)
        self.continue_button.clicked.connect(self.continue_requested)
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
        for b in (self.pause_button, self.stop_button, self.continue_button, self.export_button,
                  self.restore_button):
            head.addWidget(b)
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.stats)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(bar)
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

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt name)
        self.plot  # noqa: B018 (builds the curves the first time the page shows)
        super().showEvent(event)

    # ------------------------------------------------------------------ binding
    def attach(self, job: TrainingJob) -> None:
        """Draw what ``job`` emits (called once; the job is reused run after run)."""
        self.job = job
        job.started.connect(self.on_started)
        job.progress.connect(self.on_progress)
        job.validation.connect(lambda event: self.plot.add_validation(event))
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
            self._speed = ""
            self.stats.setText("—")
        self.error_panel.hide()
        self.stopped = False
        self.run_label.setText(f"Run folder: {self.run_dir}")
        self.title.setText("Starting the training worker…")
        self._update_buttons()

    def on_started(self, event: object) -> None:
        self.total_steps = int(getattr(event, "total_steps", 0))
        self.progress.setRange(0, max(1, self.total_steps))
        self.progress.setValue(int(getattr(event, "step", 0)))
        resumed = " (resumed)" if getattr(event, "resumed", False) else ""
        self.title.setText(f"Training on {getattr(event, 'device', '?')}{resumed}")
        self.stats.setText(f"mode {getattr(event, 'mode', '')}, {getattr(event, 'precision', '')}")

    def on_progress(self, event: object) -> None:
        """Curves take every point; the bar and the numbers update at most every 100 ms."""
        self.plot.add_progress(event)
        self._latest = event
        if not self._ui_timer.isActive():
            self._ui_timer.start()

    def _show_latest(self) -> None:
        event, self._latest = self._latest, None
        if event is None:
            return
        total = int(getattr(event, "total_steps", 0)) or self.total_steps
        step = int(getattr(event, "step", 0))
        if total:
            self.progress.setRange(0, total)
        self.progress.setValue(step)
        self._speed = (f"{getattr(event, 'images_per_s', 0.0):.1f} img/s   elapsed "
                       f"{fmt_duration(getattr(event, 'elapsed_s', 0.0))}")
        self.stats.setText(f"{self._speed}   ETA {fmt_duration(getattr(event, 'eta_s', 0.0))}")

    def on_finished(self, event: object) -> None:
        self._ui_timer.stop()
        self._show_latest()
        self.plot.flush()
        self.previews.flush()
        self.stopped = bool(getattr(event, "stopped", False))
        self.progress.setValue(min(int(getattr(event, "step", 0)), self.progress.maximum()))
        if self.stopped:
            self.title.setText(f"Stopped at step {getattr(event, 'step', 0)}; a checkpoint was kept.")
        else:
            self.title.setText(f"Finished {getattr(event, 'step', 0)} steps.")
            self.progress.setValue(self.progress.maximum())
        if self._speed:  # no ETA once the run has ended
            self.stats.setText(self._speed)
        self._update_buttons()

    def on_failed(self, failure: Failure) -> None:
        self._show_latest()
        self.plot.flush()
        self.previews.flush()
        self.title.setText("Training failed.")
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
            self.title.setText("Paused.")
        self.stop_button.setEnabled(live or state == JobState.STARTING)
        has_ckpt = self.run_dir is not None and (self.run_dir / "checkpoints" / "last.pt").is_file()
        resumable = state == JobState.FAILED or (state == JobState.FINISHED and self.stopped)
        self.continue_button.setVisible(resumable and has_ckpt)
        done = state == JobState.FINISHED and self._model_exists()
        self.restore_button.setEnabled(done)
        self.export_button.setEnabled(state in {JobState.FINISHED, JobState.FAILED} and has_ckpt or done)

    def _model_exists(self) -> bool:
        return self.run_dir is not None and (self.run_dir / "model.safetensors").is_file()
