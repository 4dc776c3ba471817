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


def _noisy_scene(truth: FittedNoise, count: int = 2) -> list[np.ndarray]:
    y, x = np.mgrid[0:96, 0:96] / 96
    scene = np.stack([0.1 + 0.8 * x, 0.2 + 0.6 * y, 0.3 + 0.4 * x * y], 2).astype(np.float32)
    rng = np.random.default_rng(1)
    return [np.clip(truth.apply(scene, rng), 0, 1) for _ in range(count)]


def test_the_panel_shows_measured_and_fitted_autocorrelation(qtbot, view):
    from noiseda_core.noise_fit import field_stats, fit_images

    truth = FittedNoise(0.002, 0.0006, 0.9, 0.4)  # visibly correlated: lag 1 ≈ 0.7
    fit = fit_images(_noisy_scene(truth))
    panel = view.noise_panel
    panel.show_fit(fit)
    _, real = panel.corr_real.getData()
    _, fitted = panel.corr_fitted.getData()
    assert list(real) == pytest.approx([1.0, fit.lag1, fit.lag2])
    simulated = field_stats(truth.field((192, 192), np.random.default_rng(5)))
    # the fitted model's curve is the truth's, simulated (not the measured values again)
    assert fitted[1] == pytest.approx(simulated["lag1"], abs=0.12)
    assert fitted[2] == pytest.approx(simulated["lag2"], abs=0.12)
    assert fitted[1] > 0.5 and fitted[2] > 0.2
    text = panel.text.text()
    assert f"{fit.lag1:.2f}" in text and f"{fit.lag2:.2f}" in text
    assert f"fitted model {fitted[1]:.2f}, {fitted[2]:.2f}" in text


def test_the_panel_says_the_chosen_strength_why_and_where_to_change_it(qtbot, view):
    from noiseda_core.noise_fit import fit_images

    opts = view.options
    opts.lambda_weight.setValue(0.2)
    opts.lr.setValue(5e-4)
    panel = view.noise_panel
    assert not panel.choice.isVisibleTo(view)  # nothing measured yet: nothing to say
    panel.show_fit(fit_images(_noisy_scene(FittedNoise(0.003, 0.0004, 0.3, 0.3))))
    text = panel.choice.text()
    assert panel.choice.isVisibleTo(view)
    assert "λ 0.2" in text and "learning rate <b>5e-4</b>" in text and "Why:" in text
    assert "proxy pairs (no validation pairs chosen)" in text
    assert "wipe detail off them are never kept (the detail check" in text
    opts.lambda_weight.setValue(1.5)
    opts.lr.setValue(1e-4)
    text = panel.choice.text()
    assert "λ 1.5 is yours" in text and "lr 1e-4 is the form's" in text
    view.pickers["val"].set_path("/somewhere/val")
    assert "by the validation pairs" in panel.choice.text()
    assert "detail check" not in panel.choice.text()  # real pairs: their PSNR decides
    opts.keep_best.setCurrentIndex(opts.keep_best.findData("off"))
    assert "keeps the last weights" in panel.choice.text()
    opts.lambda_choice.setCurrentIndex(opts.lambda_choice.findData("trial"))
    opts.lambda_candidates.setCurrentIndex(opts.lambda_candidates.findData("0.2,0.5,2"))
    text = panel.choice.text()
    assert "<b>λ 0.2 or 0.5 or 2</b>, chosen by a short trial" in text
    assert "scores best on the validation pairs" in text
    opts.lambda_choice.setCurrentIndex(opts.lambda_choice.findData("fixed"))
    opts.mode.setCurrentIndex(opts.mode.findData("baseline"))
    assert "no adaptation (baseline mode)" in panel.choice.text()
    assert not opts.advanced.isVisibleTo(view)
    panel.choice.linkActivated.emit("advanced")  # "Change them"
    assert opts.advanced.isVisibleTo(view) and opts.toggle.isChecked()


def test_the_panel_says_what_the_diffusion_model_starts_from(qtbot, view):
    from noiseda_core.config import apply_overrides, config_from_dict
    from noiseda_core.demo_config import DEMO_CONFIG
    from noiseda_core.noise_fit import fit_images

    demo = config_from_dict({k: dict(v) for k, v in DEMO_CONFIG.items()})
    view.set_config(apply_overrides(demo, ["data.synthetic=", "data.real=", "data.val="]))
    view.noise_panel.show_fit(fit_images(_noisy_scene(FittedNoise(0.003, 0.0004, 0.3, 0.3))))
    text = view.noise_panel.choice.text()
    assert "starts from the shipped 'tiny' denoiser (builtin:tiny): it already knows" in text
    opts = view.options
    opts.denoiser.setCurrentIndex(opts.denoiser.findData("small"))  # a GPU-sized one
    text = view.noise_panel.choice.text()
    assert "no 'small' denoiser is shipped)." in text and "already knows" not in text
    assert view.current_config().model.init_denoiser == "builtin:auto"  # kept for Start
    opts.mode.setCurrentIndex(opts.mode.findData("baseline"))
    assert "diffusion model" not in view.noise_panel.choice.text()  # baseline has none


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
