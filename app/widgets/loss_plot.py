"""Live training curves (pyqtgraph): losses, λ and validation PSNR; a Diagnostics tab.

Points arrive with every event; the curves are redrawn on a short timer so a chatty
worker cannot flood the event loop. An EMA slider smooths the losses and a check box
puts them on a log scale. The validation plot shows the noisy input and the starting
model as reference lines; the Diagnostics tab shows what the diffusion loss is doing.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .series_plot import SeriesPlot, pg  # noqa: F401 (pg: pyqtgraph configured for PySide6)

SERIES = {  # key → (legend name, colour)
    "loss_res": ("restoration", "#3b82f6"),
    "loss_dif": ("diffusion", "#f97316"),
    "loss_triplet": ("triplet part", "#a855f7"),
}
DIAGNOSTICS = {  # plot key → (title, y axis, {event field: (legend, colour)}, tooltip)
    "noise": (
        "Noise left in your real photos",
        "noise σ (8-bit levels)",
        {"noise_real_input": ("input", "#94a3b8"), "noise_real_restored": ("restored", "#22c55e")},
        "An estimate of the noise in your real photos (no ground truth needed): the restored "
        "line should go down and stay well below the input. If it climbs, the restorer is "
        "adding texture or the adaptation is too strong.",
    ),
    "hinge": (
        "Swapped images still fooling the helper",
        "fraction of batches",
        {"hinge_active": ("hinge active", "#a855f7")},
        "How often the residual-swapped images are not yet clearly worse for the helper "
        "network. Only then does the triplet part teach the restorer. Near 0 for a long "
        "time: the margin is met and that part has stopped pushing.",
    ),
    "mse": (
        "Helper's error: restored vs swapped",
        "noise MSE",
        {"mse_pos": ("restored", "#3b82f6"), "mse_neg": ("swapped", "#ef4444")},
        "The helper network's error when conditioned on your restored images (should stay "
        "lower) and on swapped ones (higher). The gap between them is what steers the restorer.",
    ),
    "proxy": (
        "Score on pairs like your photos",
        "PSNR (dB)",
        {"proxy_psnr": ("proxy pairs", "#f97316")},
        "Without validation pairs of your own, the restorer is scored on pairs made from "
        "held-out clean photos with noise fitted to your real photos. It should go up; "
        "when it falls, the run is getting worse on noise like yours and the best weights "
        "so far are the ones kept.",
    ),
}
PSNR_SPAN_DB = 1.0  # the validation axis never spans less (tiny changes stay flat)
REDRAW_MS = 250
PSNR_TIP = (
    "PSNR of the restorer on your validation pairs, in dB: higher is better. Dashed lines: "
    "the noisy input itself and the model training started from; the curve should end above both."
)


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
    """Tab "Training": losses (top), λ and validation PSNR (bottom). Tab "Diagnostics"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps: dict[str, list[int]] = {k: [] for k in SERIES}
        self.values: dict[str, list[float]] = {k: [] for k in SERIES}
        self.lam_steps: list[int] = []
        self.lam: list[float] = []
        self.val_steps: list[int] = []
        self.psnr: list[float] = []
        self.has_val_pairs = False  # a run scored on real pairs charts those scores only
        self.diag_steps: dict[str, list[int]] = {f: [] for p in DIAGNOSTICS.values() for f in p[2]}
        self.diag: dict[str, list[float]] = {f: [] for f in self.diag_steps}
        self._dirty = False

        self.loss_plot = SeriesPlot(
            "Losses",
            "loss",
            SERIES,
            "Training losses (smoothed). They should fall and then level off.",
        )
        self.lam_plot = SeriesPlot(
            "λ (weight of the real photos)",
            "λ",
            {"lam": ("λ", "#14b8a6")},
            "How much the diffusion part counts; it ramps up from 0.",
        )
        self.psnr_plot = SeriesPlot(
            "Validation PSNR",
            "PSNR (dB)",
            {"psnr": ("restorer", "#22c55e")},
            PSNR_TIP,
            min_span=PSNR_SPAN_DB,
            symbols=True,
        )
        training = QWidget()
        grid = QGridLayout(training)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.loss_plot, 0, 0, 1, 2)
        grid.addWidget(self.lam_plot, 1, 0)
        grid.addWidget(self.psnr_plot, 1, 1)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)

        self.diag_plots: dict[str, SeriesPlot] = {}
        diagnostics = QWidget()
        dgrid = QGridLayout(diagnostics)
        dgrid.setContentsMargins(0, 0, 0, 0)
        self.diag_hint = QLabel(
            "No diagnostics yet: the trainer reports them in the Noise-DA modes. "
            "Hover over a chart to see what to look for."
        )
        self.diag_hint.setObjectName("hint")
        self.diag_hint.setWordWrap(True)
        dgrid.addWidget(self.diag_hint, 0, 0, 1, 2)
        for i, (key, (title, y_label, series, tip)) in enumerate(DIAGNOSTICS.items()):
            plot = SeriesPlot(title, y_label, series, tip)
            self.diag_plots[key] = plot
            dgrid.addWidget(plot, 1 + i // 2, i % 2)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(training, "Training")
        self.tabs.addTab(diagnostics, "Diagnostics")
        self.tabs.setTabToolTip(
            1, "What the adaptation is doing, in charts with plain-word explanations"
        )

        self.smooth = QSlider(Qt.Orientation.Horizontal, self)
        self.smooth.setRange(0, 99)
        self.smooth.setValue(60)
        self.smooth.setToolTip("Smoothing (exponential moving average of the losses)")
        self.smooth.valueChanged.connect(self._mark_dirty)
        self.smooth_label = QLabel(self)
        self.log_scale = QCheckBox("Log scale", self)
        self.log_scale.setChecked(True)
        self.log_scale.setToolTip("Losses on a logarithmic axis")
        self.log_scale.toggled.connect(self._set_log)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Smoothing", self))
        controls.addWidget(self.smooth, 1)
        controls.addWidget(self.smooth_label)
        controls.addSpacing(12)
        controls.addWidget(self.log_scale)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs, 1)
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
        """A ``Validation`` event: the PSNR point and the reference lines; a proxy score
        (``source == "proxy"``) is a point of the proxy diagnostic as well."""
        psnr = float(getattr(event, "psnr", float("nan")))
        proxy = getattr(event, "source", "val") == "proxy"
        if proxy and math.isfinite(psnr):
            self.diag_steps["proxy_psnr"].append(int(getattr(event, "step", 0)))
            self.diag["proxy_psnr"].append(psnr)
        if proxy and self.has_val_pairs:
            return  # real validation pairs drive the chart: a proxy score stays a diagnostic
        if not proxy and not self.has_val_pairs:  # the first real score: proxy points go
            self.has_val_pairs = True
            self.val_steps.clear()
            self.psnr.clear()
        if math.isfinite(psnr):
            self.val_steps.append(int(getattr(event, "step", 0)))
            self.psnr.append(psnr)
        noisy = getattr(event, "psnr_input", None)
        start = getattr(event, "psnr_start", None)
        self.psnr_plot.set_reference(
            "input", "noisy input", "#94a3b8", float(noisy) if noisy else None
        )
        if start is not None:
            self.psnr_plot.set_reference("start", "starting model", "#eab308", float(start))
        self._mark_dirty()

    def add_diagnostics(self, event: object) -> None:
        """A ``Diagnostics`` event: every field that is present gets a point."""
        step = int(getattr(event, "step", 0))
        for field in self.diag:
            value = getattr(event, field, None)
            if value is not None and math.isfinite(float(value)):
                self.diag_steps[field].append(step)
                self.diag[field].append(float(value))
        self._mark_dirty()

    def clear(self) -> None:
        for store in (self.steps, self.values, self.diag_steps, self.diag):
            for values in store.values():
                values.clear()
        for values in (self.lam_steps, self.lam, self.val_steps, self.psnr):
            values.clear()
        self.has_val_pairs = False
        for plot in (self.psnr_plot, *self.diag_plots.values()):
            plot.clear()
        self._mark_dirty()

    def point_count(self) -> int:
        """Loss points drawn so far (tests, the tour)."""
        return sum(len(v) for v in self.values.values())

    def diagnostics_count(self) -> int:
        return sum(len(v) for v in self.diag.values())

    # ------------------------------------------------------------------ drawing
    def _mark_dirty(self, *_: object) -> None:
        self._dirty = True

    def _set_log(self, on: bool) -> None:
        self.loss_plot.item.setLogMode(x=False, y=on)
        self.loss_plot.item.setLabel("left", "loss (log scale)" if on else "loss")
        self._mark_dirty()

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        alpha = self.smooth.value() / 100.0
        self.smooth_label.setText(f"{alpha:.2f}")
        floor = 1e-8 if self.log_scale.isChecked() else -math.inf
        for key in SERIES:
            ys = [max(v, floor) for v in ema(self.values[key], alpha)]
            self.loss_plot.set_data(key, self.steps[key], ys)
        self.lam_plot.set_data("lam", self.lam_steps, self.lam)
        self.psnr_plot.set_data("psnr", self.val_steps, self.psnr)
        trained = max(
            (steps[-1] for steps in (*self.steps.values(), self.lam_steps) if steps), default=0
        )
        self.psnr_plot.redraw_range(last_step=trained)
        for plot in self.diag_plots.values():
            for field in plot.series:
                ys = self.diag[field]
                plot.set_data(field, self.diag_steps[field], ys)
        self.diag_hint.setVisible(self.diagnostics_count() == 0)

    def flush(self) -> None:
        """Draw now (before a screenshot)."""
        self._dirty = True
        self._redraw()

    def restyle(self) -> None:
        for plot in (self.loss_plot, self.lam_plot, self.psnr_plot, *self.diag_plots.values()):
            plot.restyle()
