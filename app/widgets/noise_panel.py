"""What the noise in the user's real photos looks like, as the run will use it.

    panel = NoisePanel(); panel.measure("/photos/real")   # fitted off the GUI thread

Shows the level of the noise against brightness (measured in flat areas, dots; the
fitted sensor-noise line), its correlation between neighbouring pixels and between
colours (measured, and what the fitted model gives), and what the run does with it:
proxy pairs that pick the weights to keep, and the ``fit`` synthetic degradation.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from noiseda_core.errors import UserError

from ..tasks import run_in_thread

if TYPE_CHECKING:
    from noiseda_core.noise_fit import NoiseFit


def fitted_lag1(blur: float) -> float:
    """Lag-1 autocorrelation of the fitted model's field (white noise blurred by ``blur`` px)."""
    return 0.0 if blur <= 0 else math.exp(-1.0 / (4.0 * blur * blur))


def describe_fit(fit: NoiseFit) -> str:
    """Rich text: the measured noise and the fitted model side by side."""
    lag1, lag2, chroma = (float(getattr(fit, k)) for k in ("lag1", "lag2", "chroma"))
    blur, rho = float(fit.blur), float(fit.rho)
    dark, bright = fit.std_at(0.1), fit.std_at(0.9)
    return (
        f"Noise in your real photos: <b>σ {dark:.1f}–{bright:.1f}</b> (8-bit levels, dark–"
        f"bright) · neighbour correlation <b>{lag1:.2f}</b> (fitted model {fitted_lag1(blur):.2f};"
        f" 2 px: {lag2:.2f}) · colour correlation <b>{chroma:+.2f}</b> (fitted {rho:+.2f}) · "
        f"{fit.blocks} flat areas in {fit.images} photos.<br>"  # type: ignore[attr-defined]
        "Used for the proxy pairs that choose the weights to keep (held-out clean photos "
        "with this noise) and by the <i>Fitted to my real photos</i> degradation."
    )


class NoisePanel(QWidget):
    """Hidden until a real folder was measured; a line of text and a level-vs-brightness plot."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fit: NoiseFit | None = None
        self._token = 0
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 2, 0, 2)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setObjectName("noiseSummary")
        lay.addWidget(self.text)
        self.plot = pg.PlotWidget()
        self.plot.setFixedHeight(120)
        self.plot.setBackground(None)
        self.plot.setLabel("bottom", "brightness")
        self.plot.setLabel("left", "noise σ")
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.measured = self.plot.plot(
            [], [], pen=None, symbol="o", symbolSize=6, symbolBrush="#2563eb", name="measured"
        )
        self.line = self.plot.plot([], [], pen=pg.mkPen("#f97316", width=2), name="fitted")
        self.plot.setToolTip(
            "Dots: the noise measured in flat areas of your photos, by "
            "brightness. Line: the sensor-noise model fitted to them "
            "(variance = a·brightness + b)."
        )
        lay.addWidget(self.plot)
        self.setVisible(False)

    def measure(self, folder: str) -> None:
        """Fit the noise of ``folder`` off the GUI thread (a newer call wins)."""
        from pathlib import Path

        from noiseda_core.noise_fit import fit_folder

        self._token += 1
        token = self._token
        if not folder:
            self.clear()
            return
        self.text.setText("Measuring the noise in your real photos…")
        self.plot.setVisible(False)
        self.setVisible(True)

        def work() -> tuple[int, NoiseFit | None, str]:
            try:
                return token, fit_folder(Path(folder)), ""
            except UserError as exc:
                return token, None, str(exc)

        # a bound method: a panel closed meanwhile is not called back (tasks.run_in_thread)
        run_in_thread(work, on_done=self._show)

    def _show(self, result: tuple[int, NoiseFit | None, str]) -> None:
        token, fit, message = result
        if token != self._token:
            return
        if fit is None:
            self._failed(token, message)
        else:
            self.show_fit(fit)

    def show_fit(self, fit: NoiseFit) -> None:
        self.fit = fit
        self.text.setText(describe_fit(fit))
        levels = fit.levels
        self.measured.setData([x for x, _ in levels], [y for _, y in levels])
        xs = np.linspace(0.0, 1.0, 50)
        self.line.setData(xs, [fit.std_at(float(x)) for x in xs])  # type: ignore[attr-defined]
        self.plot.setVisible(True)
        self.setVisible(True)

    def _failed(self, token: int, message: str) -> None:
        if token != self._token:
            return
        self.fit = None
        self.text.setText(f"Could not measure the noise: {message}")
        self.plot.setVisible(False)

    def clear(self) -> None:
        self.fit = None
        self.text.setText("")
        self.setVisible(False)
