"""Pixel-shuffle down-sampling (PD) at inference: a white-noise denoiser on correlated noise.

    out = pd_restore(lambda x: policy.restore(model, x), image, stride=2)

The image ``(3, H, W)`` is split into ``stride²`` sub-images (every ``stride``-th pixel
from each offset); neighbouring pixels of real camera noise are correlated, pixels
``stride`` apart much less, so in each sub-image the noise looks whiter, which a
denoiser trained on white noise handles. The restored sub-images are put back in place.
(Zhou et al., "When AWGN-based denoiser meets real noises", AAAI 2020, describe the idea.)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def pd_restore(
    restore: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, stride: int
) -> torch.Tensor:
    """``restore`` each of the ``stride²`` sub-images of ``image`` ``(C, H, W)``, reassembled."""
    if stride <= 1:
        return restore(image)
    _, h, w = image.shape
    ph, pw = (-h) % stride, (-w) % stride  # pad to a multiple of the stride (reflect)
    padded = F.pad(image[None], (0, pw, 0, ph), mode="reflect")[0] if ph or pw else image
    out = torch.empty_like(padded)
    for dy in range(stride):
        for dx in range(stride):
            out[:, dy::stride, dx::stride] = restore(padded[:, dy::stride, dx::stride]).to(out)
    return out[:, :h, :w]


__all__ = ["pd_restore"]
