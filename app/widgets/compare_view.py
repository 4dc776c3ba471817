"""Before/after comparison: side by side with synchronised zoom and pan, or a swipe.

Side by side: two ``ImageView``s; zooming or panning either one moves the other
to the same image point at the same scale. Swipe: one view shows "after" with
"before" left of a draggable divider. Holding Space shows "before" everywhere
(the "after" view flips) until it is released.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets.image_view import ImageView

DROP_HINT = "Drop images or folders here\nor use Open images… / Paste (Ctrl+V)"


class CompareView(QWidget):
    """Shows a before image and an after image, side by side or as a swipe.

    Signals:
        swipe_mode_changed(bool): the mode switched (True = swipe).
        flipped_changed(bool): Space pressed (True) or released (False).
    """

    swipe_mode_changed = Signal(bool)
    flipped_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._before: QImage | None = None
        self._after: QImage | None = None
        self._before_label = "Before"
        self._after_label = "After"
        self._swipe = False
        self._flipped = False
        self._syncing = False

        self.left_view = ImageView(self)
        self.right_view = ImageView(self)
        for view in (self.left_view, self.right_view):
            view.view_changed.connect(lambda v=view: self._sync_from(v))
            view.setFocusProxy(self)
        self.left_view.set_placeholder(DROP_HINT)
        self.right_view.set_placeholder("The restored image appears here")
        self._splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self._splitter.setChildrenCollapsible(False)
        self._splitter.addWidget(self.left_view)
        self._splitter.addWidget(self.right_view)
        self._splitter.setHandleWidth(4)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        self.side_button = self._tool("Side by side", "Before and after next to each other")
        self.swipe_button = self._tool("Swipe", "One view; drag the divider to compare")
        for button in (self.side_button, self.swipe_button):
            button.setCheckable(True)
        self.side_button.setChecked(True)
        group = QButtonGroup(self)
        group.setExclusive(True)
        group.addButton(self.side_button)
        group.addButton(self.swipe_button)
        self.swipe_button.toggled.connect(self.set_swipe_mode)
        self.fit_button = self._tool("Fit", "Fit the whole image in the window")
        self.fit_button.clicked.connect(self.fit_to_window)
        self.one_button = self._tool("1:1", "One image pixel per screen pixel")
        self.one_button.clicked.connect(self.actual_size)
        self.zoom_label = QLabel("")
        self.zoom_label.setMinimumWidth(48)
        self.zoom_label.setToolTip("Zoom: mouse wheel. Pan: drag.")
        hint = QLabel("Hold Space to flip")
        hint.setToolTip("While Space is held, the after view shows the before image")
        hint.setEnabled(False)
        for widget in (self.side_button, self.swipe_button):
            bar.addWidget(widget)
        bar.addSpacing(12)
        for widget in (self.fit_button, self.one_button, self.zoom_label):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(hint)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self._splitter, 1)
        self._refresh()

    def _tool(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(False)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keep Space for the flip
        return button

    # -------------------------------------------------------------- content
    def set_images(
        self,
        before: QImage | None,
        after: QImage | None,
        *,
        before_label: str = "Before",
        after_label: str = "After",
    ) -> None:
        """Show ``before`` and ``after`` (either may be None while it is not ready)."""
        self._before, self._after = before, after
        self._before_label, self._after_label = before_label, after_label
        self._refresh()

    def clear(self) -> None:
        self.set_images(None, None)

    def images(self) -> tuple[QImage | None, QImage | None]:
        return self._before, self._after

    def labels(self) -> tuple[str, str]:
        return self._before_label, self._after_label

    def set_placeholder(self, text: str) -> None:
        self.left_view.set_placeholder(text)

    # ---------------------------------------------------------------- modes
    def set_swipe_mode(self, on: bool) -> None:
        """Swipe (one view with a divider) or side by side."""
        on = bool(on)
        if on == self._swipe:
            return
        self._swipe = on
        self.swipe_button.setChecked(on)
        self.side_button.setChecked(not on)
        self._refresh()
        self.swipe_mode_changed.emit(on)

    def swipe_mode(self) -> bool:
        return self._swipe

    def set_divider(self, fraction: float) -> None:
        """Swipe divider position, as a fraction (0..1) of the view width."""
        self.left_view.set_divider(fraction)

    def divider(self) -> float:
        return self.left_view.divider()

    def set_flipped(self, on: bool) -> None:
        """Show the before image in place of the after image (what Space does)."""
        on = bool(on)
        if on == self._flipped:
            return
        self._flipped = on
        self._refresh()
        self.flipped_changed.emit(on)

    def is_flipped(self) -> bool:
        return self._flipped

    def _refresh(self) -> None:
        """Push the images, mode and flip state into the views."""
        before, after = self._before, self._after
        if self._swipe:
            base = after if after is not None else before
            overlay = before if after is not None else None
            self.left_view.set_images(
                base,
                overlay,
                base_caption=self._after_label if after is not None else self._before_label,
                overlay_caption=self._before_label,
            )
            self.left_view.set_swipe(True)
            self.left_view.set_overlay_full(self._flipped)
            self.right_view.hide()
        else:
            self.left_view.set_swipe(False)
            self.left_view.set_overlay_full(False)
            self.left_view.set_images(before, base_caption=self._before_label if before else "")
            self.right_view.set_images(
                after,
                before if after is not None else None,
                base_caption=self._after_label,
                overlay_caption=f"{self._before_label} (Space held)",
            )
            self.right_view.set_overlay_full(self._flipped)
            self.right_view.show()
        has_image = before is not None or after is not None
        for button in (self.fit_button, self.one_button):
            button.setEnabled(has_image)
        if not self._swipe and self.right_view.has_image():
            self._sync_from(self.left_view)
        self._update_zoom_label()

    # ------------------------------------------------------------ zoom/pan
    def fit_to_window(self) -> None:
        for view in self._views():
            view.fit_to_window()

    def actual_size(self) -> None:
        for view in self._views():
            view.actual_size()

    def zoom(self) -> float:
        return self.left_view.zoom()

    def _views(self) -> list[ImageView]:
        return [self.left_view] if self._swipe else [self.left_view, self.right_view]

    def _sync_from(self, source: ImageView) -> None:
        """Give the other view the same scale and centre as ``source``."""
        self._update_zoom_label()
        if self._syncing or self._swipe:
            return
        target = self.right_view if source is self.left_view else self.left_view
        if not (source.has_image() and target.has_image()):
            return
        self._syncing = True
        try:
            if abs(target.zoom() - source.zoom()) > 1e-9 or target.is_fit() != source.is_fit():
                target.set_zoom(source.zoom(), keep_fit=source.is_fit())
            target.centerOn(source.scene_center())
        finally:
            self._syncing = False

    def _update_zoom_label(self) -> None:
        view = self.left_view if self.left_view.has_image() else self.right_view
        self.zoom_label.setText(f"{view.zoom() * 100:.0f}%" if view.has_image() else "")

    # ---------------------------------------------------------------- keys
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self.set_flipped(True)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self.set_flipped(False)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:
        # A release we never see (focus moved while Space was held) must not leave it flipped.
        self.set_flipped(False)
        super().focusOutEvent(event)
