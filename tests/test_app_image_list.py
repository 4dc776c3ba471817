"""Restore list: thumbnails, and unreadable files marked (and left out of batches)."""

from __future__ import annotations

from app_helpers import write_images


def test_thumbnails_and_unreadable_files(qtbot, tmp_path):
    from app.restore_jobs import Source
    from app.widgets.image_list import ImageList

    good = write_images(tmp_path, ["a.png", "b.png"], size=80)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    view = ImageList()
    qtbot.addWidget(view)
    view.show()
    view.add([Source(p.name, path=p) for p in (*good, bad)])
    qtbot.waitUntil(lambda: not view.is_busy(), timeout=20000)
    assert not view.item(0).icon().isNull() and not view.item(1).icon().isNull()
    assert view.item(0).icon().actualSize(view.iconSize()).width() <= 48
    assert "unreadable" in view.item(2).text() and "broken.png" in view.item(2).toolTip()
    assert view.file_paths() == good
