"""Restoring whole images: padding, overlapping tiles with smooth blending, folders.

Tiling. The image is first padded (reflect; replicate where it is too small to
reflect) to the net's ``pad_multiple`` so tiled and untiled runs see the same
pixels. Tiles of side ``tile`` overlap by ``overlap`` pixels. Each tile's
output is weighted by a separable window: 1 on sides that touch the image
border (so border pixels never get a vanishing weight), and on sides shared
with a neighbour a band of ``overlap // 4`` pixels of weight 0 (the tile edge,
where a convolution sees zero padding) followed by a raised-cosine ramp up to 1.
Neighbouring ramps are complementary (sin² + cos² = 1), so weights sum to one
and a conv net whose receptive radius is below ``overlap // 4`` gives the
untiled result exactly, with no seams. Tiles are run ``tile_batch`` at a time.

This module decides nothing: ``restore_image`` uses the tile it is given (None:
the whole image). Choosing a tile from free memory and halving it when memory
runs out is ``policy.py``'s job (``policy.restore``).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator

import torch
from torch import nn

from .config import Precision
from .device import autocast_dtype
from .nets.base import pad_to_multiple

def _model_info(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def _autocast_dtype(
    precision: Precision | str | None, dtype: torch.dtype, device: torch.device
) -> torch.dtype | None:
    """Half dtype to autocast with, or None for full precision (``precision`` wins).

    The choice for ``auto`` is the training's (``device.autocast_dtype``): one rule.
    """
    if precision is not None:
        return autocast_dtype(Precision(precision), device)
    return dtype if dtype in (torch.float16, torch.bfloat16) else None


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile start offsets covering ``[0, length)``; the last tile ends at ``length``."""
    if length <= tile:
        return [0]
    step = tile - overlap
    return list(range(0, length - tile, step)) + [length - tile]


def _window_1d(start: int, size: int, length: int, overlap: int) -> torch.Tensor:
    """Blend weight along one axis for a tile ``[start, start + size)`` of ``[0, length)``."""
    w = torch.ones(size, dtype=torch.float64)
    margin = overlap // 4
    ramp_len = overlap - 2 * margin
    i = torch.arange(ramp_len, dtype=torch.float64)
    ramp = torch.sin(0.5 * math.pi * (i + 0.5) / max(ramp_len, 1)) ** 2
    if start > 0:  # a neighbour on the low side
        w[:margin] = 0.0
        w[margin:margin + ramp_len] *= ramp
    if start + size < length:  # a neighbour on the high side
        w[size - margin:] = 0.0
        w[size - margin - ramp_len:size - margin] *= ramp.flip(0)
    return w


def _chunks(items: list, n: int) -> Iterator[list]:
    for k in range(0, len(items), n):
        yield items[k:k + n]


def _run(
    model: nn.Module,
    x: torch.Tensor,
    tile: int | None,
    overlap: int,
    amp: torch.dtype | None,
    tile_batch: int,
) -> torch.Tensor:
    """``x``: (1, 3, Hp, Wp) already padded → restored (1, 3, Hp, Wp) (float32, or float64)."""
    device = x.device
    acc_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    ctx = torch.autocast(device.type, dtype=amp) if amp is not None else contextlib.nullcontext()

    def forward(batch: torch.Tensor) -> torch.Tensor:
        with ctx:
            return model(batch).to(acc_dtype)

    hp, wp = x.shape[-2:]
    if tile is None or (hp <= tile and wp <= tile):
        return forward(x)
    ys, xs = _starts(hp, tile, overlap), _starts(wp, tile, overlap)
    th, tw = min(tile, hp), min(tile, wp)
    wy = {y: _window_1d(y, th, hp, overlap) for y in ys}
    wx = {s: _window_1d(s, tw, wp, overlap) for s in xs}
    acc = torch.zeros(1, 3, hp, wp, device=device, dtype=acc_dtype)
    wsum = torch.zeros(1, 1, hp, wp, device=device, dtype=acc_dtype)
    coords = [(y, s) for y in ys for s in xs]
    for chunk in _chunks(coords, max(1, tile_batch)):
        batch = torch.cat([x[..., y:y + th, s:s + tw] for y, s in chunk])
        out = forward(batch)
        for k, (y, s) in enumerate(chunk):
            w = (wy[y][:, None] * wx[s][None, :]).to(device, acc_dtype)
            acc[..., y:y + th, s:s + tw] += out[k:k + 1] * w
            wsum[..., y:y + th, s:s + tw] += w
    return acc / wsum.clamp_min(1e-12)


@torch.no_grad()
def restore_image(
    model: nn.Module,
    img: torch.Tensor,
    *,
    tile: int | None = None,
    overlap: int = 32,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    precision: Precision | str | None = None,
    tile_batch: int = 4,
) -> torch.Tensor:
    """Restore one image ``(3, H, W)`` in [0, 1] → ``(3, H, W)`` float32 in [0, 1].

    ``tile``: tile side (rounded down to the net's ``pad_multiple``); None = the
    whole image in one forward. ``device``: where to compute (default: the model's
    device; the model is moved there). ``dtype``: float32/float64 arithmetic (the
    model is copied if its parameters differ), or float16/bfloat16 for autocast;
    ``precision`` (``auto``/``fp32``/``bf16``/``fp16``) overrides ``dtype``'s
    autocast choice. The result is on ``img``'s device; the model's mode is kept.
    Running out of memory raises (``policy.restore`` backs off).
    """
    if img.ndim != 3 or img.shape[0] != 3:
        raise ValueError(f"expected an image (3, H, W), got shape {tuple(img.shape)}")
    model_device, model_dtype = _model_info(model)
    dev = torch.device(device) if device is not None else model_device
    amp = _autocast_dtype(precision, dtype, dev)
    full = torch.float32 if amp is not None or dtype in (torch.float16, torch.bfloat16) else dtype
    if model_dtype != full:
        model = copy.deepcopy(model).to(full)
    model.to(dev)
    mult = int(getattr(model, "pad_multiple", 8))
    h, w = img.shape[-2:]
    x = pad_to_multiple(img[None].to(dev, full), mult)
    t = None if tile is None else max(mult, int(tile) // mult * mult)
    ov = 0 if t is None else min(max(0, overlap), t // 2)
    was_training = model.training
    model.eval()
    try:
        out = _run(model, x, t, ov, amp, tile_batch)
    finally:
        model.train(was_training)
    return out[0, :, :h, :w].clamp(0.0, 1.0).to(img.device, torch.float32)
