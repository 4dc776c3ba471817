"""A no-ground-truth estimate of the noise in an image (the wavelet blind estimator).

Donoho's median-absolute-deviation rule on the finest diagonal sub-band of a ``db2``
wavelet transform (what ``skimage.restoration.estimate_sigma`` computes; PyWavelets is
called directly because importing scikit-image pulls SciPy into the training process,
and SciPy's BLAS start-up once hung a run under a memory limit) estimates the standard
deviation of additive white Gaussian noise from the image alone. Camera noise after
demosaicking and an ISP is correlated over a few pixels, which the finest sub-band of
the full image barely sees (on the benchmark's ``phone`` crops: 3.4 noisy vs 3.1 clean,
while the true noise std is 19.8). So the estimator runs on the image downscaled 2× (2×2
area mean), where such noise is nearly white (same crops: 6.9 noisy vs 3.5 clean); white
noise reads half its full-resolution σ there. The value is in 8-bit levels, averaged
over the colour channels: read it as a trend during adaptation, not as an absolute level
(a restorer that also smooths texture reads below the clean image).
"""

from __future__ import annotations

import numpy as np
import torch

NORMAL_Q75 = 0.6744897501960817  # the 75th percentile of the standard normal distribution


def wavelet_sigma(channel: np.ndarray) -> float:
    """Noise σ of one 2-D channel: median |finest diagonal db2 coefficient| / ``NORMAL_Q75``.

    Coefficients that are exactly zero (flat or clipped areas) are left out.
    """
    import pywt  # pyright: ignore[reportMissingTypeStubs]

    detail = pywt.dwtn(channel, wavelet="db2")["dd"]
    detail = detail[detail != 0]
    return float(np.median(np.abs(detail))) / NORMAL_Q75 if detail.size else 0.0


def blind_noise_sigma(image: torch.Tensor) -> float:
    """Estimated noise σ (0-255 levels, at half resolution) of ``image`` (3, H, W) in [0, 1]."""
    import cv2

    array = image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    h, w = array.shape[:2]
    if min(h, w) >= 16:
        array = cv2.resize(array, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    return float(np.mean([wavelet_sigma(array[..., c]) for c in range(array.shape[2])])) * 255.0


def mean_noise_sigma(images: list[torch.Tensor]) -> float | None:
    """Mean of ``blind_noise_sigma`` over images (None for an empty list)."""
    if not images:
        return None
    return sum(blind_noise_sigma(i) for i in images) / len(images)
