"""The main window: Setup → Training → Restore, a menu, and the training job's life.

It composes the views and routes between them; it owns no training or image maths.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QInputDialog,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from noiseda_core.config import Config, save_config
from noiseda_core.errors import UserError
from noiseda_core.events import Finished
from noiseda_core.run_folder import RunFolder, new_run_dir

from . import APP_NAME, settings
from .before_after import before_after
from .export_dialog import ExportDialog
from .jobs import Failure, JobState, TrainingJob
from .menus import Menus
from .run_index import RunSummary, summarize
from .tasks import run_in_thread
from .theme import icon
from .views.restore_view import RestoreView
from .views.runs_view import RunsView
from .views.setup_view import SetupView
from .views.training_view import TrainingView
from .widgets.resume_offer import ResumeOffer

STOP_TIMEOUT_S = 20.0
STATUS_MS = 10_000  # status-bar messages fade instead of lingering on other pages


class MainWindow(QMainWindow):
    """``worker``/``extra_env`` replace the training child (tests use a fake)."""

    training_done = Signal(object)  # Finished
    training_failed = Signal(object)  # Failure
    resume_offered = Signal(object)  # the interrupted run's folder

    def __init__(
        self,
        *,
        worker: list[str] | None = None,
        extra_env: dict[str, str] | None = None,
        confirm_close: bool = True,
    ) -> None:
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(icon("app"))
        self.confirm_close = confirm_close
        self.run_dir: Path | None = None
        self._new_run: Path | None = None  # a fresh start's folder, until the worker wrote in it
        self._closing = False
        self._shown_once = False
        self.job = TrainingJob(self, worker=worker, extra_env=extra_env)
        self.setup_view = SetupView(self)
        self.training_view = TrainingView(self)
        self.restore_view = RestoreView(self)
        self.runs_view = RunsView(self)
        self.training_view.attach(self.job)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.setup_view, icon("setup"), "Setup")
        self.tabs.addTab(self.training_view, icon("training"), "Training")
        self.tabs.addTab(self.runs_view, icon("open"), "Runs")
        self.tabs.addTab(self.restore_view, icon("restore"), "Restore")
        self.resume_offer = ResumeOffer(self)
        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.resume_offer)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.menus = Menus(self)
        m = self.menus
        self.load_action, self.open_images_action = m.load_action, m.open_images_action
        self.open_model_action, self.export_action = m.open_model_action, m.export_action
        self.tabs.currentChanged.connect(self._page_changed)
        self._offer_checked = False

        self.setup_view.start_requested.connect(self.start_training)
        self.setup_view.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.setup_view.runs_folder_changed.connect(lambda _path: self.runs_view.refresh())
        self.runs_view.open_requested.connect(self.open_run)
        self.runs_view.continue_requested.connect(self.continue_run)
        self.runs_view.longer_requested.connect(self.train_run_longer)
        self.runs_view.export_requested.connect(lambda path: self.open_export(path))
        self.runs_view.restore_requested.connect(self.open_run_in_restore)
        self.runs_view.refreshed.connect(self._maybe_offer_resume)
        self.resume_offer.continue_requested.connect(self.continue_run)
        self.resume_offer.show_requested.connect(self._show_offered_run)
        self.resume_offer.declined.connect(lambda path: settings.put("runs/declined", str(path)))
        self.training_view.pause_requested.connect(self.job.pause)
        self.training_view.resume_requested.connect(self.job.resume)
        self.training_view.stop_requested.connect(
            lambda: self.job.stop(kill_after_s=STOP_TIMEOUT_S * 3)
        )
        self.training_view.continue_requested.connect(self.continue_training)
        self.training_view.longer_requested.connect(self.ask_train_longer)
        self.training_view.export_requested.connect(self.open_export)
        self.training_view.restore_requested.connect(self.open_model_in_restore)
        self.job.finished.connect(self._job_finished)
        self.job.failed.connect(self._job_failed)
        self.job.state_changed.connect(self._job_state)

        geometry = settings.get("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self._default_size()
        if self.setup_view.restore_state():
            self.setup_view.banner.setVisible(not settings.get_bool("setup/demo_offered"))
        self.statusBar().showMessage("Ready")

    def _default_size(self) -> None:
        """1280×800, or 90 % of a smaller screen."""
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        width, height = 1280, 800
        if screen is not None and screen.width() >= 1024:  # not the 800×600 offscreen stub
            width, height = (
                min(width, int(screen.width() * 0.9)),
                min(height, int(screen.height() * 0.9)),
            )
        self.resize(width, height)

    def _page_changed(self, *_: object) -> None:
        """Training messages belong to Setup and Training: the Restore page starts clean."""
        if self.tabs.currentWidget() is self.restore_view:
            self.statusBar().clearMessage()
        elif self.tabs.currentWidget() is self.runs_view:
            self.runs_view.refresh()

    def theme_changed(self) -> None:
        """View → Appearance switched: widgets that paint their own colours follow."""
        self.training_view.restyle()

    def choose_images_to_restore(self) -> None:
        """File → Open images: the Restore page, and its file dialog."""
        self.tabs.setCurrentWidget(self.restore_view)
        self.restore_view.choose_images()

    def choose_model_to_restore(self) -> None:
        """File → Open model: the Restore page, and its model dialog."""
        self.tabs.setCurrentWidget(self.restore_view)
        self.restore_view.choose_model()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            QTimer.singleShot(
                150, self.setup_view.start_device_query
            )  # torch, in a child, after the first paint
            QTimer.singleShot(
                200, self.runs_view.refresh
            )  # then: offer to continue an interrupted run
            run_in_thread(
                lambda: importlib.import_module("app.widgets.loss_plot")
            )  # warm pyqtgraph

    # ------------------------------------------------------------------ training
    def new_run_dir(self, cfg: Config) -> Path:
        root = self.setup_view.runs_root()
        root.mkdir(parents=True, exist_ok=True)
        return new_run_dir(root, cfg.train.mode.value)  # the CLI's scheme: <stem>-<date-time>

    def start_training(self, cfg: Config, run_dir: Path | None = None) -> Path | None:
        """Write the config into a new run folder (its record: the worker starts the run from
        it and saves the resolved config in its place) and start the worker on it."""
        if self.job.active:
            self.setup_view.show_status("A training run is already going; stop it first.", ok=False)
            return None
        run_dir = Path(run_dir) if run_dir else self.new_run_dir(cfg)
        config_path = RunFolder(run_dir).config_path
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, config_path)
        except (OSError, UserError) as exc:
            self.setup_view.show_status(f"Cannot write {config_path}: {exc}", ok=False)
            return None
        self.run_dir = self._new_run = run_dir
        self.training_view.begin(run_dir, fresh=True)
        self.job.start(config_path, run_dir, nproc=self.setup_view.training_processes())
        self.tabs.setCurrentWidget(self.training_view)
        self.setup_view.show_status(
            f"Training in {run_dir} (from a terminal: noiseda train {config_path} "
            "--run-dir NEW_FOLDER)",
            ok=True,
        )
        return run_dir

    def continue_training(self) -> None:
        if self.run_dir is None or self.job.active:
            return
        self.training_view.begin(self.run_dir, fresh=False)
        self.job.start(None, self.run_dir, resume=True, nproc=self.setup_view.training_processes())
        self.tabs.setCurrentWidget(self.training_view)
        self.setup_view.show_status(f"Continuing {self.run_dir}", ok=True)

    def ask_train_longer(self) -> QInputDialog | None:
        """Ask how many more steps the finished run on the Training page should train; the
        answer starts it (a window-modal dialog: the caller gets it back, tests answer it)."""
        view = self.training_view
        if self.run_dir is None or self.job.active or not view.can_train_longer():
            return None
        step = view.shown_step()
        end = view.finished_event
        planned = end.planned_steps if end is not None and end.out_of_time else None
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Train longer")
        dialog.setInputMode(QInputDialog.InputMode.IntInput)
        dialog.setLabelText(
            f"The run is at step {step:,}. Train this many more steps\n"
            "(from its last checkpoint, with the same settings):"
        )
        dialog.setIntRange(1, 10_000_000)
        dialog.setIntStep(100)
        dialog.setIntValue(planned - step if planned and planned > step else max(100, step))
        dialog.intValueSelected.connect(lambda more: self.train_longer(step + more))
        dialog.open()
        return dialog

    def train_longer(self, steps: int) -> None:
        """Continue the finished run on the Training page until ``steps`` (only train.steps
        changes)."""
        if self.run_dir is None or self.job.active:
            return
        self.training_view.begin(self.run_dir, fresh=False)
        self.job.start(
            None,
            self.run_dir,
            resume=True,
            nproc=self.setup_view.training_processes(),
            overrides=[f"train.steps={int(steps)}"],
        )
        self.tabs.setCurrentWidget(self.training_view)
        self.setup_view.show_status(f"Training {self.run_dir} until step {steps:,}", ok=True)

    def train_run_longer(self, path: Path) -> QInputDialog | None:
        """Runs page: open a finished run and ask how much longer to train it."""
        return self.ask_train_longer() if self.open_run(path) else None

    # ------------------------------------------------------------------ runs
    def _run_summary(self, path: Path) -> RunSummary:
        return self.runs_view.summary(Path(path)) or summarize(Path(path))

    def open_run(self, path: Path) -> bool:
        """Show a past run's curves and previews on the Training page (not while training
        another)."""
        path = Path(path)
        if self.job.active:
            if path != self.run_dir:
                self.statusBar().showMessage(
                    "A run is training: stop it before opening another.", STATUS_MS
                )
                return False
            self.tabs.setCurrentWidget(self.training_view)
            return True
        self.run_dir = path
        self.training_view.show_run(self._run_summary(path))
        self.tabs.setCurrentWidget(self.training_view)
        return True

    def continue_run(self, path: Path) -> None:
        """Open a run and continue it from its checkpoint."""
        if self.open_run(path) and not self.job.active:
            self.continue_training()

    def _show_offered_run(self, path: Path) -> None:
        self.tabs.setCurrentWidget(self.runs_view)
        self.runs_view.select(Path(path))
        self.open_run(path)

    def _maybe_offer_resume(self) -> None:
        """Once per start: the run the app was training when it died (however the worker
        ended), else the newest interrupted run with a checkpoint, unless declined before."""
        if self._offer_checked:
            return
        self._offer_checked = True
        if self.job.active:
            return
        declined = str(settings.get("runs/declined", "") or "")
        died_in = str(settings.get("runs/active", "") or "")
        settings.put("runs/active", "")
        runs = sorted(self.runs_view.runs, key=lambda r: str(r.path) != died_in)  # that one first
        for run in runs:
            if (
                (run.state == "interrupted" or str(run.path) == died_in)
                and run.can_resume
                and str(run.path) != declined
            ):
                self.resume_offer.offer(run)
                self.resume_offered.emit(run.path)
                return

    def _job_state(self, state: str) -> None:
        self.setup_view.set_start_enabled(
            JobState(state)
            not in {JobState.STARTING, JobState.RUNNING, JobState.PAUSED, JobState.STOPPING}
        )
        active = self.job.run_dir if self.job.active else None
        if active is not None:  # cleared when the job ends here; still set after a crash or kill -9
            settings.put("runs/active", str(active))
        if active != self.runs_view.active_run:
            self.runs_view.active_run = active
            self.runs_view.refresh()
            if active is not None and self.resume_offer.run == active:
                self.resume_offer.hide()

    def _job_finished(self, event: Finished) -> None:
        settings.put("runs/active", "")
        self._new_run = None
        stopped = event.stopped
        self.statusBar().showMessage(
            "Training stopped; checkpoint kept." if stopped else "Training finished.", STATUS_MS
        )
        step = event.step
        self.setup_view.show_status(
            f"Last run {'stopped' if stopped else 'finished'} at step {step:,}: {self.run_dir}",
            ok=True,
        )
        if self._closing:
            self.close()
            return
        if not stopped and not self.open_before_after():
            self.open_model_in_restore()
        self.training_done.emit(event)

    def open_run_in_restore(self, run_dir: Path) -> None:
        """Runs → Open in Restore: the same before/after as at the end of its training (its
        starting model against its adapted one on its real image), else its model alone."""
        if not self.open_before_after(run_dir):
            self.open_model_in_restore(run_dir)

    def open_before_after(self, run_dir: Path | None = None) -> bool:
        """A warm-started run: Restore compares the starting and the adapted model on a real
        image ("before adaptation" ↔ "after adaptation"). False when there is nothing to compare."""
        run_dir = Path(run_dir) if run_dir else self.run_dir
        plan = before_after(run_dir) if run_dir else None
        if plan is None:
            return False
        self.restore_view.compare_before_after(
            plan.adapted, plan.start, plan.image, after=plan.after_caption
        )
        self.tabs.setCurrentWidget(self.restore_view)
        return True

    def _job_failed(self, failure: Failure) -> None:
        settings.put("runs/active", "")
        self._forget_unstarted_run()
        self.statusBar().showMessage(
            "Training failed: " + failure.message.splitlines()[0], STATUS_MS
        )
        self.setup_view.show_status(f"Last run failed: {self.run_dir}", ok=False)
        if self._closing:
            self.close()
            return
        self.tabs.setCurrentWidget(self.training_view)
        self.training_failed.emit(failure)

    def _forget_unstarted_run(self) -> None:
        """A fresh start the worker refused before writing anything: its folder holds only
        the config this window wrote there, which goes with the folder (nothing stray)."""
        folder, self._new_run = (RunFolder(self._new_run) if self._new_run else None), None
        if folder is None or self.job.run_dir != folder.root or self.job.last_progress:
            return
        try:
            if [p.name for p in folder.root.iterdir()] == [folder.CONFIG]:
                folder.config_path.unlink()
                folder.root.rmdir()
        except OSError:  # gone or changed meanwhile: leave what is there
            pass

    def open_model_in_restore(self, run_dir: Path | None = None) -> None:
        run_dir = Path(run_dir) if run_dir else self.run_dir
        model = RunFolder(run_dir).model_path if run_dir else None
        if model is None or not model.is_file():
            return
        self.restore_view.open_model(model)
        self.tabs.setCurrentWidget(self.restore_view)

    def open_export(self, run_dir: Path | None = None) -> QWidget | None:
        run_dir = Path(run_dir) if run_dir else self.run_dir
        if run_dir is None:
            QMessageBox.information(
                self, "Export", "Train a model first: export needs a run folder."
            )
            return None
        dialog = ExportDialog(self, run_dir)
        dialog.open()
        return dialog

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            APP_NAME,
            f"<b>{APP_NAME}</b><br>Adapt a restoration network from synthetic "
            "pairs to your own real images (Noise-DA, ICLR 2025).",
        )

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.job.active:
            if not self._closing:
                if self.confirm_close:
                    answer = QMessageBox.question(
                        self,
                        "Training is running",
                        "Stop the training (a checkpoint is kept) and quit?",
                        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                    )
                    if answer != QMessageBox.StandardButton.Yes:
                        event.ignore()
                        return
                self._closing = True
                self.statusBar().showMessage("Stopping the training worker…")
                self.job.stop(kill_after_s=STOP_TIMEOUT_S)
            event.ignore()  # closes again when the worker has exited
            return
        self.setup_view.stop_device_query()
        settings.put("window/geometry", self.saveGeometry())
        self.setup_view.save_state()
        self.restore_view.shutdown(5000)
        super().closeEvent(event)
