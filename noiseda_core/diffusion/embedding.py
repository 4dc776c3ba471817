"""Sinusoidal embedding of the continuous noise level γ.

The denoiser is conditioned on γ itself (not on t). γ ∈ (0, 1] is multiplied by
``scale`` before the usual transformer-style sinusoidal features: 1 embeds γ as
it is (the authors' release; training's default, ``model.gamma_scale``), while
``GAMMA_SCALE = 1000`` spreads the embedded values over roughly [7, 1000] for the
default schedule — the numeric range a timestep embedding of t ∈ [0, 1000) sees.
"""

from __future__ import annotations

import math

import torch
from torch import nn

GAMMA_SCALE = 1000.0


def sinusoidal_embedding(
    values: torch.Tensor, dim: int, max_period: float = 10000.0
) -> torch.Tensor:
    """Features [cos(v·f_k), sin(v·f_k)] of values (B,) → (B, dim).

    The frequencies f_k are geometric in [1/max_period, 1].
    """
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, device=values.device, dtype=torch.float32) / half
    )
    args = values.float()[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=1)
    return emb


class GammaEmbedding(nn.Module):
    """γ (B,) → embedding (B, emb_dim): sinusoid(scale·γ) → Linear → SiLU → Linear."""

    def __init__(self, base: int, emb_dim: int, scale: float = GAMMA_SCALE) -> None:
        super().__init__()
        self.base = base
        self.scale = float(scale)
        self.mlp = nn.Sequential(nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))

    def forward(self, gamma: torch.Tensor) -> torch.Tensor:
        feats = sinusoidal_embedding(gamma.float() * self.scale, self.base)
        return self.mlp(feats.to(next(self.mlp.parameters()).dtype))
