"""GroupNorm (+ FiLM) (+ SiLU) written so that it stays in the activations' dtype and layout.

Under autocast, ``F.group_norm`` runs in fp32 and returns fp32, so everything after it
(FiLM, SiLU, dropout) runs in fp32 and is cast back before the next convolution; and the
CUDA GroupNorm kernel works only in NCHW, so channels-last activations are flipped to
NCHW and back around every norm. ``group_norm_act`` instead computes the statistics in
fp32 on a channels-split view (no copy in either layout), applies the affine map, the
optional FiLM ``h·(1 + scale) + shift`` and SiLU in fp32 registers, and returns the
input's dtype and memory layout. Compiled, it fuses into one reduction and one
element-wise kernel; eager it is a handful of element-wise ops.

Where this path is taken (``use_fused``): while compiling, and for half-precision
activations. Plain fp32 eager runs (the CPU default) keep the native GroupNorm kernel;
both are the same maths (``tests/test_fused_norm.py`` holds them to each other).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def use_fused(x: torch.Tensor) -> bool:
    """Whether ``group_norm_act`` takes the dtype- and layout-keeping path for ``x``."""
    return torch.compiler.is_compiling() or x.dtype in (torch.float16, torch.bfloat16)


def fused_group_norm_act(
    x: torch.Tensor,
    groups: int,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    eps: float = 1e-5,
    scale: torch.Tensor | None = None,
    shift: torch.Tensor | None = None,
    act: bool = True,
) -> torch.Tensor:
    """SiLU(GN(x)·(1 + scale) + shift) for x (B, C, H, W), in x's dtype and layout.

    Statistics and arithmetic in fp32; ``scale``/``shift`` (B, C, 1, 1) or None;
    ``act=False`` leaves out the SiLU.
    """
    c = x.shape[1]
    xf = x.float().unflatten(1, (groups, c // groups))  # a view in NCHW and in NHWC alike
    var, mean = torch.var_mean(xf, dim=tuple(range(2, xf.dim())), keepdim=True, correction=0)
    h = ((xf - mean) * torch.rsqrt(var + eps)).flatten(1, 2)
    tail = (1,) * (x.dim() - 2)
    if weight is not None:
        h = h * weight.float().view(c, *tail)
    if bias is not None:
        h = h + bias.float().view(c, *tail)
    if scale is not None:
        h = h * (1 + scale.float())
    if shift is not None:
        h = h + shift.float()
    if act:
        h = F.silu(h)
    return h.to(x.dtype)


def group_norm_act(
    x: torch.Tensor,
    norm: nn.GroupNorm,
    scale: torch.Tensor | None = None,
    shift: torch.Tensor | None = None,
    act: bool = True,
) -> torch.Tensor:
    """``norm`` (+ FiLM) (+ SiLU) of ``x``: fused where ``use_fused``, else native ops."""
    if use_fused(x):
        return fused_group_norm_act(
            x, norm.num_groups, norm.weight, norm.bias, norm.eps, scale, shift, act
        )
    h = norm(x)
    if scale is not None:
        h = h * (1 + scale)
    if shift is not None:
        h = h + shift
    return F.silu(h) if act else h
