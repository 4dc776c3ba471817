"""Live training curves (pyqtgraph): losses, λ and validation PSNR.

Points arrive with every progress event; the curves are redrawn on a short timer so
a chatty worker cannot flood the event loop. An EMA slider smooths the losses and a
check box puts them on a log scale.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtGui import QPalette  # noqa: E402
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget  # noqa: E402

SERIES = {  # key → (legend name, colour)
    "loss_res": ("restoration", "#3b82f6"),
    "loss_dif": ("diffusion", "#f97316"),
    "loss_triplet": ("triplet part", "#a855f7"),
}
REDRAW_MS = 250


def ema(values: list[float], alpha: float) -> list[float]:
    """Bias-corrected exponential moving average (alpha = weight of the past)."""
    if alpha <= 0.0 or not values:
        return list(values)
    out, avg = [], 0.0
    for i, v in enumerate(values, start=1):
        avg = alpha * avg + (1.0 - alpha) * v
        out.append(avg / (1.0 - alpha**i))
    return out


class LossPlot(QWidget):
    """Three plots: losses (top), λ and validation PSNR (bottom)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps: dict[str, list[int]] = {k: [] for k in SERIES}
        self.values: dict[str, list[float]] = {k: [] for k in SERIES}
        self.lam_steps: list[int] = []
        self.lam: list[float] = []
        self.val_steps: list[int] = []
        self.psnr: list[float] = []
        self._dirty = False

        window = self.palette().color(QPalette.ColorRole.Base)
        text = self.palette().color(QPalette.ColorRole.Text)
        self.canvas = pg.GraphicsLayoutWidget(self)
        self.canvas.setBackground(window)
        self.canvas.setMinimumSize(280, 220)
        axis_pen = pg.mkPen(text)

        def plot(title: str, row: int, col: int, colspan: int = 1) -> pg.PlotItem:
            item = self.canvas.addPlot(row=row, col=col, colspan=colspan, title=title)
            # no grid: pyqtgraph's grid lines cost more to paint than the curves themselves
            item.titleLabel.setAttr("color", text.name())
            for name in ("left", "bottom"):
                item.getAxis(name).setPen(axis_pen)
                item.getAxis(name).setTextPen(axis_pen)
            return item

        self.loss_item = plot("Losses", 0, 0, 2)
        legend = self.loss_item.addLegend(offset=(-10, 10))
        legend.setLabelTextColor(text)
        self.curves = {
            key: self.loss_item.plot([], [], name=name, pen=pg.mkPen(colour, width=2))
            for key, (name, colour) in SERIES.items()
        }
        for curve in self.curves.values():  # long runs: draw what the pixels can show
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        self.lam_item = plot("λ (diffusion weight)", 1, 0)
        self.lam_curve = self.lam_item.plot([], [], pen=pg.mkPen("#14b8a6", width=2))
        self.psnr_item = plot("Validation PSNR (dB)", 1, 1)
        self.psnr_curve = self.psnr_item.plot([], [], pen=pg.mkPen("#22c55e", width=2), symbol="o",
                                              symbolSize=6, symbolBrush="#22c55e")
        self.canvas.ci.layout.setRowStretchFactor(0, 3)
        self.canvas.ci.layout.setRowStretchFactor(1, 2)

        self.smooth = QSlider(Qt.Orientation.Horizontal, self)
        self.smooth.setRange(0, 99)
        self.smooth.setValue(60)
        self.smooth.setToolTip("Smoothing (exponential moving average of the losses)")
        self.smooth.valueChanged.connect(self._mark_dirty)
        self.smooth_label = QLabel(self)
        self.log_scale = QCheckBox("Log scale", self)
        self.log_scale.setChecked(True)
        self.log_scale.toggled.connect(self._set_log)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Smoothing", self))
        controls.addWidget(self.smooth, 1)
        controls.addWidget(self.smooth_label)
        controls.addSpacing(12)
        controls.addWidget(self.log_scale)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(controls)

        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()
        self._set_log(True)

    # ------------------------------------------------------------------ data in
    def add_progress(self, event: object) -> None:
        """A ``Progress`` event: appends the loss terms that are present and λ."""
        step = int(getattr(event, "step", 0))
        for key in SERIES:
            value = getattr(event, key, None)
            if value is not None and math.isfinite(float(value)):
                self.steps[key].append(step)
                self.values[key].append(float(value))
        lam = getattr(event, "lam", None)
        if lam is not None:
            self.lam_steps.append(step)
            self.lam.append(float(lam))
        self._mark_dirty()

    def add_validation(self, event: object) -> None:
        psnr = float(getattr(event, "psnr", float("nan")))
        if math.isfinite(psnr):
            self.val_steps.append(int(getattr(event, "step", 0)))
            self.psnr.append(psnr)
            self._mark_dirty()

    def clear(self) -> None:
        for key in SERIES:
            self.steps[key].clear()
            self.values[key].clear()
        self.lam_steps.clear()
        self.lam.clear()
        self.val_steps.clear()
        self.psnr.clear()
        self._mark_dirty()

    def point_count(self) -> int:
        """Loss points drawn so far (tests, the tour)."""
        return sum(len(v) for v in self.values.values())

    # ------------------------------------------------------------------ drawing
    def _mark_dirty(self, *_: object) -> None:
        self._dirty = True

    def _set_log(self, on: bool) -> None:
        self.loss_item.setLogMode(x=False, y=on)
        self._mark_dirty()

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        alpha = self.smooth.value() / 100.0
        self.smooth_label.setText(f"{alpha:.2f}")
        floor = 1e-8 if self.log_scale.isChecked() else -math.inf
        for key, curve in self.curves.items():
            ys = [max(v, floor) for v in ema(self.values[key], alpha)]
            curve.setData(self.steps[key], ys)
        self.lam_curve.setData(self.lam_steps, self.lam)
        self.psnr_curve.setData(self.val_steps, self.psnr)

    def flush(self) -> None:
        """Draw now (before a screenshot)."""
        self._dirty = True
        self._redraw()
