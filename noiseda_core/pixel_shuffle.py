"""Pixel-shuffle down-sampling (PD) at inference: a white-noise denoiser on correlated noise.

    out = pd_restore(lambda x: policy.restore(model, x), image, stride=2)

The image ``(3, H, W)`` is split into ``stride²`` sub-images (every ``stride``-th pixel
from each offset); neighbouring pixels of real camera noise are correlated, pixels
``stride`` apart much less, so in each sub-image the noise looks whiter, which a
denoiser trained on white noise handles. The restored sub-images are put back in place.
(Zhou et al., "When AWGN-based denoiser meets real noises", AAAI 2020, describe the idea.)

In training (``train.real_pd``) a batch of real crops goes through the restorer the same
way, all sub-images at once: ``from_sub_images(restorer(to_sub_images(x, 2)), 2)``.
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


def to_sub_images(batch: torch.Tensor, stride: int) -> torch.Tensor:
    """``(B, C, H, W)`` → ``(B·stride², C, H/stride, W/stride)``: each image's sub-images,
    offset (dy, dx) at index ``dy·stride + dx`` of its group. H and W must divide."""
    b, c, h, w = batch.shape
    if h % stride or w % stride:
        raise ValueError(f"a {h}×{w} batch does not split into stride-{stride} sub-images")
    grouped = F.pixel_unshuffle(batch, stride).view(b, c, stride * stride, h // stride, w // stride)
    return grouped.transpose(1, 2).reshape(b * stride * stride, c, h // stride, w // stride)


def from_sub_images(subs: torch.Tensor, stride: int) -> torch.Tensor:
    """Inverse of ``to_sub_images``: ``(B·stride², C, h, w)`` → ``(B, C, h·stride, w·stride)``."""
    n, c, h, w = subs.shape
    b = n // (stride * stride)
    grouped = subs.reshape(b, stride * stride, c, h, w).transpose(1, 2)
    return F.pixel_shuffle(grouped.reshape(b, c * stride * stride, h, w), stride)


__all__ = ["from_sub_images", "pd_restore", "to_sub_images"]
