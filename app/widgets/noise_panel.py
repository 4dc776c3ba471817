"""What the noise in the user's real photos looks like, and what the run does with it.

    panel = NoisePanel(); panel.measure("/photos/real")   # fitted off the GUI thread
    panel.show_choice(train_table, has_val=True)          # the form's [train] values

Shows the level of the noise against brightness (measured in flat areas, dots; the
fitted sensor-noise line), its autocorrelation at 1 and 2 px and its colour
correlation (measured in the photos beside the fitted model's, simulated), and what
the run chose with it: the adaptation strength λ, the learning rate and which weights
it keeps, with why, and where to change them (Training › Advanced).
"""

from __future__ import annotations

import math
import os
from typing import Any

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import Signal  # noqa: E402
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget  # noqa: E402

from noiseda_core.demo_config import FLOW_LAMBDA, FLOW_LR  # noqa: E402
from noiseda_core.errors import UserError  # noqa: E402

from ..tasks import run_in_thread  # noqa: E402

SIMULATED_SIDE = 192  # px of the fitted noise drawn to measure its statistics (a few ms)
REAL, FITTED = "#2563eb", "#f97316"
KEEP_WORDS = {  # keep_best → what the run exports
    "auto": "the best weights by the validation pairs",
    "val": "the best weights by the validation pairs",
    "proxy": "the best weights by the proxy pairs",
    "off": "the last weights",
}


def simulated_stats(fit: Any, seed: int = 0) -> dict[str, float]:
    """Autocorrelation (lags 1, 2) and colour correlation of the fitted model's noise."""
    from noiseda_core.noise_fit import field_stats

    rng = np.random.default_rng(seed)
    return field_stats(fit.degradation.field((SIMULATED_SIDE, SIMULATED_SIDE), rng))


def describe_fit(fit: Any, simulated: dict[str, float]) -> str:
    """Rich text: the measured noise and the fitted model's, side by side."""
    dark, bright = fit.std_at(0.1), fit.std_at(0.9)
    return (
        f"Noise in your real photos: <b>σ {dark:.1f}–{bright:.1f}</b> (8-bit levels, "
        f"dark–bright) · autocorrelation at 1 px <b>{fit.lag1:.2f}</b>, 2 px "
        f"<b>{fit.lag2:.2f}</b> (fitted model {simulated['lag1']:.2f}, "
        f"{simulated['lag2']:.2f}) · colour correlation <b>{fit.chroma:+.2f}</b> (fitted "
        f"{simulated['chroma']:+.2f}) · {fit.blocks} flat areas in {fit.images} photos. "
        "The run trains on clean photos with the fitted noise (the <i>Fitted to my real "
        "photos</i> degradation) and scores proxy pairs made with it."
    )


def short_number(value: float) -> str:
    """``5e-4`` for 0.0005, ``0.2`` for 0.2: learning rates as people write them."""
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:g}"
    mantissa, exponent = f"{value:.3e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def describe_choice(
    train: dict[str, Any], has_val: bool, denoiser: str = "", pretrained: bool = False
) -> str:
    """Rich text: the run's strength, learning rate and kept weights, why, and a link to
    change them (``href="advanced"``). ``denoiser``: what the diffusion model starts from,
    in words (``denoiser_start.starting_denoiser_name``); ``pretrained``: trained weights."""
    keep = str(train.get("keep_best", "auto"))
    kept = KEEP_WORDS.get(keep, keep)
    if keep == "auto" and not has_val:
        kept = "the best weights by the proxy pairs (no validation pairs chosen)"
    lr = float(train.get("lr", FLOW_LR))
    rate = short_number(lr)
    weight = float(train.get("lambda_weight", FLOW_LAMBDA))
    baseline = train.get("mode") == "baseline"
    trial = str(train.get("lambda_choice", "fixed")) == "trial"
    strength = "no adaptation (baseline mode)" if baseline else f"<b>λ {weight:g}</b>"
    why = []
    if baseline:
        why.append("baseline mode trains on the synthetic pairs only.")
    elif trial:
        candidates = " or ".join(
            f"{float(c):g}" for c in str(train.get("lambda_candidates", "")).split(",") if c
        )
        steps = int(train.get("lambda_trial_steps", 30))
        pairs = "validation pairs" if has_val else "proxy pairs"
        strength = f"<b>λ {candidates}</b>, chosen by a short trial"
        why.append(
            f"no single λ suits every camera, so the run trains {steps} steps with each, from "
            f"the same start, and goes on with the one that scores best on the {pairs} "
            "(the Training page shows the scores)."
        )
    elif math.isclose(weight, FLOW_LAMBDA):
        why.append(
            f"λ {FLOW_LAMBDA:g}, the paper's, gained about 2.3 dB over the start on real phone "
            "photos; "
            "a larger λ helped only strong, blotchy noise and cost up to 2 dB on mild noise."
        )
    else:
        why.append(f"λ {weight:g} is yours (the default flow's: {FLOW_LAMBDA:g}).")
    if math.isclose(lr, FLOW_LR):
        why.append(
            f"{short_number(FLOW_LR)} adapts within minutes (the paper's 1e-4 was too slow)."
        )
    else:
        why.append(f"lr {rate} is the form's (the default flow's: {short_number(FLOW_LR)}).")
    if denoiser and not baseline:
        knows = ": it already knows the noise schedule, so the first steps count"
        why.append(
            f"The diffusion model (used only while training) starts from {denoiser}"
            f"{knows if pretrained else ''}."
        )
    if keep != "off":
        why.append(
            "The best weights, the start's included: never worse than the start on those pairs."
        )
        if keep == "proxy" or (keep == "auto" and not has_val):
            why.append(
                "Proxy pairs cannot see your real photos, so weights that wipe detail off "
                "them are never kept (the detail check, on the Training page)."
            )
    return (
        f"<b>The run:</b> adaptation strength {strength} · learning rate <b>{rate}</b> · "
        f'keeps {kept} · <a href="advanced">change them</a> (Advanced)<br>'
        f"Why: {' '.join(why)}"
    )


def _plot(bottom: str, left: str, tip: str) -> pg.PlotWidget:
    plot = pg.PlotWidget()
    plot.setFixedHeight(130)
    plot.setBackground(None)
    plot.setLabel("bottom", bottom)
    plot.setLabel("left", left)
    plot.setMouseEnabled(False, False)
    plot.hideButtons()
    plot.setToolTip(tip)
    return plot


class NoisePanel(QWidget):
    """Hidden until a real folder was measured: the fit's text, two plots, the run's choice.

    Emits ``change_requested`` when the user follows the choice's *Change them* link.
    """

    change_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fit: Any | None = None
        self.simulated: dict[str, float] = {}
        self._token = 0
        self._choice: tuple[dict[str, Any], bool, str, bool] | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 2, 0, 2)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setObjectName("noiseSummary")
        lay.addWidget(self.text)
        self.plot = _plot(
            "brightness",
            "noise σ",
            "Dots: the noise measured in flat areas of your photos, by "
            "brightness. Line: the sensor-noise model fitted to them "
            "(variance = a·brightness + b).",
        )
        self.measured = self.plot.plot(
            [], [], pen=None, symbol="o", symbolSize=6, symbolBrush=REAL, name="your photos"
        )
        self.line = self.plot.plot([], [], pen=pg.mkPen(FITTED, width=2), name="fitted")
        self.corr_plot = _plot(
            "distance (px)",
            "autocorrelation",
            "How alike the noise of pixels 0, 1 and 2 px apart is. Dots: measured in your "
            "photos; line: the fitted noise, simulated. Near 0 at 1 px: fine grain; near "
            "1: blotches.",
        )
        self.corr_plot.setYRange(-0.1, 1.05)
        self.corr_plot.setXRange(-0.2, 2.2)
        self.corr_plot.getAxis("bottom").setTicks([[(0, "0"), (1, "1"), (2, "2")]])
        self.corr_real = self.corr_plot.plot(
            [], [], pen=None, symbol="o", symbolSize=8, symbolBrush=REAL
        )
        self.corr_fitted = self.corr_plot.plot(
            [], [], pen=pg.mkPen(FITTED, width=2), symbol="t", symbolBrush=FITTED
        )
        self.plots = QWidget()  # both plots and their legend
        column = QVBoxLayout(self.plots)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        row = QHBoxLayout()
        row.addWidget(self.plot, 3)
        row.addWidget(self.corr_plot, 2)
        column.addLayout(row)
        legend = QLabel(
            f'<span style="color:{REAL}">●</span> your photos (flat areas) &nbsp; '
            f'<span style="color:{FITTED}">━</span> the fitted noise model'
        )
        legend.setObjectName("hint")
        column.addWidget(legend)
        lay.addWidget(self.plots)
        self.choice = QLabel()
        self.choice.setWordWrap(True)
        self.choice.setObjectName("noiseChoice")
        self.choice.linkActivated.connect(lambda _link: self.change_requested.emit())
        lay.addWidget(self.choice)
        self.setVisible(False)

    def measure(self, folder: str) -> None:
        """Fit the noise of ``folder`` off the GUI thread (a newer call wins)."""
        from pathlib import Path

        self._token += 1
        token = self._token
        if not folder:
            self.clear()
            return
        self.text.setText("Measuring the noise in your real photos…")
        self.plots.setVisible(False)
        self.choice.setVisible(False)
        self.setVisible(True)

        def work() -> tuple[int, Any | None, dict[str, float], str]:
            from noiseda_core.noise_fit import fit_folder

            try:
                fit = fit_folder(Path(folder))
            except UserError as exc:
                return token, None, {}, str(exc)
            return token, fit, simulated_stats(fit), ""

        # a bound method: a panel closed meanwhile is not called back (tasks.run_in_thread)
        run_in_thread(work, on_done=self._show)

    def _show(self, result: tuple[int, Any | None, dict[str, float], str]) -> None:
        token, fit, simulated, message = result
        if token != self._token:
            return
        if fit is None:
            self._failed(token, message)
        else:
            self.show_fit(fit, simulated)

    def show_fit(self, fit: Any, simulated: dict[str, float] | None = None) -> None:
        """Show a fit (``simulated``: its model's statistics, measured here when not given)."""
        self.fit = fit
        self.simulated = simulated if simulated is not None else simulated_stats(fit)
        self.text.setText(describe_fit(fit, self.simulated))
        levels = list(fit.levels)
        self.measured.setData([x for x, _ in levels], [y for _, y in levels])
        xs = np.linspace(0.0, 1.0, 50)
        self.line.setData(xs, [fit.std_at(float(x)) for x in xs])
        self.corr_real.setData([0, 1, 2], [1.0, fit.lag1, fit.lag2])
        self.corr_fitted.setData([0, 1, 2], [1.0, self.simulated["lag1"], self.simulated["lag2"]])
        self.plots.setVisible(True)
        self.setVisible(True)
        self._show_choice()

    def show_choice(
        self, train: dict[str, Any], has_val: bool, denoiser: str = "", pretrained: bool = False
    ) -> None:
        """The form's ``[train]`` values: what the run will use (shown once a fit is)."""
        self._choice = (dict(train), has_val, denoiser, pretrained)
        self._show_choice()

    def _show_choice(self) -> None:
        if self._choice is None or self.fit is None:
            self.choice.setVisible(False)
            return
        self.choice.setText(describe_choice(*self._choice))
        self.choice.setVisible(True)

    def _failed(self, token: int, message: str) -> None:
        if token != self._token:
            return
        self.fit = None
        self.text.setText(f"Could not measure the noise: {message}")
        self.plots.setVisible(False)
        self.choice.setVisible(False)

    def clear(self) -> None:
        self.fit = None
        self.text.setText("")
        self.choice.setVisible(False)
        self.setVisible(False)
