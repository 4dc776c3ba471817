"""A zoomable, pannable image view with an optional swipe overlay.

``ImageView`` shows a *base* image and, optionally, an *overlay* image of the
same size. With the swipe on, the overlay is drawn left of a draggable divider
(held at a fraction of the viewport width, so it stays on screen while you pan),
and the base right of it. ``set_overlay_full(True)`` draws the overlay over the
whole view: that is how "hold Space to flip" is shown.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

MIN_ZOOM = 1 / 32
MAX_ZOOM = 32.0
WHEEL_STEP = 1.25
_GRAB_PX = 10  # how close (viewport pixels) a press must be to grab the divider


class ImageView(QGraphicsView):
    """One image (plus optional overlay) with wheel zoom, drag pan and a swipe divider.

    Signals:
        view_changed: the zoom or the scroll position changed (for syncing views).
        divider_moved(float): the swipe divider moved to this fraction of the width.
    """

    view_changed = Signal()
    divider_moved = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self.scene().addItem(self._item)
        self._overlay: QPixmap | None = None
        self._swipe = False
        self._overlay_full = False
        self._divider = 0.5
        self._dragging_divider = False
        self._fit_mode = True
        self._base_caption = ""
        self._overlay_caption = ""
        self._placeholder = ""
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QColor(40, 40, 44))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        # The overlay and the captions are drawn in the foreground, relative to the viewport:
        # repaint everything on scroll so they never smear.
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setMouseTracking(True)
        self.setMinimumSize(120, 90)
        # Drops (files, folders, image data) are handled by the view that holds this one.
        self.setAcceptDrops(False)
        self.viewport().setAcceptDrops(False)
        self.horizontalScrollBar().valueChanged.connect(self._on_scrolled)
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)

    # ----------------------------------------------------------------- content
    def set_images(
        self,
        base: QImage | None,
        overlay: QImage | None = None,
        *,
        base_caption: str = "",
        overlay_caption: str = "",
    ) -> None:
        """Show ``base`` (and ``overlay`` for swipe/flip); refit when the size changed."""
        old_size = self._item.pixmap().size()
        pixmap = QPixmap.fromImage(base) if base is not None and not base.isNull() else QPixmap()
        self._item.setPixmap(pixmap)
        self._overlay = (
            QPixmap.fromImage(overlay) if overlay is not None and not overlay.isNull() else None
        )
        self._base_caption = base_caption
        self._overlay_caption = overlay_caption
        self.scene().setSceneRect(QRectF(pixmap.rect()))
        if pixmap.size() != old_size or self._fit_mode:
            self.fit_to_window()
        self.viewport().update()

    def has_image(self) -> bool:
        return not self._item.pixmap().isNull()

    def image_size(self) -> tuple[int, int]:
        """(width, height) of the base image, (0, 0) when empty."""
        size = self._item.pixmap().size()
        return size.width(), size.height()

    def set_placeholder(self, text: str) -> None:
        """Text shown in the middle while there is no image."""
        self._placeholder = text
        self.viewport().update()

    # ------------------------------------------------------------ swipe / flip
    def set_swipe(self, on: bool) -> None:
        self._swipe = on
        self.viewport().update()

    def swipe(self) -> bool:
        return self._swipe

    def set_divider(self, fraction: float) -> None:
        """Put the swipe divider at ``fraction`` (0..1) of the viewport width."""
        fraction = min(1.0, max(0.0, float(fraction)))
        if fraction != self._divider:
            self._divider = fraction
            self.viewport().update()
            self.divider_moved.emit(fraction)

    def divider(self) -> float:
        return self._divider

    def set_overlay_full(self, on: bool) -> None:
        """Draw the overlay over the whole view (the "flip" while Space is held)."""
        self._overlay_full = on
        self.viewport().update()

    def overlay_full(self) -> bool:
        return self._overlay_full

    def visible_caption(self) -> str:
        """The caption of what the whole view shows now ('' in swipe mode)."""
        if self._overlay_full and self._overlay is not None:
            return self._overlay_caption
        return "" if self._swipe_active() else self._base_caption

    def _swipe_active(self) -> bool:
        return self._swipe and self._overlay is not None and not self._overlay_full

    # ------------------------------------------------------------- zoom / pan
    def zoom(self) -> float:
        """Current scale: 1.0 means one image pixel per screen pixel."""
        return float(self.transform().m11())

    def set_zoom(self, factor: float, *, keep_fit: bool = False) -> None:
        """Scale to ``factor`` around the view centre."""
        factor = min(MAX_ZOOM, max(MIN_ZOOM, factor))
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setTransform(self.transform().fromScale(factor, factor))
        self.setTransformationAnchor(anchor)
        self._fit_mode = keep_fit
        self.view_changed.emit()

    def fit_to_window(self) -> None:
        """Scale so the whole image fits; stays fitted when the window resizes."""
        self._fit_mode = True
        if not self.has_image():
            return
        self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom()))
        self.set_zoom(zoom, keep_fit=True)

    def actual_size(self) -> None:
        """One image pixel per screen pixel (1:1)."""
        self.set_zoom(1.0)

    def is_fit(self) -> bool:
        return self._fit_mode

    def scene_center(self) -> QPointF:
        """The image point (scene coordinates) at the middle of the viewport."""
        return self.mapToScene(self.viewport().rect().center())

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps == 0 or not self.has_image():
            event.ignore()
            return
        factor = WHEEL_STEP**steps
        new_zoom = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * factor))
        self.scale(new_zoom / self.zoom(), new_zoom / self.zoom())
        self._fit_mode = False
        self.view_changed.emit()
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit_mode:
            self.fit_to_window()

    def _on_scrolled(self, _value: int) -> None:
        self.viewport().update()
        self.view_changed.emit()

    # ---------------------------------------------------------- divider drag
    def _divider_x(self) -> float:
        return self._divider * self.viewport().width()

    def _near_divider(self, x: float) -> bool:
        return self._swipe_active() and abs(x - self._divider_x()) <= _GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._near_divider(event.position().x()):
            self._dragging_divider = True
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        if self._dragging_divider:
            self.set_divider(x / max(1, self.viewport().width()))
            event.accept()
            return
        if self._near_divider(x):
            self.viewport().setCursor(Qt.CursorShape.SplitHCursor)
        elif self.has_image():
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.viewport().unsetCursor()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._dragging_divider:
            self._dragging_divider = False
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:
        # Space belongs to the compare view (hold to flip); let it bubble up.
        if event.key() == Qt.Key.Key_Space:
            event.ignore()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space:
            event.ignore()
            return
        super().keyReleaseEvent(event)

    # -------------------------------------------------------------- painting
    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawForeground(painter, rect)
        if self._overlay is not None and (self._overlay_full or self._swipe):
            painter.save()
            if not self._overlay_full:
                div_scene_x = self.mapToScene(int(round(self._divider_x())), 0).x()
                clip = QRectF(self.sceneRect())
                clip.setRight(min(clip.right(), div_scene_x))
                painter.setClipRect(clip)
            painter.drawPixmap(QPointF(0, 0), self._overlay)
            painter.restore()
        painter.save()
        painter.resetTransform()  # from here on: viewport pixels
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self.has_image():
            self._paint_placeholder(painter)
        elif self._swipe_active():
            self._paint_divider(painter)
            self._paint_caption(painter, self._overlay_caption, left=True)
            self._paint_caption(painter, self._base_caption, left=False)
        else:
            self._paint_caption(painter, self.visible_caption(), left=True)
        painter.restore()

    def _paint_placeholder(self, painter: QPainter) -> None:
        if not self._placeholder:
            return
        painter.setPen(QColor(200, 200, 205))
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.2)
        painter.setFont(font)
        painter.drawText(
            self.viewport().rect().adjusted(20, 20, -20, -20),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            self._placeholder,
        )

    def _paint_divider(self, painter: QPainter) -> None:
        x = self._divider_x()
        h = self.viewport().height()
        painter.setPen(QPen(QColor(0, 0, 0, 120), 3))
        painter.drawLine(QPointF(x, 0), QPointF(x, h))
        painter.setPen(QPen(QColor(255, 255, 255), 1.5))
        painter.drawLine(QPointF(x, 0), QPointF(x, h))
        # A round handle with two arrows, in the middle of the line.
        centre = QPointF(x, h / 2)
        painter.setBrush(QColor(255, 255, 255, 230))
        painter.setPen(QPen(QColor(0, 0, 0, 140), 1))
        painter.drawEllipse(centre, 14, 14)
        arrows = QPainterPath()
        for sign in (-1, 1):
            tip = centre + QPointF(sign * 9, 0)
            arrows.moveTo(tip)
            arrows.lineTo(tip + QPointF(-sign * 5, -5))
            arrows.lineTo(tip + QPointF(-sign * 5, 5))
            arrows.closeSubpath()
        painter.setBrush(QColor(40, 40, 44))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawPath(arrows)

    def _paint_caption(self, painter: QPainter, text: str, *, left: bool) -> None:
        if not text:
            return
        metrics = painter.fontMetrics()
        width = metrics.horizontalAdvance(text) + 16
        height = metrics.height() + 8
        x = 8 if left else self.viewport().width() - width - 8
        box = QRectF(x, 8, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(box, 4, 4)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
