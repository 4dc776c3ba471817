"""The list of images opened in the restore view: files, or pasted/dropped pixels.

Each row is a ``Source``; a file already listed is not added twice (it is
selected instead). Changing the selection emits ``source_changed``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QListWidget, QWidget

from app.restore_jobs import Source


class ImageList(QListWidget):
    """Signals: source_changed(Source) when another row is selected."""

    source_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sources: list[Source] = []
        self.setMinimumWidth(110)
        self.currentRowChanged.connect(self._row_changed)

    def add(self, sources: list[Source]) -> None:
        """Append the new ones and select the first of ``sources`` (new or already listed)."""
        known = {s.path.resolve(): i for i, s in enumerate(self._sources) if s.path is not None}
        new = [s for s in sources if s.path is None or s.path.resolve() not in known]
        if not new:
            self.setCurrentRow(known[sources[0].path.resolve()])
            return
        first = len(self._sources)
        self._sources.extend(new)
        for source in new:
            self.addItem(source.name)
            self.item(self.count() - 1).setToolTip(str(source.path or source.name))
        self.setCurrentRow(first)

    def sources(self) -> list[Source]:
        return list(self._sources)

    def file_paths(self) -> list[Path]:
        return [s.path for s in self._sources if s.path is not None]

    def current_source(self) -> Source | None:
        row = self.currentRow()
        return self._sources[row] if 0 <= row < len(self._sources) else None

    def _row_changed(self, _row: int) -> None:
        source = self.current_source()
        if source is not None:
            self.source_changed.emit(source)
