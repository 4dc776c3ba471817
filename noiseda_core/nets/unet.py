"""Our plain U-Net of the Noise-DA paper (written from the paper's description).

Four levels of widths ``w, 2w, 4w, 8w`` (the fourth is the bottleneck); each
level has two 3×3 convs with LeakyReLU(0.2). Down: 2×2 average pool. Up:
bilinear ×2 then a 3×3 conv that halves the channels, concatenation with the
encoder skip, two 3×3 convs. A last 3×3 conv maps to 3 channels; it predicts
the *residual* (the ``Restorer`` adds the input).

With ``w = 64`` (``unet-s``) this has 8,559,171 parameters and ≈ 12.45 GMACs at
128×128, the paper's 8.56 M / 12.5 G.

Initialisation: the last conv starts with weights scaled by ``out_init_scale``
(default 0.01) and zero bias, so a fresh restorer is close to the identity
(restored ≈ input). Training then starts from "do nothing" instead of from a
random image, which keeps early losses and gradients tame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _DoubleConv(nn.Sequential):
    """Two 3×3 convs, each followed by LeakyReLU(0.2)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        )


class _Up(nn.Module):
    """Bilinear ×2, 3×3 conv (cin → cout), concat the skip, two 3×3 convs."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.act = nn.LeakyReLU(0.2, inplace=True)
        self.block = _DoubleConv(2 * cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        x = self.act(self.conv(x))
        return self.block(torch.cat([x, skip], dim=1))


class UNet(nn.Module):
    """Residual U-Net: ``(B, 3, H, W)`` → residual ``(B, 3, H, W)``.

    H and W must be multiples of ``2 ** (depth - 1)`` (the ``Restorer`` pads).
    """

    def __init__(
        self,
        *,
        base: int = 64,
        depth: int = 4,
        in_channels: int = 3,
        out_channels: int = 3,
        out_init_scale: float = 0.01,
    ) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError("U-Net depth must be at least 2")
        widths = [base * 2**i for i in range(depth)]
        self.encoders = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.encoders.append(_DoubleConv(cin, w))
            cin = w
        self.decoders = nn.ModuleList(
            _Up(widths[i + 1], widths[i]) for i in reversed(range(depth - 1))
        )
        self.out = nn.Conv2d(widths[0], out_channels, 3, padding=1)
        with torch.no_grad():
            self.out.weight.mul_(out_init_scale)
            if self.out.bias is not None:  # a Conv2d has one unless built with bias=False
                self.out.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips: list[torch.Tensor] = []
        h = x
        for i, enc in enumerate(self.encoders):
            if i > 0:
                h = F.avg_pool2d(h, 2)
            h = enc(h)
            skips.append(h)
        skips.pop()  # the bottleneck output is ``h`` itself
        for dec in self.decoders:
            h = dec(h, skips.pop())
        return self.out(h)
