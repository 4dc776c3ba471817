"""File dialogs of the restore view; each returns what was picked (empty when cancelled).

Images, outputs and models each reopen in the folder last used for them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QWidget

from app.file_dialogs import Purpose, open_files, open_folder, save_file, start_dir

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.bmp *.webp);;All files (*)"


def ask_images(parent: QWidget) -> list[Path]:
    return open_files(parent, Purpose.IMAGES, "Open images", IMAGE_FILTER)


def ask_folder(parent: QWidget) -> list[Path]:
    path = open_folder(parent, Purpose.IMAGES, "Open a folder of images")
    return [path] if path else []


def ask_save_path(parent: QWidget, name: str) -> Path | None:
    """Where to save a restored image; suggests NAME_restored.png in the last output folder,
    else in Pictures (never beside the input: that is often the training data)."""
    return save_file(
        parent,
        Purpose.OUTPUT,
        "Save the restored image",
        f"{Path(name).stem}_restored.png",
        IMAGE_FILTER,
        start_dir(Purpose.OUTPUT),
    )


def ask_output_folder(parent: QWidget) -> Path | None:
    return open_folder(parent, Purpose.OUTPUT, "Choose an output folder (not the input folder)")
