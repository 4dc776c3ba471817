"""The noise schedule of the Noise-DA diffusion loss (continuous γ, WaveGrad/SR3 style).

β rises linearly from ``beta_start`` to ``beta_end`` over ``T`` steps and
γ_t = ∏_{i≤t} (1 − β_i). Training draws, per sample, an integer t uniformly in
``t_range`` (inclusive; default [1, T−1] as the spec says, ablations may use
e.g. (1, 100) or (900, 1000)) and then a continuous γ uniformly between γ_{t−1}
and γ_t; the denoiser is conditioned on γ itself, never on t.
"""

from __future__ import annotations

import torch

from noiseda_core.errors import UserError


class NoiseSchedule:
    """Linear-β schedule with continuous noise levels.

    ``betas`` holds the T values β_1..β_T (linspace). ``gammas`` has shape (T+1,)
    with ``gammas[0] = γ_0 = 1`` (no noise) and ``gammas[t] = ∏_{i=1..t}(1 − β_i)``,
    so index t holds γ_t exactly
    (float64; sampling uses a float32 copy on the target device).
    """

    def __init__(
        self,
        T: int = 1000,
        beta_start: float = 1e-6,
        beta_end: float = 1e-2,
        t_range: tuple[int, int] | None = None,
    ) -> None:
        if T < 2:
            raise UserError(f"Noise schedule: T must be at least 2, got {T}.")
        self.T = int(T)
        self.betas = torch.linspace(beta_start, beta_end, self.T, dtype=torch.float64)  # (T,)
        cum = torch.cumprod(1.0 - self.betas, dim=0)
        self.gammas = torch.cat([torch.ones(1, dtype=torch.float64), cum])  # (T+1,)
        lo, hi = t_range if t_range is not None else (1, self.T - 1)
        if not (1 <= lo <= hi <= self.T):
            raise UserError(
                f"Noise schedule: t_range must satisfy 1 ≤ lo ≤ hi ≤ {self.T}, got ({lo}, {hi})."
            )
        self.t_range = (int(lo), int(hi))

    def sample_t_gamma(
        self,
        batch: int,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw t (B,) int64 uniform in ``t_range`` and γ (B,) float32 in [γ_t, γ_{t−1}].

        Draws happen on ``device``; ``generator`` (if given) must live there too.
        """
        lo, hi = self.t_range
        t = torch.randint(lo, hi + 1, (batch,), generator=generator, device=device)
        u = torch.rand(batch, generator=generator, device=device)
        gammas = self._gammas_on(torch.device(device))
        g_prev, g_t = gammas[t - 1], gammas[t]
        gamma = torch.minimum(torch.maximum(g_prev + u * (g_t - g_prev), g_t), g_prev)
        return t, gamma

    def _gammas_on(self, device: torch.device) -> torch.Tensor:
        """γ table as float32 on ``device`` (MPS has no float64), copied once per device
        rather than on every training step."""
        cache = self.__dict__.setdefault("_device_gammas", {})
        if str(device) not in cache:
            cache[str(device)] = self.gammas.to(device=device, dtype=torch.float32)
        return cache[str(device)]

    def sample_gamma(
        self,
        batch: int,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> torch.Tensor:
        """Continuous noise levels γ, shape (B,) float32 in (0, 1]."""
        return self.sample_t_gamma(batch, generator=generator, device=device)[1]

    @staticmethod
    def q_sample(y: torch.Tensor, gamma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """ỹ = √γ·y + √(1−γ)·ε for y, noise (B, C, H, W) and γ (B,)."""
        g = gamma.to(y.dtype).view(-1, *([1] * (y.dim() - 1)))
        return g.sqrt() * y + (1.0 - g).sqrt() * noise


def min_snr_weight(gamma: torch.Tensor, k: float) -> torch.Tensor:
    """Per-sample weights min(SNR, k) / SNR of min-SNR-k weighting, SNR = γ / (1 − γ).

    For an ε-predicting denoiser this turns down the nearly noise-free levels (SNR > k),
    whose easy targets otherwise dominate the loss (Hang et al., "Efficient diffusion
    training via min-SNR weighting strategy", ICCV 2023); levels with SNR ≤ k weigh 1.
    """
    g = gamma.float()  # float32: MPS has no float64
    snr = (g / (1.0 - g).clamp_min(1e-8)).clamp_min(1e-8)
    return (snr.clamp(max=k) / snr).to(gamma.dtype)
