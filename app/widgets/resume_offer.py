"""The strip that offers to continue a run the app was closed (or crashed) during."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, SignalInstance
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ..run_index import RunSummary
from ..theme import icon


class ResumeOffer(QFrame):
    """Signals carry the run folder: ``continue_requested``, ``show_requested``, ``declined``."""

    continue_requested = Signal(object)
    show_requested = Signal(object)
    declined = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.run: Path | None = None
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.continue_button = QPushButton(icon("resume"), "Continue training", self)
        self.show_button = QPushButton("Show it", self)
        self.dismiss_button = QPushButton("Not now", self)
        self.continue_button.clicked.connect(lambda: self._answer(self.continue_requested))
        self.show_button.clicked.connect(lambda: self._answer(self.show_requested))
        self.dismiss_button.clicked.connect(lambda: self._answer(self.declined))
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        for button in (self.continue_button, self.show_button, self.dismiss_button):
            layout.addWidget(button)
        self.hide()

    def offer(self, run: RunSummary) -> None:
        self.run = run.path
        total = f" of {run.total_steps:,}" if run.total_steps else ""
        self.label.setText(
            f"<b>A training run was interrupted</b> (the app was closed or crashed): "
            f"{run.name}, at step {run.step:,}{total}. Continue it from its last checkpoint?"
        )
        self.show()

    def _answer(self, signal: SignalInstance) -> None:
        run = self.run
        self.hide()
        if run is not None:
            signal.emit(run)
