"""The ``Restorer`` wrapper every restoration network is used through.

A ``Restorer`` owns an inner network (``.net``) and always returns the restored
image: ``restored = x + residual``. For nets that predict the residual (our
U-Net) the wrapper adds the input; for nets that already add the input
internally (spandrel's NAFNet, SwinIR, Uformer, Restormer, and DnCNN, which
returns ``x - noise``) the wrapper passes their output through. Either way
``restored(x) - x`` is the residual the Noise-DA loss needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def pad_to_multiple(x: torch.Tensor, multiple: int, *, square: bool = False) -> torch.Tensor:
    """Pad ``(B, C, H, W)`` on the bottom/right up to a multiple of ``multiple``.

    Reflect padding where the image is large enough, replicate otherwise (tiny
    images such as 5×7). ``square=True`` also pads the shorter side up to the
    longer one (Uformer needs square inputs).
    """
    h, w = x.shape[-2:]
    th = -(-h // multiple) * multiple
    tw = -(-w // multiple) * multiple
    if square:
        th = tw = max(th, tw)
    ph, pw = th - h, tw - w
    if ph == 0 and pw == 0:
        return x
    if ph < h and pw < w:
        return F.pad(x, (0, pw, 0, ph), mode="reflect")
    # Reflect cannot pad by more than the side minus one: mirror what we can,
    # replicate the rest.
    rh, rw = min(ph, h - 1), min(pw, w - 1)
    if rh or rw:
        x = F.pad(x, (0, rw, 0, rh), mode="reflect")
    return F.pad(x, (0, pw - rw, 0, ph - rh), mode="replicate")


class Restorer(nn.Module):
    """Restoration network wrapper: ``forward((B, 3, H, W) in [0, 1]) -> (B, 3, H, W)``.

    Attributes: ``arch`` (registry name), ``arch_args`` (JSON-able, enough to
    rebuild with ``build_restorer(arch, **arch_args)``), ``pad_multiple`` (sides
    the inner net needs), ``square`` (net needs square inputs), ``adds_input``
    (the inner net already returns ``x + residual``), ``net`` (the inner net,
    whose ``state_dict`` keys are the ones exported), ``call`` (how to call the
    inner net when it needs more than ``net(x)``, e.g. DRUNet's noise-level map).

    ``forward`` accepts any size: it pads to ``pad_multiple`` (and to a square
    where needed) and crops back, so callers never have to care.
    """

    def __init__(
        self,
        net: nn.Module,
        *,
        arch: str,
        arch_args: dict[str, Any],
        pad_multiple: int,
        adds_input: bool,
        square: bool = False,
        call: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.call = call
        self.arch = arch
        self.arch_args = dict(arch_args)
        self.pad_multiple = int(pad_multiple)
        self.adds_input = bool(adds_input)
        self.square = bool(square)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (B, 3, H, W) in [0, 1] → restored (B, 3, H, W) (not clamped)."""
        h, w = x.shape[-2:]
        xp = pad_to_multiple(x, self.pad_multiple, square=self.square)
        out = self.net(xp) if self.call is None else self.call(self.net, xp)
        if not self.adds_input:
            out = xp + out
        if out.shape[-2:] != (h, w):
            out = out[..., :h, :w]
        return out

    def num_parameters(self) -> int:
        """Number of parameters of the inner net."""
        return sum(p.numel() for p in self.net.parameters())

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}, pad_multiple={self.pad_multiple}"
