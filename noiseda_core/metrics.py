"""PSNR and SSIM as used in the image-restoration literature.

Both take ``(3, H, W)`` or ``(B, 3, H, W)`` tensors in [0, 1] and return a
float (the mean over the batch). ``y_channel=True`` first converts RGB to the
ITU-R BT.601 luma used in restoration papers:
``Y = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255`` (in [16/255, 235/255]).

SSIM: Gaussian window 11×11, σ = 1.5, K1 = 0.01, K2 = 0.03, population
(co)variances, averaged over the "valid" positions where the whole window fits
(the same numbers as scikit-image's ``structural_similarity`` with
``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``), and over
channels. Images smaller than 11 pixels use the largest odd window that fits.
Computed in float64.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

_Y_WEIGHTS = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)


def _batch(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().to("cpu", torch.float64)
    if t.ndim == 3:
        t = t[None]
    if t.ndim != 4 or t.shape[1] != 3:
        raise ValueError(f"expected (3, H, W) or (B, 3, H, W), got {tuple(t.shape)}")
    return t


def rgb_to_y(t: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` RGB in [0, 1] → ``(B, 1, H, W)`` BT.601 luma in [16/255, 235/255]."""
    r, g, b = t[:, 0:1], t[:, 1:2], t[:, 2:3]
    return 16.0 / 255.0 + _Y_WEIGHTS[0] * r + _Y_WEIGHTS[1] * g + _Y_WEIGHTS[2] * b


def _prepare(
    a: torch.Tensor, b: torch.Tensor, y_channel: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _batch(a), _batch(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    if y_channel:
        a, b = rgb_to_y(a), rgb_to_y(b)
    return a, b


def psnr(
    a: torch.Tensor, b: torch.Tensor, *, y_channel: bool = False, data_range: float = 1.0
) -> float:
    """Peak signal-to-noise ratio in dB (per image, then averaged; ``inf`` if identical)."""
    a, b = _prepare(a, b, y_channel)
    mse = ((a - b) ** 2).flatten(1).mean(dim=1)
    values = [math.inf if m == 0 else 10.0 * math.log10(data_range**2 / m) for m in mse.tolist()]
    return sum(values) / len(values)


def _gaussian_1d(size: int, sigma: float) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(
    a: torch.Tensor, b: torch.Tensor, *, y_channel: bool = False, data_range: float = 1.0
) -> float:
    """Structural similarity (mean over valid window positions, channels, batch)."""
    a, b = _prepare(a, b, y_channel)
    size = min(11, min(a.shape[-2:]))
    size -= 1 - size % 2  # odd
    kernel = _gaussian_1d(size, 1.5).numpy()
    half = size // 2

    def blur_all(*maps: torch.Tensor) -> list[torch.Tensor]:
        # The 2-D Gaussian window is separable; OpenCV filters float64 maps fast. Only
        # the "valid" positions (the whole window inside the image) are kept.
        out = []
        for m in maps:
            arr = m.numpy()
            filtered = np.empty_like(arr)
            for i in range(arr.shape[0]):
                for c in range(arr.shape[1]):
                    filtered[i, c] = cv2.sepFilter2D(arr[i, c], cv2.CV_64F, kernel, kernel)
            h, w = arr.shape[-2:]
            out.append(torch.from_numpy(filtered[..., half : h - half, half : w - half]))
        return out

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b, aa, bb, ab = blur_all(a, b, a * a, b * b, a * b)
    var_a = aa - mu_a**2
    var_b = bb - mu_b**2
    cov = ab - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return float(s.flatten(1).mean(dim=1).mean())
