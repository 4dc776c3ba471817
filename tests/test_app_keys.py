"""Keys and help in the Restore page, file dialogs that remember, and the light/dark choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_helpers import isolate_settings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog


@pytest.fixture
def window(qtbot, tmp_path):
    isolate_settings(tmp_path)
    from app.main_window import MainWindow

    w = MainWindow(confirm_close=False)
    qtbot.addWidget(w)
    w.show()
    return w


def fake_result(name: str = "photo.png"):
    from app.restore_jobs import Restored, Source

    pixels = np.full((16, 16, 3), 90, np.uint8)
    return Restored(Source(name, pixels=pixels), pixels, [pixels + 10], 0.01, False, ["m"])


def action_for(window, keys: str) -> list[QAction]:
    seq = QKeySequence(keys)
    return [a for a in window.findChildren(QAction) if a.isEnabled() and seq in a.shortcuts()]


def test_ctrl_s_in_restore_saves_the_result(window, tmp_path, monkeypatch):
    asked: list[str] = []

    def fake_save(parent, caption, start, filt):
        asked.append(caption)
        return str(tmp_path / "out.png"), filt

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake_save))
    view = window.restore_view
    view._result = fake_result()
    window.tabs.setCurrentWidget(view)
    actions = action_for(window, "Ctrl+S")
    assert len(actions) == 1
    actions[0].trigger()
    assert asked == ["Save the restored image"] and (tmp_path / "out.png").is_file()
    window.tabs.setCurrentWidget(window.setup_view)
    [config_save] = action_for(window, "Ctrl+S")
    assert "configuration" in config_save.text().lower()


def test_compare_and_image_keys(window, qtbot):
    from app.restore_jobs import Source

    view = window.restore_view
    window.tabs.setCurrentWidget(view)
    pixels = np.full((16, 16, 3), 90, np.uint8)
    view.image_list.add(
        [Source("a", pixels=pixels), Source("b", pixels=pixels), Source("c", pixels=pixels)]
    )
    view.image_list.setCurrentRow(0)
    for keys, check in (
        ("W", lambda: view.compare.swipe_mode()),
        ("S", lambda: not view.compare.swipe_mode()),
        ("N", lambda: view.image_list.currentRow() == 1),
        ("PgDown", lambda: view.image_list.currentRow() == 2),
        ("P", lambda: view.image_list.currentRow() == 1),
    ):
        [action] = action_for(window, keys)
        action.trigger()
        assert check(), keys
    view.compare.set_images(view.compare.images()[0] or _qimage(), _qimage())
    [one] = action_for(window, "1")
    one.trigger()
    assert view.compare.zoom() == pytest.approx(1.0)
    [fit] = action_for(window, "F")
    fit.trigger()
    assert view.compare.left_view.is_fit()
    window.tabs.setCurrentWidget(window.setup_view)
    assert action_for(window, "W") == []  # letters type into fields on other pages


def _qimage():
    from app.restore_jobs import array_to_qimage

    return array_to_qimage(np.full((64, 64, 3), 120, np.uint8))


def test_help_lists_the_real_shortcuts_and_a_guide(window):
    rows = window.menus.shortcut_rows()
    keys = " ".join(k for k, _ in rows)
    for key in ("Ctrl+S", "Ctrl+O", "W", "S", "F", "1", "N", "P", "Space"):
        assert key in keys.split() or key in keys, key
    dialog = window.menus.shortcuts_action.trigger() or window.findChild(QAction)  # opens a dialog
    from PySide6.QtWidgets import QDialog

    dialogs = [d for d in window.findChildren(QDialog) if d.isVisible()]
    assert any(d.windowTitle() == "Keyboard shortcuts" for d in dialogs), dialog
    window.menus.guide_action.trigger()
    assert any(
        d.windowTitle() == "Quick guide" for d in window.findChildren(QDialog) if d.isVisible()
    )


def test_file_dialogs_remember_the_folder_per_purpose(window, tmp_path, monkeypatch):
    from app import settings

    runs = tmp_path / "runs"
    runs.mkdir()
    settings.put("setup/runs", str(runs))
    models, images = tmp_path / "models", tmp_path / "pics"
    models.mkdir()
    images.mkdir()
    starts: list[tuple[str, str]] = []
    answers = {
        "Open a restorer model": str(models / "m.safetensors"),
        "Open images": [str(images / "a.png")],
    }

    def fake_open(parent, caption, start, filt):
        starts.append((caption, start))
        return answers[caption], filt

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake_open))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(fake_open))
    view = window.restore_view
    monkeypatch.setattr(view.slot_a, "open", lambda path: None)
    monkeypatch.setattr(view, "open_images", lambda paths: None)
    view.slot_a.button.click()
    view.slot_a.button.click()
    view.open_button.click()
    view.open_button.click()
    assert starts == [
        ("Open a restorer model", str(runs)),
        ("Open a restorer model", str(models)),
        ("Open images", str(Path.home())),
        ("Open images", str(images)),
    ]


def test_light_and_dark_in_the_view_menu(window):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    window.menus.theme_actions["dark"].trigger()
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
    window.menus.theme_actions["light"].trigger()
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 128
    from app import settings

    assert settings.get("view/theme") == "light"
    window.menus.theme_actions["system"].trigger()
