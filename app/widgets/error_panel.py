"""Inline report of a dead training worker: message, traceback, last log lines, resume."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..jobs import Failure
from ..theme import icon, status_colour


class ErrorPanel(QFrame):
    """Inline report of a dead worker: message, traceback, last log lines, resume."""

    resume_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorPanel")
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit(self)
        self.details.setObjectName("log")
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(160)
        self.resume_button = QPushButton(icon("resume"), "Resume from last checkpoint", self)
        self.resume_button.clicked.connect(self.resume_requested)
        self.dismiss = QToolButton(self)
        self.dismiss.setText("Dismiss")
        self.dismiss.clicked.connect(self.hide)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.resume_button)
        top.addWidget(self.dismiss)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.details)
        self.hide()

    def show_failure(self, failure: Failure) -> None:
        self.title.setText(
            f"<b>Training stopped with an error.</b> {failure.message}".replace("\n", "<br>")
        )
        self.title.setStyleSheet(f"color: {status_colour(False)}")
        parts = []
        if failure.traceback:
            parts += ["Traceback:", failure.traceback.rstrip(), ""]
        parts += ["Last log lines:", failure.log_tail or "(none)"]
        self.details.setPlainText("\n".join(parts))
        self.resume_button.setVisible(bool(failure.checkpoint))
        self.resume_button.setToolTip(failure.checkpoint)
        self.show()
