"""File dialogs that remember the last folder for each purpose.

    path = open_file(parent, Purpose.MODELS, "Open a restorer model", MODEL_FILTER)

Each purpose (models, images, output, configs) keeps its own last folder in the
settings; models start in the runs folder and outputs in the user's Pictures folder
until one was picked.
"""

from __future__ import annotations

import enum
from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

from . import settings


class Purpose(str, enum.Enum):
    MODELS = "models"
    IMAGES = "images"
    OUTPUT = "output"
    CONFIGS = "config"  # the key older versions used for configurations


def pictures_dir() -> Path:
    """The user's Pictures folder (the home folder when there is none)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(location) if location and Path(location).is_dir() else Path.home()


def start_dir(purpose: Purpose) -> Path:
    """The folder a dialog for ``purpose`` opens in."""
    last = str(settings.get(f"last_folder/{purpose.value}", "") or "")
    if last and Path(last).is_dir():
        return Path(last)
    if purpose is Purpose.MODELS:
        runs = settings.runs_dir()
        if runs.is_dir():
            return runs
    if purpose is Purpose.OUTPUT:
        return pictures_dir()
    return Path.home()


def remember(purpose: Purpose, path: str | Path) -> None:
    """Keep the folder of ``path`` (or ``path`` itself when it is a folder) for next time."""
    path = Path(path)
    settings.put(f"last_folder/{purpose.value}", str(path if path.is_dir() else path.parent))


def open_file(
    parent: QWidget | None, purpose: Purpose, caption: str, file_filter: str
) -> Path | None:
    path, _ = QFileDialog.getOpenFileName(parent, caption, str(start_dir(purpose)), file_filter)
    if not path:
        return None
    remember(purpose, path)
    return Path(path)


def open_files(
    parent: QWidget | None, purpose: Purpose, caption: str, file_filter: str
) -> list[Path]:
    paths, _ = QFileDialog.getOpenFileNames(parent, caption, str(start_dir(purpose)), file_filter)
    if paths:
        remember(purpose, paths[0])
    return [Path(p) for p in paths]


def open_folder(parent: QWidget | None, purpose: Purpose, caption: str) -> Path | None:
    path = QFileDialog.getExistingDirectory(parent, caption, str(start_dir(purpose)))
    if not path:
        return None
    remember(purpose, Path(path))
    return Path(path)


def save_file(
    parent: QWidget | None,
    purpose: Purpose,
    caption: str,
    name: str,
    file_filter: str,
    folder: Path | None = None,
) -> Path | None:
    """Save dialog suggesting ``name`` in ``folder`` (default: the purpose's last folder)."""
    start = (folder if folder is not None else start_dir(purpose)) / name
    path, _ = QFileDialog.getSaveFileName(parent, caption, str(start), file_filter)
    if not path:
        return None
    remember(purpose, Path(path).parent)
    return Path(path)
