"""Preview panes: the fixed synthetic strip and the real strips, scrubbable by step.

The worker writes the strips as PNG files into the run folder; each ``preview`` event
names them (paths relative to the run folder). The newest is shown unless the user
has moved the slider back.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)


class ScaledImage(QLabel):
    """A label that shows its pixmap scaled to its width, keeping the aspect ratio."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("previewImage")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(40)
        self._source = QPixmap()

    def set_source(self, pixmap: QPixmap) -> None:
        self._source = pixmap
        self._rescale()

    def source(self) -> QPixmap:
        return self._source

    def hasHeightForWidth(self) -> bool:
        return not self._source.isNull()

    def heightForWidth(self, width: int) -> int:
        if self._source.isNull() or self._source.width() == 0:
            return 40
        return max(40, min(int(width * self._source.height() / self._source.width()), 220))

    def sizeHint(self) -> QSize:
        return QSize(320, self.heightForWidth(320))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._source.isNull():
            self.setPixmap(QPixmap())
            return
        target = self.size() - QSize(2, 2)
        self.setPixmap(
            self._source.scaled(
                target,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )


class PreviewStrip(QWidget):
    """History of preview events with a slider to scrub back through steps."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_dir: Path | None = None
        self.history: list[tuple[int, str, list[str]]] = []
        self.shown_step: int | None = None
        self._pending: int | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._show_pending)
        self.step_label = QLabel(
            "No previews yet: the first arrives after preview_every steps.", self
        )
        self.step_label.setObjectName("hint")
        self.step_label.setWordWrap(True)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._show_index)

        self.body = QWidget(self)
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        self.syn_caption = QLabel("<b>Synthetic</b> — input | restored | target", self.body)
        self.syn_image = ScaledImage(self.body)
        self.body_layout.addWidget(self.syn_caption)
        self.body_layout.addWidget(self.syn_image)
        self.real_captions: list[QLabel] = []
        self.real_images: list[ScaledImage] = []
        self.body_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.body)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Step", self))
        bottom.addWidget(self.slider, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.step_label)
        layout.addLayout(bottom)

    # ------------------------------------------------------------------ api
    def set_run_dir(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)

    def clear(self) -> None:
        self._pending = None
        self._timer.stop()
        self.history.clear()
        self.shown_step = None
        self.slider.blockSignals(True)
        self.slider.setRange(0, 0)
        self.slider.blockSignals(False)
        self.slider.setEnabled(False)
        self.syn_image.set_source(QPixmap())
        for image in self.real_images:
            image.set_source(QPixmap())

    def add_preview(self, event: object) -> None:
        """A ``Preview`` event: remember it; show it if the slider is at the newest."""
        at_end = self.slider.value() == self.slider.maximum()
        self.history.append(
            (
                int(getattr(event, "step", 0)),
                str(getattr(event, "synthetic", "")),
                [str(p) for p in getattr(event, "real", [])],
            )
        )
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.history) - 1)
        if at_end or len(self.history) == 1:
            self.slider.setValue(len(self.history) - 1)
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(self.history) > 1)
        if at_end or len(self.history) == 1:
            self._pending = len(self.history) - 1  # load at most a few times a second
            if not self._timer.isActive():
                self._timer.start()
        else:
            self._update_label()

    def flush(self) -> None:
        """Show a pending preview now (end of run, screenshots)."""
        self._timer.stop()
        self._show_pending()

    def _show_pending(self) -> None:
        if self._pending is not None:
            index, self._pending = self._pending, None
            self._show_index(index)

    # ------------------------------------------------------------------ internals
    def _resolve(self, rel: str) -> Path:
        path = Path(rel)
        return path if path.is_absolute() or self.run_dir is None else self.run_dir / path

    def _ensure_real_panes(self, count: int) -> None:
        while len(self.real_images) < count:
            k = len(self.real_images)
            caption = QLabel(f"<b>Real {k + 1}</b> — input | restored", self.body)
            image = ScaledImage(self.body)
            index = self.body_layout.count() - 1  # before the stretch
            self.body_layout.insertWidget(index, caption)
            self.body_layout.insertWidget(index + 1, image)
            self.real_captions.append(caption)
            self.real_images.append(image)

    def _show_index(self, index: int) -> None:
        if not 0 <= index < len(self.history):
            return
        step, synthetic, reals = self.history[index]
        self.shown_step = step
        self.syn_image.set_source(
            QPixmap(str(self._resolve(synthetic))) if synthetic else QPixmap()
        )
        self._ensure_real_panes(len(reals))
        for k, image in enumerate(self.real_images):
            visible = k < len(reals)
            image.setVisible(visible)
            self.real_captions[k].setVisible(visible)
            image.set_source(QPixmap(str(self._resolve(reals[k]))) if visible else QPixmap())
        self._update_label()

    def _update_label(self) -> None:
        if self.shown_step is None:
            return
        newest = self.history[-1][0]
        where = "newest" if self.shown_step == newest else f"newest is {newest}"
        self.step_label.setText(
            f"Preview at step {self.shown_step} ({where}; {len(self.history)} saved)"
        )
