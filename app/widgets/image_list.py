"""The list of images opened in the restore view: files, or pasted/dropped pixels.

Each row is a ``Source`` with a thumbnail made off the GUI thread; a file that cannot
be read is marked (warning icon, the reason in its tooltip) instead of looking fine.
A file already listed is not added twice (it is selected instead). Changing the
selection emits ``source_changed``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, QThreadPool, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from app.restore_jobs import Source, array_to_qimage
from app.tasks import Task
from app.theme import icon

THUMB = 48


def make_thumbnail(source: Source, side: int = THUMB) -> np.ndarray:
    """A small (h, w, 3) uint8 copy of the image (worker thread; ImageReadError if unreadable)."""
    from PIL import Image

    if source.pixels is not None:
        pixels = source.pixels
    else:
        from noiseda_core.imageio import read_image_array

        assert source.path is not None
        pixels = read_image_array(source.path)
        if pixels.dtype != np.uint8:
            pixels = (
                (pixels.astype(np.float32) / (65535.0 if pixels.dtype == np.uint16 else 1.0) * 255)
                .clip(0, 255)
                .astype(np.uint8)
            )
        if pixels.ndim == 2:
            pixels = np.repeat(pixels[..., None], 3, axis=2)
        pixels = pixels[..., :3]
    image = Image.fromarray(np.ascontiguousarray(pixels))
    image.thumbnail((side, side))
    return np.asarray(image.convert("RGB"))


class ImageList(QListWidget):
    """Signals: source_changed(Source) when another row is selected."""

    source_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sources: list[Source] = []
        self.unreadable: dict[int, str] = {}  # row → why
        self._tasks: set[Task] = set()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setMinimumWidth(110)
        self.currentRowChanged.connect(self._row_changed)

    def add(self, sources: list[Source]) -> None:
        """Append the new ones and select the first of ``sources`` (new or already listed)."""
        known = {s.path.resolve(): i for i, s in enumerate(self._sources) if s.path is not None}
        new = [s for s in sources if s.path is None or s.path.resolve() not in known]
        if not new:  # so every one has a path, already listed
            listed = sources[0].path
            assert listed is not None
            self.setCurrentRow(known[listed.resolve()])
            return
        first = len(self._sources)
        self._sources.extend(new)
        for source in new:
            item = QListWidgetItem(source.name)
            item.setToolTip(str(source.path or source.name))
            self.addItem(item)
            self._thumbnail(self.count() - 1, source)
        self.setCurrentRow(first)

    def _thumbnail(self, row: int, source: Source) -> None:
        task = Task(make_thumbnail, source)
        self._tasks.add(task)
        task.signals.done.connect(lambda pixels: self._thumb_done(task, row, source, pixels))
        task.signals.failed.connect(lambda message: self._thumb_failed(task, row, source, message))
        self._pool.start(task)

    def _item_for(self, row: int, source: Source) -> QListWidgetItem | None:
        if 0 <= row < len(self._sources) and self._sources[row] is source:
            return self.item(row)
        return None

    def _thumb_done(self, task: Task, row: int, source: Source, pixels: np.ndarray) -> None:
        self._tasks.discard(task)
        item = self._item_for(row, source)
        if item is not None:
            item.setIcon(QIcon(QPixmap.fromImage(array_to_qimage(pixels))))

    def _thumb_failed(self, task: Task, row: int, source: Source, message: str) -> None:
        self._tasks.discard(task)
        self.mark_unreadable(source, message)

    def mark_unreadable(self, source: Source, message: str) -> None:
        """Show that ``source`` cannot be read: warning icon, dimmed name, the reason as tooltip."""
        row = next((i for i, s in enumerate(self._sources) if s is source), -1)
        item = self.item(row) if row >= 0 else None
        if item is None:
            return
        self.unreadable[row] = message
        item.setIcon(icon("warning"))
        item.setText(f"{source.name} (unreadable)")
        item.setToolTip(message)
        item.setForeground(QBrush(QColor("#b91c1c")))
        font = item.font()
        font.setItalic(True)
        item.setFont(font)

    def step(self, delta: int) -> None:
        """Select the next (+1) or previous (-1) row, wrapping around."""
        if self.count():
            self.setCurrentRow((self.currentRow() + delta) % self.count())

    def is_busy(self) -> bool:
        return bool(self._tasks)

    def wait(self, timeout_ms: int) -> bool:
        return self._pool.waitForDone(timeout_ms)

    def sources(self) -> list[Source]:
        return list(self._sources)

    def file_paths(self) -> list[Path]:
        """Listed files that can be read (the unreadable ones are left out of batches)."""
        return [
            s.path
            for i, s in enumerate(self._sources)
            if s.path is not None and i not in self.unreadable
        ]

    def current_source(self) -> Source | None:
        row = self.currentRow()
        return self._sources[row] if 0 <= row < len(self._sources) else None

    def _row_changed(self, _row: int) -> None:
        source = self.current_source()
        if source is not None:
            self.source_changed.emit(source)
