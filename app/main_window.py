"""The main window: Setup → Training → Restore, a menu, and the training job's life.

It composes the views and routes between them; it owns no training or image maths.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget, QWidget

from noiseda_core.config import Config, save_config

from . import APP_NAME, settings
from .jobs import Failure, JobState, TrainingJob
from .tasks import run_in_thread
from .theme import icon
from .views.setup_view import SetupView
from .views.training_view import TrainingView

STOP_TIMEOUT_S = 20.0


def _make_restore_view(parent: QWidget) -> QWidget:
    """GUI-B's restore view, or a placeholder when it cannot be imported."""
    try:
        from .views.restore_view import RestoreView
    except ImportError as exc:  # the app still trains without it
        label = QLabel(f"The restore view is not available ({exc}).", parent)
        label.setWordWrap(True)
        return label
    return RestoreView(parent)


class MainWindow(QMainWindow):
    """``worker``/``extra_env`` replace the training child (tests use a fake)."""

    training_done = Signal(object)  # Finished
    training_failed = Signal(object)  # Failure

    def __init__(self, *, worker: list[str] | None = None, extra_env: dict[str, str] | None = None,
                 confirm_close: bool = True) -> None:
        super().__init__()
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(icon("app"))
        self.confirm_close = confirm_close
        self.run_dir: Path | None = None
        self._closing = False
        self._shown_once = False
        self.job = TrainingJob(self, worker=worker, extra_env=extra_env)
        self.setup_view = SetupView(self)
        self.training_view = TrainingView(self)
        self.restore_view = _make_restore_view(self)
        self.training_view.attach(self.job)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.setup_view, icon("setup"), "Setup")
        self.tabs.addTab(self.training_view, icon("training"), "Training")
        self.tabs.addTab(self.restore_view, icon("restore"), "Restore")
        self.setCentralWidget(self.tabs)
        self._build_menu()

        self.setup_view.start_requested.connect(self.start_training)
        self.setup_view.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.training_view.pause_requested.connect(self.job.pause)
        self.training_view.resume_requested.connect(self.job.resume)
        self.training_view.stop_requested.connect(lambda: self.job.stop(kill_after_s=STOP_TIMEOUT_S * 3))
        self.training_view.continue_requested.connect(self.continue_training)
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
            width, height = min(width, int(screen.width() * 0.9)), min(height, int(screen.height() * 0.9))
        self.resize(width, height)

    def _build_menu(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        demo = QAction(icon("demo"), "Try with &demo data", self)
        demo.triggered.connect(lambda: self.setup_view.load_demo())
        self.load_action = load = QAction(icon("open"), "&Load configuration…", self)
        load.triggered.connect(self.setup_view._load_dialog)
        self.open_images_action = QAction(icon("open"), "&Open images to restore…", self)
        self.open_images_action.triggered.connect(lambda: self._in_restore("open_button"))
        self.open_model_action = QAction(icon("restore"), "Open &model…", self)
        self.open_model_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.open_model_action.triggered.connect(lambda: self._in_restore("slot_a"))
        save = QAction(icon("save"), "&Save configuration…", self)
        save.setShortcut(QKeySequence.StandardKey.Save)
        save.triggered.connect(self.setup_view._save_dialog)
        self.export_action = QAction(icon("export"), "&Export…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.triggered.connect(self.open_export)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        for action in (demo, load, save, self.open_images_action, self.open_model_action, self.export_action):
            file_menu.addAction(action)
        self.tabs.currentChanged.connect(self._route_open_shortcut)
        self._route_open_shortcut()
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _route_open_shortcut(self, *_: object) -> None:
        """Ctrl+O opens images on the Restore page and loads a configuration elsewhere."""
        in_restore = self.tabs.currentWidget() is self.restore_view
        open_key = QKeySequence(QKeySequence.StandardKey.Open)
        self.load_action.setShortcut(QKeySequence() if in_restore else open_key)
        self.open_images_action.setShortcut(open_key if in_restore else QKeySequence())

    def _in_restore(self, control: str) -> None:
        """Show the Restore page and press its open-images button or model slot's button."""
        widget = getattr(self.restore_view, control, None)
        if widget is None:
            return
        self.tabs.setCurrentWidget(self.restore_view)
        getattr(widget, "button", widget).click()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            QTimer.singleShot(150, self.setup_view.start_device_query)  # torch, in a child, after the first paint
            run_in_thread(lambda: importlib.import_module("app.widgets.loss_plot"))  # warm pyqtgraph

    # ------------------------------------------------------------------ training
    def new_run_dir(self, cfg: Config) -> Path:
        root = self.setup_view.runs_root()
        root.mkdir(parents=True, exist_ok=True)
        base = f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.train.mode.value}"
        path, n = root / base, 2
        while path.exists() or path.with_suffix(".toml").exists():
            path, n = root / f"{base}-{n}", n + 1
        return path

    def start_training(self, cfg: Config, run_dir: Path | None = None) -> Path | None:
        """Write the config next to a new run folder and start the worker on it."""
        if self.job.active:
            self.setup_view.show_status("A training run is already going; stop it first.", ok=False)
            return None
        run_dir = Path(run_dir) if run_dir else self.new_run_dir(cfg)
        config_path = run_dir.with_suffix(".toml")  # re-run from a terminal: noiseda train THIS
        try:
            run_dir.parent.mkdir(parents=True, exist_ok=True)
            save_config(cfg, config_path)
        except OSError as exc:
            self.setup_view.show_status(f"Cannot write {config_path}: {exc}", ok=False)
            return None
        nproc = self.setup_view.gpu_count() if self.setup_view.options.all_gpus.isChecked() else 1
        self.run_dir = run_dir
        self.training_view.begin(run_dir, fresh=True)
        self.job.start(config_path, run_dir, nproc=max(1, nproc))
        self.tabs.setCurrentWidget(self.training_view)
        self.setup_view.show_status(f"Training in {run_dir}", ok=True)
        return run_dir

    def continue_training(self) -> None:
        if self.run_dir is None or self.job.active:
            return
        nproc = self.setup_view.gpu_count() if self.setup_view.options.all_gpus.isChecked() else 1
        self.training_view.begin(self.run_dir, fresh=False)
        self.job.start(None, self.run_dir, resume=True, nproc=max(1, nproc))

    def _job_state(self, state: str) -> None:
        self.setup_view.start_button.setEnabled(JobState(state) not in
                                                {JobState.STARTING, JobState.RUNNING, JobState.PAUSED,
                                                 JobState.STOPPING})

    def _job_finished(self, event: object) -> None:
        stopped = bool(getattr(event, "stopped", False))
        self.statusBar().showMessage("Training stopped; checkpoint kept." if stopped else "Training finished.")
        if self._closing:
            self.close()
            return
        if not stopped:
            self.open_model_in_restore()
        self.training_done.emit(event)

    def _job_failed(self, failure: Failure) -> None:
        self.statusBar().showMessage("Training failed: " + failure.message.splitlines()[0])
        if self._closing:
            self.close()
            return
        self.tabs.setCurrentWidget(self.training_view)
        self.training_failed.emit(failure)

    def open_model_in_restore(self) -> None:
        model = self.run_dir / "model.safetensors" if self.run_dir else None
        if model is None or not model.is_file() or not hasattr(self.restore_view, "open_model"):
            return
        self.restore_view.open_model(model)
        self.tabs.setCurrentWidget(self.restore_view)

    def open_export(self) -> QWidget | None:
        if self.run_dir is None:
            QMessageBox.information(self, "Export", "Train a model first: export needs a run folder.")
            return None
        try:
            from .export_dialog import ExportDialog
        except ImportError as exc:
            QMessageBox.warning(self, "Export", f"Export is not available ({exc}).")
            return None
        dialog = ExportDialog(self, self.run_dir)
        dialog.open()
        return dialog

    def _about(self) -> None:
        QMessageBox.about(self, APP_NAME, f"<b>{APP_NAME}</b><br>Adapt a restoration network from synthetic "
                          "pairs to your own real images (Noise-DA, ICLR 2025).")

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.job.active:
            if not self._closing:
                if self.confirm_close:
                    answer = QMessageBox.question(
                        self, "Training is running",
                        "Stop the training (a checkpoint is kept) and quit?",
                        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
                    if answer != QMessageBox.StandardButton.Yes:
                        event.ignore()
                        return
                self._closing = True
                self.statusBar().showMessage("Stopping the training worker…")
                self.job.stop(kill_after_s=STOP_TIMEOUT_S)
            event.ignore()  # closes again when the worker has exited
            return
        self.setup_view.device_label.stop_query()
        settings.put("window/geometry", self.saveGeometry())
        self.setup_view.save_state()
        shutdown = getattr(self.restore_view, "shutdown", None)
        if shutdown is not None:
            shutdown(5000)
        super().closeEvent(event)
