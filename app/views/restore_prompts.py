"""File dialogs of the restore view; each returns what was picked (empty when cancelled)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.webp);;All files (*)"


def ask_images(parent: QWidget) -> list[Path]:
    paths, _ = QFileDialog.getOpenFileNames(parent, "Open images", "", IMAGE_FILTER)
    return [Path(p) for p in paths]


def ask_folder(parent: QWidget) -> list[Path]:
    path = QFileDialog.getExistingDirectory(parent, "Open a folder of images")
    return [Path(path)] if path else []


def ask_save_path(parent: QWidget, source_path: Path | None, name: str) -> Path | None:
    """Where to save a restored image; suggests NAME_restored.png next to the input."""
    folder = source_path.parent if source_path is not None else Path.home()
    default = folder / f"{Path(name).stem}_restored.png"
    path, _ = QFileDialog.getSaveFileName(
        parent, "Save the restored image", str(default), IMAGE_FILTER
    )
    return Path(path) if path else None


def ask_output_folder(parent: QWidget) -> Path | None:
    path = QFileDialog.getExistingDirectory(
        parent, "Choose an output folder (not the input folder)"
    )
    return Path(path) if path else None
