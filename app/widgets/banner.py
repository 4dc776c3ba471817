"""An inline message strip (error, info, success) with a close button.

Problems a user can cause are shown here, in the view where they happened,
never as a crash or a modal box.
"""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget


class BannerKind(Enum):
    ERROR = "error"
    INFO = "info"
    SUCCESS = "success"


_LIGHT = {  # (background, border, text)
    BannerKind.ERROR: ("#fdecea", "#e0a29e", "#7a1c14"),
    BannerKind.INFO: ("#e8f0fe", "#a9c1ef", "#1a3a6e"),
    BannerKind.SUCCESS: ("#e7f5ea", "#9fd3ab", "#1d5a2c"),
}
_DARK = {
    BannerKind.ERROR: ("#3b1f1f", "#8a4343", "#ffb4ab"),
    BannerKind.INFO: ("#1d2a3f", "#3d5a8a", "#b8d0ff"),
    BannerKind.SUCCESS: ("#1b3224", "#3f7a52", "#b5e8c2"),
}


class Banner(QFrame):
    """Hidden until ``show_message``; the close button (or ``clear``) hides it."""

    Kind = BannerKind

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.kind: BannerKind | None = None
        self.hide()

    def show_message(self, text: str, kind: BannerKind = BannerKind.ERROR) -> None:
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        background, border, colour = (_DARK if dark else _LIGHT)[kind]
        self.setStyleSheet(
            f"QFrame#messageBanner {{ background: {background}; border: 1px solid {border};"
            f" border-radius: 5px; }}"
            f" QLabel, QToolButton {{ color: {colour}; background: transparent; }}"
        )
        self.kind = kind
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text()

    def clear(self) -> None:
        self.kind = None
        self.label.clear()
        self.hide()
