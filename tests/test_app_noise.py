"""The app shows the noise measured in the real photos and which weights a run kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_helpers import isolate_settings
from PIL import Image

from noiseda_core.degrade import FittedNoise
from noiseda_core.events import Finished, Validation


def _noisy_folder(folder: Path, truth: FittedNoise, count: int = 3) -> Path:
    folder.mkdir(parents=True)
    y, x = np.mgrid[0:128, 0:128] / 128
    scene = np.stack([0.1 + 0.8 * x, 0.2 + 0.6 * y, 0.3 + 0.4 * x * y], 2).astype(np.float32)
    rng = np.random.default_rng(0)
    for i in range(count):
        noisy = np.clip(truth.apply(scene, rng), 0, 1)
        Image.fromarray((noisy * 255).round().astype(np.uint8)).save(folder / f"r{i}.png")
    return folder


@pytest.fixture
def view(qtbot, tmp_path):
    isolate_settings(tmp_path)
    from app.views.setup_view import SetupView

    widget = SetupView()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_choosing_the_real_folder_shows_its_fitted_noise(qtbot, view, tmp_path):
    truth = FittedNoise(0.003, 0.0004, 0.6, 0.3)
    view.pickers["real"].set_path(_noisy_folder(tmp_path / "real", truth))
    panel = view.noise_panel
    qtbot.waitUntil(lambda: panel.fit is not None, timeout=20000)
    assert panel.isVisible() and panel.plot.isVisible()
    text = panel.text.text()
    assert "Noise in your real photos" in text and "colour correlation" in text
    xs, ys = panel.measured.getData()
    assert len(xs) >= 3
    # the measured levels sit on the fitted line (σ in 8-bit levels)
    for x, y in zip(xs, ys, strict=True):
        assert y == pytest.approx(255 * np.sqrt(truth.a * x + truth.b), rel=0.25)
    view.pickers["real"].set_path("")
    assert not panel.isVisible()


def test_the_fitted_degradation_is_a_choice_that_round_trips(qtbot, view, tmp_path):
    view.source.setCurrentIndex(view.source.findData("clean"))
    view.degradation.setCurrentIndex(view.degradation.findData("fit"))
    assert view.degradation_spec() == "fit"
    assert not view.sigma_dash.isVisible() and not view.sigma_lo.isVisible()  # no σ range
    assert view.form_values()["data"]["degradation"] == "fit"


def test_score_line_names_proxy_pairs_and_the_kept_weights():
    from app.widgets.score_line import kept_text, score_text

    proxy = Validation(
        step=200, psnr=30.5, psnr_input=24.3, count=16, psnr_start=29.2, source="proxy"
    )
    assert "16 proxy pairs" in score_text(proxy)
    best = Finished(
        step=400, kept="best", kept_step=200, kept_psnr=30.5, start_psnr=29.2, kept_source="proxy"
    )
    assert "step 200" in kept_text(best) and "+1.30 dB over the start" in kept_text(best)
    start = Finished(
        step=400, kept="start", kept_step=0, kept_psnr=29.2, start_psnr=29.2, kept_source="val"
    )
    assert "starting model, unchanged" in kept_text(start)
    assert kept_text(Finished(step=400)) == ""


def test_the_training_page_says_which_weights_were_kept(qtbot):
    from app.widgets.score_line import ScoreLine

    line = ScoreLine()
    qtbot.addWidget(line)
    line.add_validation(
        Validation(step=400, psnr=29.0, psnr_input=24.3, count=16, psnr_start=29.2, source="proxy")
    )
    line.add_finished(
        Finished(
            step=400,
            kept="start",
            kept_step=0,
            kept_psnr=29.2,
            start_psnr=29.2,
            kept_source="proxy",
        )
    )
    assert "starting model, unchanged" in line.text() and "29.00 dB" in line.text()
