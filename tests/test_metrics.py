"""PSNR / SSIM against scikit-image's reference implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from noiseda_core.metrics import psnr, rgb_to_y, ssim


def _pair(seed: int, h: int = 40, w: int = 37, noise: float = 0.1):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(3, h, w, generator=g)
    b = (a + noise * torch.randn(3, h, w, generator=g)).clamp(0, 1)
    return a, b


def _np(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).double().numpy()


def _sk_ssim(a: np.ndarray, b: np.ndarray, channel_axis: int | None) -> float:
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
        channel_axis=channel_axis,
    )


@pytest.mark.parametrize("seed,noise", [(0, 0.1), (1, 0.02), (2, 0.3)])
def test_rgb_matches_skimage(seed: int, noise: float) -> None:
    a, b = _pair(seed, noise=noise)
    assert psnr(a, b) == pytest.approx(
        peak_signal_noise_ratio(_np(a), _np(b), data_range=1.0), abs=1e-9
    )
    assert ssim(a, b) == pytest.approx(_sk_ssim(_np(a), _np(b), 2), abs=1e-9)


def test_y_channel_matches_skimage_on_bt601_luma() -> None:
    a, b = _pair(3)
    a, b = a.double(), b.double()
    ya = (16 + 65.481 * a[0] + 128.553 * a[1] + 24.966 * a[2]).numpy() / 255
    yb = (16 + 65.481 * b[0] + 128.553 * b[1] + 24.966 * b[2]).numpy() / 255
    assert rgb_to_y(a[None])[0, 0].numpy() == pytest.approx(ya, abs=1e-12)
    assert psnr(a, b, y_channel=True) == pytest.approx(
        peak_signal_noise_ratio(ya, yb, data_range=1.0), abs=1e-9
    )
    assert ssim(a, b, y_channel=True) == pytest.approx(_sk_ssim(ya, yb, None), abs=1e-9)
    assert psnr(a, b, y_channel=True) != pytest.approx(psnr(a, b), abs=1e-3)


def test_batches_average_per_image_scores() -> None:
    (a1, b1), (a2, b2) = _pair(4), _pair(5, noise=0.05)
    batch_a, batch_b = torch.stack([a1, a2]), torch.stack([b1, b2])
    assert psnr(batch_a, batch_b) == pytest.approx((psnr(a1, b1) + psnr(a2, b2)) / 2)
    assert ssim(batch_a, batch_b) == pytest.approx((ssim(a1, b1) + ssim(a2, b2)) / 2)


def test_identical_and_invalid_inputs() -> None:
    a, _ = _pair(6)
    assert math.isinf(psnr(a, a)) and ssim(a, a) == pytest.approx(1.0)
    small = torch.rand(3, 6, 9)
    assert ssim(small, small) == pytest.approx(1.0)  # window shrinks to fit
    with pytest.raises(ValueError, match="shape"):
        psnr(a, a[:, :10])
    with pytest.raises(ValueError, match="expected"):
        ssim(a[0], a[0])
