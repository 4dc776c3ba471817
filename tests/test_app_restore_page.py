"""The Restore page as a user meets it in the window: Space flips wherever the page has
the focus, images arrive by a real drop and by Ctrl+V, and built-in models fill a slot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_helpers import isolate_settings
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

WAIT = 20_000


@pytest.fixture
def window(qtbot, tmp_path):
    isolate_settings(tmp_path)
    from app.main_window import MainWindow

    w = MainWindow(confirm_close=False)
    qtbot.addWidget(w)
    w.show()
    w.tabs.setCurrentWidget(w.restore_view)
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w, timeout=5000)
    yield w
    w.restore_view.shutdown()


def png(path: Path, value: int, size: int = 12) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)
    return path


def show_pair(view) -> None:
    from app.restore_jobs import array_to_qimage

    before, after = np.full((8, 8, 3), 40, np.uint8), np.full((8, 8, 3), 200, np.uint8)
    view.compare.set_images(
        array_to_qimage(before),
        array_to_qimage(after),
        before_label="Input",
        after_label="Restored",
    )


def test_space_flips_wherever_the_restore_page_has_focus(window, qtbot, monkeypatch) -> None:
    from app.views import restore_prompts

    view = window.restore_view
    asked = []
    monkeypatch.setattr(restore_prompts, "ask_images", lambda parent: asked.append(1) or [])
    show_pair(view)
    for widget in (view.open_button, view.paste_button, view.slot_a.button):
        widget.setFocus()
        qtbot.waitUntil(lambda w=widget: QApplication.focusWidget() is w, timeout=2000)
        qtbot.keyPress(widget, Qt.Key.Key_Space)
        assert view.compare.is_flipped(), f"Space with the focus on {widget.text()}"
        qtbot.keyRelease(widget, Qt.Key.Key_Space)
        assert not view.compare.is_flipped()
    assert asked == [], "Space flipped the images instead of pressing the focused button"
    assert view.banner.text() == "", "nor did it paste"


def test_a_real_drop_of_file_urls_onto_the_restore_page_lists_the_files(
    window, qtbot, tmp_path
) -> None:
    view = window.restore_view
    files = [png(tmp_path / "a.png", 30), png(tmp_path / "b.png", 90)]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in files])
    target = view.compare  # the big empty area that says "drop images here"
    pos = QPointF(target.width() / 2, target.height() / 2)
    for kind in (QDropEvent.Type.DragEnter, QDropEvent.Type.DragMove):
        from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent

        cls = QDragEnterEvent if kind == QDropEvent.Type.DragEnter else QDragMoveEvent
        enter = cls(
            pos.toPoint(),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(target, enter)
        assert enter.isAccepted(), "the page takes image files"
    drop = QDropEvent(
        pos,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(target, drop)
    assert drop.isAccepted()
    qtbot.waitUntil(lambda: view.image_list.file_paths() == files, timeout=WAIT)
    qtbot.waitUntil(lambda: view.compare.images()[0] is not None, timeout=WAIT)
    assert view.compare.images()[0].pixelColor(0, 0).red() == 30


def test_ctrl_v_on_the_restore_page_pastes_a_clipboard_image(window, qtbot) -> None:
    from app.restore_jobs import array_to_qimage, qimage_to_array

    view = window.restore_view
    pixels = np.zeros((10, 14, 3), np.uint8)
    pixels[:, :7] = (250, 10, 10)
    QGuiApplication.clipboard().setImage(array_to_qimage(pixels))
    view.compare.setFocus()
    qtbot.keyClick(view.compare, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: view.compare.images()[0] is not None, timeout=WAIT)
    assert np.array_equal(qimage_to_array(view.compare.images()[0]), pixels)
    assert view.current_source().name == "pasted image"


def test_the_second_model_slot_offers_the_built_in_restorers(window, qtbot, tmp_path) -> None:
    from noiseda_core.export import export_restorer
    from noiseda_core.nets import build_restorer

    view = window.restore_view
    model = tmp_path / "mine.safetensors"
    export_restorer(build_restorer("unet-tiny"), model)
    with qtbot.waitSignal(view.model_loaded, timeout=WAIT):
        view.open_model(model)
    assert "unet-t" in view.slot_b.builtin_actions
    assert view.slot_b.builtin_button.isVisible() and view.slot_b.isEnabled()
    with qtbot.waitSignal(view.slot_b.loaded, timeout=WAIT):
        view.slot_b.builtin_actions["unet-t"].trigger()
    second = view.second_model()
    assert second.arch == "unet-t" and second.name == "builtin:unet-t"
    assert "builtin:unet-t" in view.slot_b.info.text()


def test_save_result_proposes_pictures_then_the_last_output_folder_never_the_inputs(
    window, tmp_path, monkeypatch
) -> None:
    from PySide6.QtWidgets import QFileDialog

    from app.restore_jobs import Restored, Source

    home = tmp_path / "home"
    (home / "Pictures").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    real = png(tmp_path / "project" / "real" / "IMG_1.png", 80)  # the training data
    pixels = np.full((12, 12, 3), 80, np.uint8)
    view = window.restore_view
    view._result = Restored(Source(real.name, path=real), pixels, [pixels + 5], 0.01, False, ["m"])
    proposed: list[Path] = []
    answers = iter([tmp_path / "out" / "first.png", tmp_path / "out" / "second.png"])

    def fake_save(parent, caption, start, filt):
        proposed.append(Path(start))
        return str(next(answers)), filt

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_save))
    (tmp_path / "out").mkdir()
    view.choose_save()
    view.choose_save()
    assert proposed == [
        home / "Pictures" / "IMG_1_restored.png",
        tmp_path / "out" / "IMG_1_restored.png",
    ]
    assert (tmp_path / "out" / "first.png").is_file()
