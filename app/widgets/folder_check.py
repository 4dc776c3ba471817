"""The check under a path picker: summary line, thumbnails, and the files that need care.

The folder is inspected off the GUI thread with ``noiseda_core.folders.inspect_folder``;
thumbnails are decoded there too (``QImage`` is thread-safe, ``QPixmap`` is not).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from ..tasks import run_in_thread
from ..theme import status_colour

THUMB = 44
MAX_PROBLEMS = 30


@dataclass(frozen=True)
class CheckResult:
    """What the GUI shows for one folder (a report, or a user error as one message)."""

    path: str
    ok: bool
    message: str
    count: int
    problems: list[str]
    thumbs: list[QImage]


def check_folder(path: str, role_name: str) -> CheckResult:
    """Run in a worker thread: inspect ``path`` as the given ``FolderRole`` name."""
    from noiseda_core.errors import UserError
    from noiseda_core.folders import FolderRole, inspect_folder

    try:
        report = inspect_folder(Path(path), FolderRole[role_name])
    except UserError as exc:
        return CheckResult(path, False, str(exc), 0, [], [])
    thumbs = []
    for sample in list(report.samples)[:4]:
        reader = QImageReader(str(sample))
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid() and size.width() > 0 and size.height() > 0:
            scale = THUMB / max(size.width(), size.height())
            reader.setScaledSize(
                QSize(max(1, round(size.width() * scale)), max(1, round(size.height() * scale)))
            )
        image = reader.read()
        if not image.isNull():
            thumbs.append(image)
    return CheckResult(
        path,
        bool(report.ok),
        str(report.message),
        int(report.count),
        [str(p) for p in report.problems],
        thumbs,
    )


class FolderCheck(QWidget):
    """Status for one folder. ``checked(CheckResult)`` fires when a check comes back."""

    checked = Signal(object)

    def __init__(self, role_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role_name = role_name
        self.result: CheckResult | None = None
        self.busy = False
        self._token = 0
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.thumbs = QHBoxLayout()
        self.thumbs.setSpacing(4)
        self.thumbs.addStretch(1)
        self.details_button = QToolButton(self)
        self.details_button.setText("Show problems")
        self.details_button.setCheckable(True)
        self.details_button.setAutoRaise(True)
        self.details_button.hide()
        self.details = QLabel(self)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.hide()
        self.details_button.toggled.connect(self.details.setVisible)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.status, 1)
        row.addWidget(self.details_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addLayout(self.thumbs)
        layout.addWidget(self.details)
        self.clear()

    def set_role(self, role_name: str) -> None:
        self.role_name = role_name

    def clear(self, text: str = "") -> None:
        self._token += 1
        self.busy = False
        self.result = None
        self._set_status(text, None)
        self._set_thumbs([])
        self._set_problems([])

    def check(self, path: str) -> None:
        """Start a check; an older one still running is ignored when it returns."""
        self._token += 1
        token = self._token
        self.busy = True
        self.result = None
        self._set_status("Checking…", None)
        self._set_thumbs([])
        self._set_problems([])
        run_in_thread(
            lambda: check_folder(path, self.role_name),
            lambda result: self._done(token, result),
            lambda message: self._done(
                token, CheckResult(path, False, f"Could not check: {message}", 0, [], [])
            ),
        )

    # ------------------------------------------------------------------ internals
    def _done(self, token: int, result: CheckResult) -> None:
        if token != self._token:
            return
        self.busy = False
        self.result = result
        self._set_status(("✔ " if result.ok else "✖ ") + result.message, result.ok)
        self._set_thumbs(result.thumbs)
        self._set_problems(result.problems)
        self.checked.emit(result)

    def _set_status(self, text: str, ok: bool | None) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self.status.setStyleSheet(f"color: {status_colour(ok)}")

    def _set_thumbs(self, images: list[QImage]) -> None:
        while self.thumbs.count() > 1:
            item = self.thumbs.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for i, image in enumerate(images):
            label = QLabel(self)
            label.setObjectName("thumb")
            label.setFixedSize(THUMB + 2, THUMB + 2)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setPixmap(QPixmap.fromImage(image))
            self.thumbs.insertWidget(i, label)

    def _set_problems(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        text = "\n".join(f"• {p}" for p in shown) + (f"\n… and {more} more" if more > 0 else "")
        self.details.setText(text)
        self.details_button.setVisible(bool(problems))
        self.details_button.setText(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}")
        if not problems:
            self.details_button.setChecked(False)
