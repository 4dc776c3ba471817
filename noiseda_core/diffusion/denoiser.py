"""The conditional diffusion denoiser D of Noise-DA (a guided-diffusion style U-Net).

Input: the 9-channel concatenation [ỹ, c1, c2] (B, 9, H, W) and the noise level
γ (B,); output: the predicted noise ε̂ (B, 3, H, W). Residual blocks use
GroupNorm + SiLU and scale-shift (FiLM) conditioning on the γ embedding;
self-attention (``scaled_dot_product_attention``, 32 channels per head) runs
in the middle block (16×16 for 128×128 patches), optionally also at the
downsample factors in ``DenoiserSize.attn_ds``; the output
convolutions (last conv of every residual block, attention projections, final
conv) start at zero, so an untrained denoiser predicts ε̂ = 0. The norms run through
``norm.group_norm_act`` (bf16 and channels-last kept, fusable by the compiler);
``checkpoint_full_res`` recomputes the full-resolution stages in the backward pass.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from noiseda_core.diffusion.embedding import GAMMA_SCALE, GammaEmbedding
from noiseda_core.diffusion.norm import group_norm_act
from noiseda_core.errors import UserError


class Resample(str, enum.Enum):
    """How a residual block changes resolution."""

    NONE = "none"
    DOWN = "down"  # average-pool ×½ inside the block and on the skip path
    UP = "up"  # nearest ×2 inside the block and on the skip path


@dataclass(frozen=True)
class DenoiserSize:
    """Layout of a ``ConditionalDenoiser``.

    Attention always runs in the middle block, i.e. where the map is
    patch / 2^(levels−1) (16×16 for 128×128 patches with 4 levels); ``attn_ds``
    adds attention to the down/up blocks at those extra downsample factors.
    """

    base: int  # channels at full resolution
    mults: tuple[int, ...]  # channel multiplier per level (one resolution change between levels)
    blocks: int  # residual blocks per level on the way down (up: blocks + 1)
    dropout: float
    groups: int  # GroupNorm groups (must divide every width)
    head_channels: int = 32
    resblock_updown: bool = True  # resample with residual blocks (else strided / nearest+conv)
    attn_ds: tuple[int, ...] = ()  # extra attention in level blocks at these downsample factors
    description: str = ""


# ``paper``: widths 64/128/256/512, two blocks per level down and three up, residual
# blocks that resample, one attention block in the middle (16×16 at 128 px, 16 heads
# of 32 channels): 62,643,075 parameters, within 0.1 % of the paper's 62.6 M.
DENOISER_SIZES: dict[str, DenoiserSize] = {
    "paper": DenoiserSize(
        64, (1, 2, 4, 8), 2, 0.2, 32, description="the paper's denoiser, 62.6 M parameters"
    ),
    "small": DenoiserSize(
        32, (1, 2, 2, 4), 1, 0.1, 32, description="≈4 M parameters, for modest GPUs"
    ),
    "tiny": DenoiserSize(
        16, (1, 1, 2, 2), 1, 0.0, 8, head_channels=16, description="tests and CPU smoke runs"
    ),
}


def _zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """Residual block with FiLM conditioning.

    GN-SiLU-[resample]-conv, then GN·(1 + scale) + shift (from the embedding),
    SiLU-dropout-conv (zero-initialised), plus the (1×1 if widths differ) skip.
    """

    def __init__(
        self,
        cin: int,
        cout: int,
        emb_dim: int,
        dropout: float,
        groups: int,
        resample: Resample = Resample.NONE,
    ) -> None:
        super().__init__()
        self.resample = resample
        self.norm1 = nn.GroupNorm(groups, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.norm2 = nn.GroupNorm(groups, cout)
        self.drop = nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = group_norm_act(x, self.norm1)
        if self.resample is Resample.DOWN:
            h, x = F.avg_pool2d(h, 2), F.avg_pool2d(x, 2)
        elif self.resample is Resample.UP:
            h, x = (
                F.interpolate(h, scale_factor=2.0, mode="nearest"),
                F.interpolate(x, scale_factor=2.0, mode="nearest"),
            )
        h = self.conv1(h)
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.conv2(self.drop(group_norm_act(h, self.norm2, scale, shift)))
        return self.skip(x) + h


class AttentionBlock(nn.Module):
    """Spatial self-attention over H·W positions, ``head_channels`` channels per head."""

    def __init__(self, ch: int, groups: int, head_channels: int) -> None:
        super().__init__()
        if ch % head_channels:
            raise ValueError(
                f"attention width {ch} not divisible by {head_channels} channels per head"
            )
        self.heads = ch // head_channels
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = _zero(nn.Conv2d(ch, ch, 1))

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(group_norm_act(x, self.norm, act=False)).reshape(
            b, 3, self.heads, c // self.heads, h * w
        )
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # (B, heads, HW, d)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, heads, HW, d)
        out = out.transpose(-1, -2).reshape(b, c, h, w)
        return x + self.proj(out)


class Downsample(nn.Module):
    """Strided 3×3 convolution, ×½."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest ×2 then a 3×3 convolution."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Stage(nn.Sequential):
    """A sequence of layers that all receive the embedding where they use it."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        for layer in self:
            x = layer(x, emb)
        return x


class ConditionalDenoiser(nn.Module):
    """ε̂ = D([ỹ, c1, c2], γ): (B, 9, H, W), (B,) → (B, 3, H, W).

    H and W must be multiples of ``pad_multiple`` (2^(levels−1)). Layout as in
    guided-diffusion: stem conv; per level ``blocks`` residual blocks, then a
    resampling block; a middle block (res, attention, res); on the way up
    ``blocks + 1`` residual blocks per level, each fed the concatenated skip.
    """

    def __init__(
        self, size: DenoiserSize, in_ch: int = 9, out_ch: int = 3, gamma_scale: float = GAMMA_SCALE
    ) -> None:
        super().__init__()
        self.size = size
        self.checkpoint_full_res = False  # recompute the full-resolution blocks in backward
        base, g, hc, drop = size.base, size.groups, size.head_channels, size.dropout
        attn_ds = frozenset(size.attn_ds)
        emb_dim = 4 * base
        self.pad_multiple = 2 ** (len(size.mults) - 1)
        self.embed = GammaEmbedding(base, emb_dim, gamma_scale)
        self.stem = nn.Conv2d(in_ch, base, 3, padding=1)

        def down_sampler(ch: int) -> nn.Module:
            if size.resblock_updown:
                return ResBlock(ch, ch, emb_dim, drop, g, Resample.DOWN)
            return Downsample(ch)

        def up_sampler(ch: int) -> nn.Module:
            if size.resblock_updown:
                return ResBlock(ch, ch, emb_dim, drop, g, Resample.UP)
            return Upsample(ch)

        self.down = nn.ModuleList()
        skips = [base]
        ch, ds = base, 1
        for level, mult in enumerate(size.mults):
            for _ in range(size.blocks):
                layers: list[nn.Module] = [ResBlock(ch, base * mult, emb_dim, drop, g)]
                ch = base * mult
                if ds in attn_ds:
                    layers.append(AttentionBlock(ch, g, hc))
                self.down.append(Stage(*layers))
                skips.append(ch)
            if level != len(size.mults) - 1:
                self.down.append(Stage(down_sampler(ch)))
                skips.append(ch)
                ds *= 2

        self.middle = Stage(
            ResBlock(ch, ch, emb_dim, drop, g),
            AttentionBlock(ch, g, hc),
            ResBlock(ch, ch, emb_dim, drop, g),
        )

        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(size.mults))):
            for i in range(size.blocks + 1):
                layers = [ResBlock(ch + skips.pop(), base * mult, emb_dim, drop, g)]
                ch = base * mult
                if ds in attn_ds:
                    layers.append(AttentionBlock(ch, g, hc))
                if level and i == size.blocks:
                    layers.append(up_sampler(ch))
                    ds //= 2
                self.up.append(Stage(*layers))

        self.head = nn.Sequential(
            nn.GroupNorm(g, ch), nn.SiLU(), _zero(nn.Conv2d(ch, out_ch, 3, padding=1))
        )

    def forward(self, x: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        """x (B, 9, H, W), γ (B,) in (0, 1] → ε̂ (B, 3, H, W) in the layers' dtype."""
        emb = self.embed(gamma)
        h = self.stem(x)
        hs, full = [h], x.shape[-1]
        for stage in self.down:  # nn.ModuleList yields plain Modules to the type checker
            h = self._run(cast(Stage, stage), h, emb, full)
            hs.append(h)
        h = self.middle(h, emb)
        for stage in self.up:
            h = self._run(cast(Stage, stage), torch.cat([h, hs.pop()], dim=1), emb, full)
        norm, _, conv = self.head
        return conv(group_norm_act(h, cast(nn.GroupNorm, norm)))

    def _run(self, stage: Stage, h: torch.Tensor, emb: torch.Tensor, full: int) -> torch.Tensor:
        """One stage; recomputed in the backward pass at full resolution when
        ``checkpoint_full_res`` is on (activation checkpointing: memory for compute)."""
        if self.checkpoint_full_res and h.shape[-1] == full and torch.is_grad_enabled():
            return checkpoint(stage, h, emb, use_reentrant=False)
        return stage(h, emb)


def build_denoiser(size: str, patch: int, gamma_scale: float = GAMMA_SCALE) -> ConditionalDenoiser:
    """Build the denoiser named ``size`` (see ``DENOISER_SIZES``) for ``patch``×``patch`` crops.

    Attention sits in the middle block, where the map is patch/8 for the
    4-level sizes (16×16 at the paper's 128×128). ``patch`` must be a multiple of
    the net's ``pad_multiple``. ``gamma_scale`` multiplies γ before its embedding.
    """
    if size not in DENOISER_SIZES:
        allowed = ", ".join(sorted(DENOISER_SIZES))
        raise UserError(
            f"Unknown diffusion denoiser size '{size}' (model.diffusion); use one of: {allowed}."
        )
    net = ConditionalDenoiser(DENOISER_SIZES[size], gamma_scale=gamma_scale)
    if patch <= 0 or patch % net.pad_multiple:
        raise UserError(
            f"Patch size {patch} does not suit the '{size}' denoiser: "
            f"use a positive multiple of {net.pad_multiple}."
        )
    return net
