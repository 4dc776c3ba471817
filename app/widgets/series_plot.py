"""One small chart: a title with its legend above the curves, axis titles, reference lines.

The legend is a line of coloured names over the plot, so it never hides a curve.
``min_span`` keeps a nearly flat curve flat: a y-axis never spans less than that
(0.0015 dB of PSNR does not fill the height). Reference lines are dashed and named.
"""

from __future__ import annotations

import math
import os
from html import escape
from itertools import pairwise

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

LABEL_GAP_PX = 18  # labelled ticks on a log axis are at least this far apart


class LogFriendlyAxis(pg.AxisItem):
    """On a log scale, label only as many of 1…9 × 10ⁿ as fit (1, 2, 5 or just the decades),
    so 0.1 / 0.09 / 0.08 never print over each other."""

    SUBSETS = ((1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 5, 7), (1, 2, 5), (1, 3), (1,))

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # pyqtgraph's names
        decades = max(maxVal - minVal, 1e-9)
        px_per_decade = size / decades
        for subset in self.SUBSETS:
            logs = [math.log10(m) for m in subset] + [1.0]
            if min(b - a for a, b in pairwise(logs)) * px_per_decade >= LABEL_GAP_PX:
                break
        else:  # not even the decades fit one each: every few decades
            every = max(1, math.ceil(LABEL_GAP_PX / px_per_decade))
            first = math.ceil(minVal / every) * every
            return [(float(every), [float(v) for v in range(first, math.floor(maxVal) + 1, every)])]
        values = [
            e + math.log10(m)
            for e in range(math.floor(minVal), math.ceil(maxVal) + 1)
            for m in subset
        ]
        return [(None, [v for v in values if minVal <= v <= maxVal])]


class SeriesPlot(QWidget):
    """``series``: key → (legend name, colour). Data in by ``set_data``; ``redraw_range`` after."""

    def __init__(
        self,
        title: str,
        y_label: str,
        series: dict[str, tuple[str, str]],
        tip: str = "",
        *,
        min_span: float | None = None,
        symbols: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.title, self.series, self.min_span = title, series, min_span
        self.refs: dict[str, tuple[str, str, float | None]] = {}  # key → (name, colour, value)
        self._ref_lines: dict[str, pg.InfiniteLine] = {}
        self.header = QLabel(self)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.item = pg.PlotItem(axisItems={"left": LogFriendlyAxis("left")})
        self.view = self.item.getViewBox()  # PlotItem forwards the range calls to it
        self.widget = pg.PlotWidget(self, plotItem=self.item)
        self.widget.setMinimumHeight(90)
        self.item.setLabel("left", y_label)
        self.item.setLabel("bottom", "step")
        for name in ("left", "bottom"):  # no "(x0.001)" added to the axis titles
            self.item.getAxis(name).enableAutoSIPrefix(False)
        self.item.setMenuEnabled(False)
        self.curves: dict[str, pg.PlotDataItem] = {}
        for key, (_name, colour) in series.items():
            extra = (
                {"symbol": "o", "symbolSize": 7, "symbolBrush": colour, "symbolPen": None}
                if symbols
                else {}
            )
            curve = self.item.plot([], [], pen=pg.mkPen(colour, width=2), **extra)
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
            self.curves[key] = curve
        if tip:
            self.setToolTip(tip)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.widget, 1)
        self.restyle()

    # ------------------------------------------------------------------ data
    def set_data(self, key: str, xs: list[int], ys: list[float]) -> None:
        self.curves[key].setData(xs, ys)

    def set_reference(self, key: str, name: str, colour: str, value: float | None) -> None:
        """A dashed horizontal line named ``name`` at ``value`` (None hides it)."""
        self.refs[key] = (name, colour, value)
        line = self._ref_lines.get(key)
        if value is None or not math.isfinite(value):
            if line is not None:
                line.hide()
            self._update_header()
            return
        if line is None:
            line = pg.InfiniteLine(
                angle=0, movable=False, pen=pg.mkPen(colour, width=1.5, style=Qt.PenStyle.DashLine)
            )
            self.item.addItem(line, ignoreBounds=True)
            self._ref_lines[key] = line
        line.setPos(value)
        line.show()
        self._update_header()

    def reference_value(self, key: str) -> float | None:
        return self.refs.get(key, ("", "", None))[2]

    def clear(self) -> None:
        for curve in self.curves.values():
            curve.setData([], [])
        for key in list(self.refs):
            name, colour, _ = self.refs[key]
            self.set_reference(key, name, colour, None)

    # ------------------------------------------------------------------ drawing
    def y_values(self) -> list[float]:
        values: list[float] = []
        for curve in self.curves.values():
            _, ys = curve.getData()
            if ys is not None:
                values += [float(v) for v in ys if math.isfinite(float(v))]
        return values

    def redraw_range(self, last_step: int = 0) -> None:
        """Y from the data and the reference lines, never narrower than ``min_span``; X from 0
        to the last point or ``last_step`` (the steps trained so far), never the empty 0–1."""
        if self.min_span is None:
            return
        values = self.y_values() + [
            v for _, _, v in self.refs.values() if v is not None and math.isfinite(v)
        ]
        xs = [
            float(x) for c in self.curves.values() if (d := c.getData()[0]) is not None for x in d
        ]
        if last_step > 0 or xs:
            self.view.setXRange(
                0, max(max(xs, default=0.0) * 1.04, float(last_step), 1.0), padding=0
            )
        if not values:
            return
        lo, hi = min(values), max(values)
        if hi - lo < self.min_span:
            mid = (hi + lo) / 2
            lo, hi = mid - self.min_span / 2, mid + self.min_span / 2
        pad = (hi - lo) * 0.08
        self.view.setYRange(lo - pad, hi + pad, padding=0)

    def y_range(self) -> tuple[float, float]:
        (_, _), (lo, hi) = self.view.viewRange()
        return float(lo), float(hi)

    def restyle(self) -> None:
        """Follow the palette (light / dark)."""
        base = self.palette().color(QPalette.ColorRole.Base)
        text = self.palette().color(QPalette.ColorRole.Text)
        self.widget.setBackground(base)
        pen = pg.mkPen(text)
        for name in ("left", "bottom"):
            axis = self.item.getAxis(name)
            axis.setPen(pen)
            axis.setTextPen(pen)
            axis.label.setDefaultTextColor(text)
        self._update_header()

    def _update_header(self) -> None:
        """Title and legend; a legend entry never breaks inside ("noisy input" stays whole)."""

        def entry(mark: str, colour: str, name: str) -> str:
            return (
                f"<span style='white-space:nowrap'><span style='color:{colour}'>{mark}</span>"
                f"&nbsp;{escape(name)}</span>"
            )

        parts = [f"<b>{escape(self.title)}</b>"]
        for name, colour in self.series.values():
            parts.append(entry("━━", colour, name))
        for name, colour, value in self.refs.values():
            if value is not None and math.isfinite(value):
                parts.append(entry("╌╌", colour, name))
        self.header.setText("&nbsp;&nbsp;&nbsp;".join(parts))
