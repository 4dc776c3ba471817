"""The sensor-noise fit recovers known parameters; the recalibrated "phone" noise is camera-like."""

from __future__ import annotations

import numpy as np
import pytest

from noiseda_core.degrade import FittedNoise, parse_degradation
from noiseda_core.errors import UserError
from noiseda_core.noise_fit import field_stats, fit_images


def _scene(side: int = 192) -> np.ndarray:
    """A smooth colour scene with every brightness: ramps and a slow wave."""
    y, x = np.mgrid[0:side, 0:side] / side
    return np.stack(
        [0.1 + 0.8 * x, 0.2 + 0.6 * y, 0.5 + 0.3 * np.sin(6 * x) * np.cos(4 * y)], axis=2
    ).astype(np.float32)


@pytest.mark.parametrize(
    "truth", [FittedNoise(0.004, 0.0004, 0.6, 0.3), FittedNoise(0.0, 0.0025, 0.0, 0.0)]
)
def test_fit_recovers_known_parameters(truth: FittedNoise) -> None:
    rng = np.random.default_rng(1)
    images = [np.clip(truth.apply(_scene(), rng), 0, 1) for _ in range(4)]
    fit = fit_images(images)
    level = lambda f, i: f.a * i + f.b  # noqa: E731 - variance at intensity i
    for intensity in (0.2, 0.5, 0.8):
        assert level(fit, intensity) == pytest.approx(level(truth, intensity), rel=0.15)
    assert fit.blur == pytest.approx(truth.blur, abs=0.15)
    assert fit.rho == pytest.approx(truth.rho, abs=0.07)


def test_fit_tells_white_from_correlated_noise() -> None:
    rng = np.random.default_rng(2)
    white = fit_images([np.clip(FittedNoise(0, 0.001).apply(_scene(), rng), 0, 1)])
    blurred = fit_images([np.clip(FittedNoise(0, 0.001, 1.0, 0.5).apply(_scene(), rng), 0, 1)])
    assert white.lag1 < 0.1 < 0.5 < blurred.lag1
    assert white.chroma < 0.1 < 0.4 < blurred.chroma


def test_fit_refuses_photos_without_flat_areas() -> None:
    with pytest.raises(UserError, match="flat"):
        fit_images([np.zeros((20, 20, 3), np.float32)])


def test_a_folder_too_busy_to_measure_is_named_with_what_to_do(tmp_path) -> None:
    from PIL import Image

    from noiseda_core.noise_fit import fit_folder

    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(
            tmp_path / f"{i}.png"
        )
    with pytest.raises(UserError, match=f"{tmp_path}.*flat.*awgn") as info:
        fit_folder(tmp_path)
    assert "\n" not in str(info.value)


def test_fitted_spec_round_trips_and_bad_specs_are_refused() -> None:
    noise = FittedNoise(0.0031, 0.00042, 0.62, 0.28)
    again = parse_degradation(noise.spec)
    assert again == FittedNoise(0.0031, 0.00042, 0.62, 0.28)
    for bad in ("fit", "fit:1,2", "fit:0.1,0.1,0.5,1.5", "fit:a,b,c,d"):
        with pytest.raises(UserError):
            parse_degradation(bad)


def test_phone_noise_matches_smartphone_statistics() -> None:
    """Targets: real smartphone sRGB noise (lag 1 ≈ 0.44, lag 2 ≈ 0.06, low-frequency share
    ≈ 0.21, chroma ≈ +0.32); the earlier blurred model is far off (0.93, 0.77, 0.9, −0.2)."""
    rng = np.random.default_rng(0)
    clean = _scene(128) * 0.8 + 0.1
    fields = [parse_degradation("phone").apply(clean, rng) - clean for _ in range(3)]
    stats = {k: np.mean([field_stats(f)[k] for f in fields]) for k in field_stats(fields[0])}
    assert stats["lag1"] == pytest.approx(0.44, abs=0.08)
    assert stats["lag2"] == pytest.approx(0.06, abs=0.08)
    assert stats["low_share"] == pytest.approx(0.21, abs=0.08)
    assert stats["chroma"] == pytest.approx(0.32, abs=0.1)
    old = field_stats(parse_degradation("phone:1.5-2.5:2").apply(clean, rng) - clean)
    assert old["lag1"] > 0.85 and old["chroma"] < 0
