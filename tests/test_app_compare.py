"""The before/after compare widget: synced zoom and pan, swipe divider, Space flip, Fit and 1:1."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent

from app.widgets.compare_view import CompareView

RED, BLUE = QColor(220, 30, 30), QColor(30, 30, 220)


def solid(colour: QColor, w: int = 64, h: int = 48) -> QImage:
    image = QImage(w, h, QImage.Format.Format_RGB888)
    image.fill(colour)
    return image


def is_colour(actual: QColor, expected: QColor) -> bool:
    return all(
        abs(a - b) < 40 for a, b in zip(actual.getRgb()[:3], expected.getRgb()[:3], strict=True)
    )


@pytest.fixture
def view(qtbot) -> CompareView:
    widget = CompareView()
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_images(solid(RED), solid(BLUE), before_label="Input", after_label="A: model")
    return widget


def wheel(target, steps: int) -> None:
    pos = QPointF(target.viewport().rect().center())
    event = QWheelEvent(
        pos,
        target.viewport().mapToGlobal(pos),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    target.wheelEvent(event)


def pixel(target, x_fraction: float) -> QColor:
    """The colour the view shows at ``x_fraction`` of its width, mid-height."""
    shot = target.viewport().grab().toImage()
    return shot.pixelColor(int(shot.width() * x_fraction), shot.height() // 2)


def test_zoom_and_pan_follow_between_the_two_views(view: CompareView) -> None:
    left, right = view.left_view, view.right_view
    view.actual_size()
    wheel(left, 10)  # zoom in on the left view with the mouse wheel: 64 px → 596 px
    assert left.zoom() == pytest.approx(1.25**10)
    assert right.zoom() == pytest.approx(left.zoom())
    left.horizontalScrollBar().setValue(left.horizontalScrollBar().maximum())
    left.verticalScrollBar().setValue(0)
    assert left.horizontalScrollBar().value() > 0, "zoomed in enough to scroll"
    for a, b in ((left, right), (right, left)):
        centre_a, centre_b = a.scene_center(), b.scene_center()
        assert abs(centre_a.x() - centre_b.x()) <= 1 and abs(centre_a.y() - centre_b.y()) <= 1
        b.verticalScrollBar().setValue(b.verticalScrollBar().maximum())  # the other way round next
    wheel(right, -1)
    assert left.zoom() == pytest.approx(right.zoom()) == pytest.approx(1.25**9)


def test_fit_and_one_to_one_buttons(view: CompareView) -> None:
    view.one_button.click()
    assert view.left_view.zoom() == pytest.approx(1.0) and view.right_view.zoom() == pytest.approx(
        1.0
    )
    assert view.zoom_label.text() == "100%"
    view.fit_button.click()
    left = view.left_view
    shown = left.mapFromScene(left.sceneRect()).boundingRect()
    port = left.viewport().rect()
    assert (
        left.zoom() > 2
        and shown.width() <= port.width() + 2
        and shown.height() <= port.height() + 2
    )
    # Fitted: one side fills the view (Qt keeps a few pixels of margin).
    assert min(port.width() - shown.width(), port.height() - shown.height()) <= 6


def test_swipe_shows_before_left_of_the_divider_and_the_divider_drags(
    qtbot, view: CompareView
) -> None:
    view.set_swipe_mode(True)
    assert view.swipe_button.isChecked() and not view.right_view.isVisible()
    view.set_divider(0.5)
    left = view.left_view
    assert is_colour(pixel(left, 0.3), RED) and is_colour(pixel(left, 0.7), BLUE)
    port = left.viewport()
    y = port.height() // 2
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=QPoint(port.width() // 2, y))
    qtbot.mouseMove(port, QPoint(port.width() // 4, y))
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=QPoint(port.width() // 4, y))
    assert view.divider() == pytest.approx(0.25, abs=0.01)
    assert is_colour(pixel(left, 0.15), RED) and is_colour(pixel(left, 0.35), BLUE)
    view.side_button.click()
    assert not view.swipe_mode() and view.right_view.isVisible()


def test_holding_space_flips_to_before_and_release_flips_back(qtbot, view: CompareView) -> None:
    right = view.right_view
    assert is_colour(pixel(right, 0.5), BLUE)
    qtbot.keyPress(view, Qt.Key.Key_Space)
    assert view.is_flipped() and is_colour(pixel(right, 0.5), RED)
    assert right.visible_caption().startswith("Input")
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert not view.is_flipped() and is_colour(pixel(right, 0.5), BLUE)
    view.set_swipe_mode(True)
    view.set_divider(0.5)
    qtbot.keyPress(view, Qt.Key.Key_Space)
    assert is_colour(pixel(view.left_view, 0.8), RED), "in swipe mode the whole view flips"
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert is_colour(pixel(view.left_view, 0.8), BLUE)


def test_empty_view_has_a_drop_hint_and_disabled_zoom_buttons(qtbot) -> None:
    widget = CompareView()
    qtbot.addWidget(widget)
    assert not widget.fit_button.isEnabled() and not widget.one_button.isEnabled()
    assert widget.images() == (None, None)
