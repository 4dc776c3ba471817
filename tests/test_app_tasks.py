"""Background tasks report back on the GUI thread, and never to a view already closed."""

from __future__ import annotations

import os
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QListWidget, QWidget

from app import tasks


class _View(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.items = QListWidget(self)
        self.shown: list[object] = []

    def show_result(self, result: object) -> None:
        self.items.addItem(str(result))  # touches a child: fails if the view was deleted
        self.shown.append(result)


def test_result_reaches_a_live_view(qtbot) -> None:
    view = _View()
    qtbot.addWidget(view)
    tasks.run_in_thread(lambda: 42, view.show_result)
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=5000)
    assert view.shown == [42] and view.items.count() == 1


def test_result_for_a_view_closed_meanwhile_is_dropped_without_error(qtbot) -> None:
    release = threading.Event()
    view = _View()
    tasks.run_in_thread(lambda: release.wait(5) and "late", view.show_result)
    view.deleteLater()
    qtbot.waitUntil(lambda: not __import__("shiboken6").isValid(view), timeout=5000)
    release.set()
    qtbot.waitUntil(lambda: tasks.pending() == 0, timeout=5000)  # no exception in the loop
