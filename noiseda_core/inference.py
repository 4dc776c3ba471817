"""Restoring whole images: padding, overlapping tiles with smooth blending, folders.

Tiling. The image is first padded (reflect; replicate where it is too small to
reflect) to the net's ``pad_multiple`` so tiled and untiled runs see the same
pixels. Tiles of one side, at most ``tile``, as few as cover the image and as small
as covering allows (``even_tiles``), overlap by at least ``overlap`` pixels. Each tile's
output is weighted by a separable window: 1 on sides that touch the image
border (so border pixels never get a vanishing weight), and on sides shared
with a neighbour a band of ``overlap // 4`` pixels of weight 0 (the tile edge,
where a convolution sees zero padding) followed by a raised-cosine ramp up to 1.
Neighbouring ramps are complementary (sin² + cos² = 1), so weights sum to one
and a conv net whose receptive radius is below ``overlap // 4`` gives the
untiled result exactly, with no seams. Tiles are run ``tile_batch`` at a time; the
windows are made on the device in the accumulator's dtype (fp32 unless the image is fp64).

Half precision on CUDA runs a bf16/fp16 channels-last copy of the weights without
autocast (every op, the upsampling included, stays in half precision and NHWC).

This module decides nothing: ``restore_image`` uses the tile it is given (None:
the whole image). Choosing a tile from free memory and halving it when memory
runs out is ``policy.py``'s job (``policy.restore``).
"""

from __future__ import annotations

import contextlib
import copy
import math
import weakref
from collections.abc import Callable, Iterator
from typing import TypeVar

import torch
from torch import nn

from .config import Precision
from .device import autocast_dtype
from .nets.base import pad_to_multiple


def _model_info(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, p.dtype
    return torch.device("cpu"), torch.float32


def restoration_autocast_dtype(
    precision: Precision | str | None, dtype: torch.dtype, device: torch.device
) -> torch.dtype | None:
    """Half dtype to autocast with, or None for full precision (``precision`` wins).

    The choice for ``auto`` is the training's (``device.autocast_dtype``): one rule.
    """
    if precision is not None:
        return autocast_dtype(Precision(precision), device)
    return dtype if dtype in (torch.float16, torch.bfloat16) else None


def even_tiles(length: int, tile: int, overlap: int, multiple: int = 1) -> tuple[int, list[int]]:
    """(side, starts): the fewest tiles of at most ``tile`` covering ``[0, length)``, all of
    one side (a multiple of ``multiple``, as small as covering allows) and evenly spaced,
    neighbours overlapping by at least ``overlap``. ``length`` a multiple of ``multiple``.

    A 3840-pixel side with 3544-pixel tiles is two tiles of 1936, not two of 3544.
    """
    if length <= tile:
        return length, [0]
    n = -(-(length - overlap) // (tile - overlap))
    side = -(-(length + (n - 1) * overlap) // n)
    side = min(tile, -(-side // multiple) * multiple)
    return side, [i * (length - side) // (n - 1) for i in range(n)]


def _window_1d(
    start: int,
    size: int,
    length: int,
    overlap: int,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Blend weight along one axis for a tile ``[start, start + size)`` of ``[0, length)``,
    made on ``device`` in ``dtype`` (the accumulator's: fp32 unless the image is fp64)."""
    w = torch.ones(size, dtype=dtype, device=device)
    margin = overlap // 4
    ramp_len = overlap - 2 * margin
    i = torch.arange(ramp_len, dtype=dtype, device=device)
    ramp = torch.sin(0.5 * math.pi * (i + 0.5) / max(ramp_len, 1)) ** 2
    if start > 0:  # a neighbour on the low side
        w[:margin] = 0.0
        w[margin : margin + ramp_len] *= ramp
    if start + size < length:  # a neighbour on the high side
        w[size - margin :] = 0.0
        w[size - margin - ramp_len : size - margin] *= ramp.flip(0)
    return w


_Item = TypeVar("_Item")

# a network as restoration calls it: the model, its half-precision copy or a compiled one
Net = Callable[[torch.Tensor], torch.Tensor]


def _chunks(items: list[_Item], n: int) -> Iterator[list[_Item]]:
    for k in range(0, len(items), n):
        yield items[k : k + n]


def _run(
    model: Net,
    x: torch.Tensor,
    tile: int | None,
    overlap: int,
    amp: torch.dtype | None,
    tile_batch: int,
    mult: int = 1,
    half_weights: bool = False,
) -> torch.Tensor:
    """``x``: (1, 3, Hp, Wp) already padded → restored (1, 3, Hp, Wp) (float32, or float64).

    ``half_weights``: ``model`` holds ``amp``-dtype channels-last weights and runs
    without autocast on ``amp``-dtype channels-last inputs."""
    device = x.device
    acc_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    use_autocast = amp is not None and not half_weights
    ctx = torch.autocast(device.type, dtype=amp) if use_autocast else contextlib.nullcontext()

    def forward(batch: torch.Tensor) -> torch.Tensor:
        if half_weights:
            batch = batch.to(amp).contiguous(memory_format=torch.channels_last)
        with ctx:
            return model(batch).to(acc_dtype)

    hp, wp = x.shape[-2:]
    if tile is None or (hp <= tile and wp <= tile):
        return forward(x)
    (th, ys), (tw, xs) = even_tiles(hp, tile, overlap, mult), even_tiles(wp, tile, overlap, mult)
    wy = {y: _window_1d(y, th, hp, overlap, device, acc_dtype) for y in ys}
    wx = {s: _window_1d(s, tw, wp, overlap, device, acc_dtype) for s in xs}
    acc = torch.zeros(1, 3, hp, wp, device=device, dtype=acc_dtype)
    wsum = torch.zeros(1, 1, hp, wp, device=device, dtype=acc_dtype)
    coords = [(y, s) for y in ys for s in xs]
    for chunk in _chunks(coords, max(1, tile_batch)):
        batch = torch.cat([x[..., y : y + th, s : s + tw] for y, s in chunk])
        out = forward(batch)
        for k, (y, s) in enumerate(chunk):
            w = wy[y][:, None] * wx[s][None, :]
            acc[..., y : y + th, s : s + tw] += out[k : k + 1] * w
            wsum[..., y : y + th, s : s + tw] += w
    return acc / wsum.clamp_min(1e-12)


# model → (its weights' identity and versions, dtype, compile) and the net built from them
_RUNNERS: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[object, ...], Net]] = (
    weakref.WeakKeyDictionary()
)


def _runner(
    model: nn.Module, half: torch.dtype | None, compile: bool, backend: str = "inductor"
) -> Net:
    """``model`` as restoration runs it: a ``half``-dtype channels-last copy of its weights
    (None: the model itself) and/or compiled; rebuilt when the weights change in place."""
    tensors = list(model.parameters()) + list(model.buffers())
    key = (tuple((id(p), p._version, p.device) for p in tensors), half, compile, backend)
    cached = _RUNNERS.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    if half is None:  # compiled only: Dynamo's own cache finds the graph again
        return torch.compile(model, backend=backend)
    # Module.to takes memory_format too; torch's stub leaves it out
    copied = copy.deepcopy(model).to(dtype=half, memory_format=torch.channels_last)  # pyright: ignore[reportCallIssue]
    net: Net = torch.compile(copied.eval(), backend=backend) if compile else copied.eval()
    _RUNNERS[model] = key, net
    return net


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
    half_weights: bool | None = None,
    compile: bool = False,
    compile_backend: str = "inductor",
) -> torch.Tensor:
    """Restore one image ``(3, H, W)`` in [0, 1] → ``(3, H, W)`` float32 in [0, 1].

    ``tile``: tile side (rounded down to the net's ``pad_multiple``); None = the
    whole image in one forward. ``device``: where to compute (default: the model's
    device; the model is moved there). ``dtype``: float32/float64 arithmetic (the
    model is copied if its parameters differ), or float16/bfloat16 for autocast;
    ``precision`` (``auto``/``fp32``/``bf16``/``fp16``) overrides ``dtype``'s
    autocast choice. The result is on ``img``'s device; the model's mode is kept.
    Running out of memory raises (``policy.restore`` backs off).

    ``half_weights``: run a bf16/fp16 channels-last copy of the weights without autocast
    (cached while the weights are unchanged); None: on CUDA whenever the precision is
    half. ``compile``: run the net through ``torch.compile`` (cached with the copy).
    """
    if img.ndim != 3 or img.shape[0] != 3:
        raise ValueError(f"expected an image (3, H, W), got shape {tuple(img.shape)}")
    model_device, model_dtype = _model_info(model)
    dev = torch.device(device) if device is not None else model_device
    amp = restoration_autocast_dtype(precision, dtype, dev)
    full = torch.float32 if amp is not None or dtype in (torch.float16, torch.bfloat16) else dtype
    if model_dtype != full:
        model = copy.deepcopy(model).to(full)
    model.to(dev)
    mult = int(getattr(model, "pad_multiple", 8))
    h, w = img.shape[-2:]
    x = pad_to_multiple(img[None].to(dev, full), mult)
    t = None if tile is None else max(mult, int(tile) // mult * mult)
    ov = 0 if t is None else min(max(0, overlap), t // 2)
    half = amp is not None and (dev.type == "cuda" if half_weights is None else half_weights)
    was_training = model.training
    model.eval()
    try:
        runner = (
            _runner(model, amp if half else None, compile, compile_backend)
            if half or compile
            else model
        )
        out = _run(runner, x, t, ov, amp, tile_batch, mult, half)
    finally:
        model.train(was_training)
    return out[0, :, :h, :w].clamp(0.0, 1.0).to(img.device, torch.float32)
