"""One model slot of the restore view: a button, a one-line summary, and loading off-thread.

``ModelSlot.open(path)`` loads with ``noiseda_core.export.load_restorer`` on a
worker; a wrong or damaged file leaves the previous model in place and reports
one message through ``failed``. *Built-in ▾* offers the restorers shipped with the
app (``builtin:NAME``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton, QWidget

from app import restore_jobs as jobs
from app.file_dialogs import Purpose, open_file
from app.restore_jobs import LoadedModel
from app.tasks import Task

MODEL_FILTER = "Restorer models (*.safetensors *.pth *.ckpt);;All files (*)"


class ModelSlot(QWidget):
    """Signals: loaded(LoadedModel), failed(str), cleared()."""

    loaded = Signal(object)
    failed = Signal(str)
    cleared = Signal()

    def __init__(
        self,
        title: str,
        button_text: str,
        empty_text: str,
        pool: QThreadPool,
        *,
        removable: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._pool = pool
        self._empty_text = empty_text
        self._model: LoadedModel | None = None
        self._tasks: set[Task] = set()
        self.title = QLabel(title)
        self.title.setMinimumWidth(60)
        self.button = QPushButton(button_text)
        self.button.clicked.connect(self.choose)
        self.builtin_button = QToolButton()
        self.builtin_button.setText("Built-in")
        self.builtin_button.setToolTip("A restorer shipped with the app (builtin:NAME)")
        self.builtin_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.builtin_actions = self._builtin_menu()
        self.builtin_button.setVisible(bool(self.builtin_actions))
        self.info = QLabel(empty_text)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setMinimumWidth(40)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Forget this model")
        self.remove_button.clicked.connect(self.clear)
        self.remove_button.hide()
        self._removable = removable
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.button)
        layout.addWidget(self.builtin_button)
        layout.addWidget(self.info, 1)
        layout.addWidget(self.remove_button)

    def _builtin_menu(self) -> dict:
        """One menu entry per shipped restorer; ``{name: QAction}``."""
        from noiseda_core.builtin import PREFIX, RECOMMENDED, builtin_restorers

        menu = QMenu(self.builtin_button)
        actions = {}
        for name in builtin_restorers():
            label = f"{PREFIX}{name}" + ("  (the recommended start)" if name == RECOMMENDED else "")
            action = menu.addAction(label)
            action.triggered.connect(lambda _=False, spec=f"{PREFIX}{name}": self.open(spec))
            actions[name] = action
        self.builtin_button.setMenu(menu)
        return actions

    def model(self) -> LoadedModel | None:
        return self._model

    def is_loading(self) -> bool:
        return bool(self._tasks)

    def open(self, path: Path | str, caption: str = "") -> None:
        """Load ``path`` (a model file or ``builtin:NAME``) off the GUI thread; emits loaded
        or failed. ``caption`` names it in the compare view instead of its file name."""
        self.info.setText(f"Loading {Path(path).name}…")
        task = Task(jobs.load_model, path)
        self._tasks.add(task)
        if caption:
            task.signals.done.connect(lambda m: setattr(m, "caption", caption))
        task.signals.done.connect(lambda m: self._done(task, m))
        task.signals.failed.connect(lambda msg: self._failed(task, msg))
        self._pool.start(task)

    def clear(self) -> None:
        self._model = None
        self._show()
        self.cleared.emit()

    def _done(self, task: Task, model: LoadedModel) -> None:
        self._tasks.discard(task)
        self._model = model
        self._show()
        self.loaded.emit(model)

    def _failed(self, task: Task, message: str) -> None:
        self._tasks.discard(task)
        self._show()
        if self._model is not None:
            message += f"\n(Still using {self._model.path.name}.)"
        self.failed.emit(message)

    def _show(self) -> None:
        model = self._model
        self.info.setText(model.summary() if model else self._empty_text)
        self.info.setToolTip(f"{model.path}\nrunning on {model.device}" if model else "")
        self.remove_button.setVisible(self._removable and model is not None)

    def choose(self) -> None:
        """Ask for a model file and open it."""
        path = open_file(self, Purpose.MODELS, "Open a restorer model", MODEL_FILTER)
        if path is not None:
            self.open(path)
