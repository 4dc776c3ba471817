"""A path field: line edit + browse button + drop target, remembering the last folder."""

from __future__ import annotations

import enum
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QToolButton, QWidget

from .. import settings
from ..theme import icon


class PickKind(str, enum.Enum):
    FOLDER = "folder"
    OPEN_FILE = "open-file"
    SAVE_FILE = "save-file"


class PathPicker(QWidget):
    """Emits ``path_changed(str)`` when the user types, browses or drops a path."""

    path_changed = Signal(str)

    def __init__(
        self,
        placeholder: str = "",
        *,
        kind: PickKind = PickKind.FOLDER,
        file_filter: str = "",
        settings_key: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.kind = kind
        self.file_filter = file_filter
        self.settings_key = settings_key or "last_folder/any"
        self._last = ""
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText(placeholder or "drop a folder here or browse…")
        self.edit.setClearButtonEnabled(True)
        self.edit.editingFinished.connect(self._commit)
        self.edit.textChanged.connect(self._maybe_cleared)
        self.button = QToolButton(self)
        self.button.setIcon(icon("folder"))
        self.button.setText("Browse…")
        self.button.setToolTip("Browse…")
        self.button.clicked.connect(self.browse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.button)
        self.setAcceptDrops(True)

    # ------------------------------------------------------------------ api
    def path(self) -> str:
        return self.edit.text().strip()

    def set_path(self, path: str | Path, *, emit: bool = True) -> None:
        text = str(path) if str(path) else ""
        self.edit.setText(text)
        if emit:
            self._commit()
        else:
            self._last = text

    def browse(self) -> None:
        start = self.path() or str(settings.get(self.settings_key, "") or Path.home())
        if self.kind == PickKind.FOLDER:
            chosen = QFileDialog.getExistingDirectory(self, "Choose a folder", start)
        elif self.kind == PickKind.OPEN_FILE:
            chosen, _ = QFileDialog.getOpenFileName(self, "Open", start, self.file_filter)
        else:
            chosen, _ = QFileDialog.getSaveFileName(self, "Save as", start, self.file_filter)
        if chosen:
            self.set_path(chosen)

    # ------------------------------------------------------------------ internals
    def _commit(self) -> None:
        text = self.path()
        if text == self._last:
            return
        self._last = text
        if text:
            folder = text if self.kind == PickKind.FOLDER else str(Path(text).parent)
            settings.put(self.settings_key, folder)
        self.path_changed.emit(text)

    def _maybe_cleared(self, text: str) -> None:
        if not text:  # the clear button: no editingFinished comes
            self._commit()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.set_path(url.toLocalFile())
                event.acceptProposedAction()
                return
