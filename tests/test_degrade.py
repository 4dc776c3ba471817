"""Degradations: spec parsing, AWGN, and the camera-noise simulator's properties."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from noiseda_core.degrade import (
    AWGN,
    CameraNoise,
    add_raw_noise,
    linear_to_srgb,
    parse_degradation,
    phone_noise,
    srgb_to_linear,
)
from noiseda_core.errors import UserError


def _flat(level: float, size: int = 64) -> np.ndarray:
    return np.full((size, size, 3), level, np.float32)


def _photo(size: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.stack([xx, yy, 0.5 + 0.4 * np.sin(8 * xx) * np.cos(6 * yy)], axis=2)
    return img.astype(np.float32)


def _neighbour_corr(noise: np.ndarray) -> float:
    return float(np.corrcoef(noise[:, :-1].ravel(), noise[:, 1:].ravel())[0, 1])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("awgn:0-75", AWGN(0, 75)),
        (" AWGN : 10 - 20 ", AWGN(10, 20)),
        ("awgn:25", AWGN(25, 25)),
        ("awgn", AWGN(0, 75)),
        ("camera", CameraNoise()),
        ("camera:2-3.5", CameraNoise(2, 3.5)),
        ("phone", phone_noise()),
        ("phone:1-2", phone_noise(1, 2)),
        ("phone:1.5-2.5:2", phone_noise(1.5, 2.5, 2.0)),
    ],
)
def test_parse_and_spec_roundtrip(spec: str, expected) -> None:
    got = parse_degradation(spec)
    assert got == expected
    assert parse_degradation(got.spec) == got


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "gauss:0-10",
        "awgn:abc",
        "awgn:50-10",
        "awgn:0-300",
        "camera:0-2",
        "camera:x",
        "phone:0-1",
        "phone:5-2",
        "phone:1-2:0",
        "phone:1-2:x",
    ],
)
def test_bad_specs_raise_user_error(spec: str) -> None:
    with pytest.raises(UserError, match="degradation"):
        parse_degradation(spec)


def test_awgn_sigma_per_call_in_range_and_not_clipped() -> None:
    rng = np.random.default_rng(0)
    clean = _flat(0.0)
    stds = [float((AWGN(10, 40).apply(clean, rng) - clean).std() * 255) for _ in range(20)]
    assert min(stds) > 9 and max(stds) < 41 and max(stds) - min(stds) > 10
    fixed = AWGN(25, 25).apply(clean, np.random.default_rng(1))
    assert abs(fixed.std() * 255 - 25) < 1.5
    assert fixed.min() < 0  # not clipped: the paper adds noise on the fly
    assert fixed.dtype == np.float32 and fixed.shape == clean.shape


def test_camera_is_deterministic_and_in_range() -> None:
    cam = CameraNoise()
    clean = _photo()
    a = cam.apply(clean, np.random.default_rng(7))
    b = cam.apply(clean, np.random.default_rng(7))
    c = cam.apply(clean, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape == clean.shape
    assert a.min() >= 0.0 and a.max() <= 1.0
    odd = cam.apply(_photo(64)[:33, :47], np.random.default_rng(0))  # odd sides
    assert odd.shape == (33, 47, 3)


def test_camera_without_noise_returns_the_input() -> None:
    """The unprocess/process round trip is exact up to 16-bit steps: only the noise changes."""
    silent = CameraNoise(jpeg=None, shot_range=(1e-12, 1e-12))
    clean = np.clip(_photo(), 0.02, 0.98)
    out = silent.apply(clean, np.random.default_rng(3))
    assert np.abs(out - clean).max() < 2e-3


def test_tone_curve_inverts() -> None:
    x = np.linspace(0.01, 0.99, 50, dtype=np.float32)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-4)


def test_raw_noise_variance_follows_signal() -> None:
    rng = np.random.default_rng(0)
    shot, read = 0.01, 1e-4
    for level in (0.1, 0.8):
        raw = np.full((200, 200), level, np.float32)
        var = float((add_raw_noise(raw, shot, read, rng) - raw).var())
        assert abs(var - (shot * level + read)) < 0.1 * (shot * level + read)


def test_camera_noise_is_signal_dependent_in_linear_space() -> None:
    cam = CameraNoise(jpeg=None)
    for seed in range(3):  # same seed → same camera and noise levels for both images
        variances = []
        for level in (0.2, 0.75):
            clean = _flat(level)
            out = cam.apply(clean, np.random.default_rng(seed))
            variances.append(float((srgb_to_linear(out) - srgb_to_linear(clean)).var()))
        assert variances[1] > 2.0 * variances[0]


def test_camera_noise_is_spatially_correlated_and_coloured_unlike_awgn() -> None:
    clean = _flat(0.5)
    cam = [CameraNoise().apply(clean, np.random.default_rng(s)) - clean for s in range(4)]
    awgn = [AWGN(20, 20).apply(clean, np.random.default_rng(s)) - clean for s in range(4)]
    assert min(_neighbour_corr(n) for n in cam) > 0.3
    assert max(abs(_neighbour_corr(n)) for n in awgn) < 0.08

    def channel_corr(n: np.ndarray) -> float:
        return abs(float(np.corrcoef(n[..., 0].ravel(), n[..., 1].ravel())[0, 1]))

    assert max(channel_corr(n) for n in cam) > 0.1
    assert max(channel_corr(n) for n in awgn) < 0.08
    assert not np.allclose(cam[0][..., 0], cam[0][..., 1])  # not grey noise


def test_strength_scales_the_noise() -> None:
    clean = _photo()
    mild = [CameraNoise(1, 1).apply(clean, np.random.default_rng(s)) - clean for s in range(3)]
    strong = [CameraNoise(4, 4).apply(clean, np.random.default_rng(s)) - clean for s in range(3)]
    for a, b in zip(mild, strong, strict=True):
        assert b.std() > 1.3 * a.std()


def test_default_camera_noise_is_strong_but_not_destructive() -> None:
    clean = _photo()
    psnrs = []
    for seed in range(12):
        out = CameraNoise().apply(clean, np.random.default_rng(seed))
        psnrs.append(10 * np.log10(1.0 / float(((out - clean) ** 2).mean())))
    assert 20.0 < float(np.median(psnrs)) < 32.0


def test_phone_noise_is_strong_and_without_jpeg() -> None:
    clean = _photo(96)
    psnrs = []
    for seed in range(8):
        noisy = phone_noise().apply(clean, np.random.default_rng(seed))
        psnrs.append(10 * np.log10(1.0 / float(((noisy - clean) ** 2).mean())))
    assert 19.0 < float(np.median(psnrs)) < 27.0  # a smartphone in low light
    assert phone_noise().jpeg is None


def test_blurred_phone_noise_is_correlated_beyond_a_pixel() -> None:
    """The earlier benchmark's model ("phone:LO-HI:BLUR"), kept to repeat old results."""
    clean = _photo(96)
    psnrs, lag1, lag3, cam_lag3 = [], [], [], []
    for seed in range(8):
        noisy = phone_noise(1.5, 2.5, 1.2).apply(clean, np.random.default_rng(seed))
        psnrs.append(10 * np.log10(1.0 / float(((noisy - clean) ** 2).mean())))
        noise = noisy - clean
        lag1.append(_neighbour_corr(noise))
        lag3.append(float(np.corrcoef(noise[:, :-3].ravel(), noise[:, 3:].ravel())[0, 1]))
        cam = CameraNoise(jpeg=None).apply(clean, np.random.default_rng(seed)) - clean
        cam_lag3.append(float(np.corrcoef(cam[:, :-3].ravel(), cam[:, 3:].ravel())[0, 1]))
    assert 19.0 < float(np.median(psnrs)) < 27.0  # a smartphone in low light
    assert min(lag1) > 0.6  # a white-noise denoiser sees only a fraction of it
    assert float(np.mean(lag3)) > float(np.mean(cam_lag3)) + 0.1  # wider than demosaicking


def test_phone_noise_without_signal_noise_returns_the_input() -> None:
    clean = _photo()
    for isp in (False, True):
        quiet = CameraNoise(
            jpeg=None,
            blur=0.0 if isp else 1.2,
            isp=isp,
            shot_range=(1e-12, 1e-12),
            lo=1e-6,
            hi=1e-6,
        )
        out = quiet.apply(clean, np.random.default_rng(0))
        assert np.abs(out - clean).max() < 2e-3


# --------------------------------------------------------------------------- on the device


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).numpy()


@pytest.mark.parametrize("blur", [0.0, 0.8])
def test_fitted_noise_on_tensors_is_the_numpy_model_for_the_same_draws(blur: float) -> None:
    from noiseda_core.degrade import FittedNoise

    noise = FittedNoise(a=0.01, b=0.0004, blur=blur, rho=0.3)
    clean = torch.rand(2, 3, 20, 24, generator=torch.Generator().manual_seed(0))
    out = noise.apply_torch(clean, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)  # the draws apply_torch makes, in its order
    own, shared = torch.randn((2, 3, 20, 24), generator=g), torch.randn((2, 1, 20, 24), generator=g)
    for i in range(2):
        expected = noise.noisy(_hwc(clean[i]), noise.field_from(_hwc(own[i]), _hwc(shared[i])))
        np.testing.assert_allclose(_hwc(out[i]), expected, atol=2e-5)


def test_awgn_on_tensors_draws_sigma_per_sample_like_numpy() -> None:
    clean = torch.full((64, 3, 16, 16), 0.5)
    out = AWGN(10, 40).apply_torch(clean, torch.Generator().manual_seed(1))
    sigmas = (out - clean).flatten(1).std(dim=1) * 255
    cpu = [AWGN(10, 40).apply(_hwc(c), np.random.default_rng(i)) for i, c in enumerate(clean)]
    cpu_sigmas = np.array([np.std(c - 0.5) * 255 for c in cpu])
    assert float(sigmas.min()) > 8 and float(sigmas.max()) < 43  # U[10, 40] per sample
    assert abs(float(sigmas.mean()) - cpu_sigmas.mean()) < 3.0  # same distribution (mean 25)
    again = AWGN(10, 40).apply_torch(clean, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)  # the same generator state, the same noise


def test_the_gaussian_blur_on_tensors_is_opencvs() -> None:
    from noiseda_core.degrade import gaussian_blur_torch

    x = np.random.default_rng(0).standard_normal((18, 21, 3)).astype(np.float32)
    expected = cv2.GaussianBlur(x, (0, 0), sigmaX=1.3, borderType=cv2.BORDER_REFLECT_101)
    got = gaussian_blur_torch(torch.from_numpy(x).permute(2, 0, 1)[None], 1.3)[0]
    np.testing.assert_allclose(_hwc(got), expected, atol=1e-5)
