"""The Noise-DA losses: Charbonnier pixel loss, the λ ramp, and the diffusion loss module.

``NoiseDALoss`` implements steps 3–7 of the method spec
(docs/design/noise-da.md): noise the clean target, condition the
denoiser on the restorer's outputs for both domains (channel shuffling), build
residual-swapped negatives and combine the positive MSE with a triplet hinge.
Nothing here detaches the restorer's outputs: L_dif back-propagates into the
restorer through the conditions and the negatives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from noiseda_core.config import Mode
from noiseda_core.diffusion.schedule import NoiseSchedule, min_snr_weight


def charbonnier(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """mean(sqrt((a − b)² + ε²)) over all elements; a, b (B, 3, H, W) → scalar."""
    return torch.sqrt((a - b).square() + eps * eps).mean()


def lambda_at(step: float, ramp_steps: float, weight: float = 0.2) -> float:
    """λ = w·(2/(1 + e^(−5p)) − 1), p = min(step / ramp_steps, 1); p = 1 if ramp_steps ≤ 0."""
    p = 1.0 if ramp_steps <= 0 else min(max(float(step), 0.0) / float(ramp_steps), 1.0)
    return weight * (2.0 / (1.0 + math.exp(-5.0 * p)) - 1.0)


def shuffle_pair(
    a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample, (c1, c2) = (b, a) where ``mask`` is True, else (a, b).

    a, b (B, C, H, W); mask (B,) bool. Whole C-channel blocks move; the channel
    order inside each block is kept.
    """
    m = mask.view(-1, *([1] * (a.dim() - 1)))
    return torch.where(m, b, a), torch.where(m, a, b)


def swap_residuals(
    x_s: torch.Tensor, out_s: torch.Tensor, x_r: torch.Tensor, out_r: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Negatives n_s = x_s + R_r, n_r = x_r + R_s, R = out − x (not detached); (B, 3, H, W)."""
    res_s, res_r = out_s - x_s, out_r - x_r
    return x_s + res_r, x_r + res_s


def _coin(batch: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """(B,) bool, each True with probability 0.5."""
    return torch.rand(batch, generator=generator, device=device) < 0.5


@dataclass
class StepNoise:
    """The random draws of one diffusion-loss evaluation, made outside it.

    Drawn before the (maybe compiled) objective runs, so the compiled graph holds no
    generator and never breaks on one: γ (N,), ε (N, 3, H, W), the channel-shuffle
    masks (N,) bool of the positives and of the negatives (None where unused), with
    N the batch after the real-per-pair repeat.
    """

    gamma: torch.Tensor
    eps: torch.Tensor
    shuffle_pos: torch.Tensor | None = None
    shuffle_neg: torch.Tensor | None = None


@dataclass
class DiffusionTerms:
    """Scalar tensors of one diffusion-loss evaluation.

    ``dif`` is L_dif (what gets weighted by λ); ``mse`` = MSE(ε̂, ε);
    ``triplet`` = max(0, MSE(ε̂, ε) − MSE(ε̂⁻, ε) + m) and ``mse_neg`` = MSE(ε̂⁻, ε),
    both zero tensors when there are no negatives.
    """

    dif: torch.Tensor
    mse: torch.Tensor
    triplet: torch.Tensor
    mse_neg: torch.Tensor


class NoiseDALoss(nn.Module):
    """The diffusion loss L_dif; holds the denoiser D (its parameters train with the restorer).

    Modes (``Mode.BASELINE`` builds no ``NoiseDALoss`` at all):

    - ``NOISE_DA``: ỹ from y_s. With ``residual_swap`` on,
      L_dif = ½·(MSE(ε̂, ε) + max(0, MSE(ε̂, ε) − MSE(ε̂⁻, ε) + m)). With it off
      (the spec's "without RS" ablation) there are no negatives and no triplet:
      L_dif = MSE(ε̂, ε).
    - ``NOISE_DA_UNPAIRED``: ỹ from the unrelated clean ``ref``; channel shuffling
      as configured, never negatives: L_dif = MSE(ε̂, ε).

    ``channel_shuffle`` off keeps the slot order (ŷ_s, ŷ_r) (and (n_s, n_r)).
    ``batched`` (default True) runs the positive and the negative denoiser passes
    as one forward of batch 2B — the same maths as two passes (dropout masks are
    per sample anyway; GroupNorm is per sample), just faster.
    """

    def __init__(
        self,
        denoiser: nn.Module,
        mode: Mode = Mode.NOISE_DA,
        channel_shuffle: bool = True,
        residual_swap: bool = True,
        margin: float = 0.1,
        schedule: NoiseSchedule | None = None,
        batched: bool = True,
        snr_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if mode is Mode.BASELINE:
            raise ValueError("NoiseDALoss is not built in baseline mode (no denoiser, L = L_res).")
        self.denoiser = denoiser
        self.mode = Mode(mode)
        self.channel_shuffle = bool(channel_shuffle)
        self.residual_swap = bool(residual_swap)
        self.margin = float(margin)
        self.schedule = schedule if schedule is not None else NoiseSchedule()
        self.batched = bool(batched)
        self.snr_weight = float(snr_weight)  # k of min-SNR-k weighting; 0 = plain MSE

    def _mse(self, pred: torch.Tensor, eps: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        """MSE(ε̂, ε) over the batch, each sample × min(SNR, k)/SNR when ``snr_weight`` = k > 0."""
        if self.snr_weight <= 0:
            return F.mse_loss(pred.float(), eps.float())
        per_sample = (pred.float() - eps.float()).square().mean(dim=(1, 2, 3))
        return (min_snr_weight(gamma.float(), self.snr_weight) * per_sample).mean()

    @property
    def uses_negatives(self) -> bool:
        """True when residual-swapped negatives and the triplet term are computed."""
        return self.mode is Mode.NOISE_DA and self.residual_swap

    def draw_noise(
        self,
        shape: torch.Size | tuple[int, ...],
        device: torch.device,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> StepNoise:
        """The draws of one evaluation for clean images of ``shape`` (N, 3, H, W).

        Draw order on ``generator`` (on ``device``): γ (t then u), ε, the positives'
        shuffle mask, the negatives' one: the order ``forward`` has always used.
        """
        batch = shape[0]
        gamma = self.schedule.sample_gamma(batch, generator=generator, device=device)
        eps = torch.randn(tuple(shape), generator=generator, device=device, dtype=dtype)
        pos = neg = None
        if self.channel_shuffle:
            pos = _coin(batch, generator, device)
            if self.uses_negatives:
                neg = _coin(batch, generator, device)
        return StepNoise(gamma, eps, pos, neg)

    def draw_noise_for(
        self, y_s: torch.Tensor, out_r_batch: int, generator: torch.Generator | None = None
    ) -> StepNoise:
        """``draw_noise`` for the batch ``forward`` will see (y_s repeated per real crop)."""
        k = max(1, out_r_batch // max(y_s.shape[0], 1))
        return self.draw_noise((y_s.shape[0] * k, *y_s.shape[1:]), y_s.device, generator, y_s.dtype)

    @staticmethod
    def _slots(
        a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return (a, b) if mask is None else shuffle_pair(a, b, mask)

    def forward(
        self,
        y_s: torch.Tensor,
        x_s: torch.Tensor,
        out_s: torch.Tensor,
        x_r: torch.Tensor,
        out_r: torch.Tensor,
        ref: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        noise: StepNoise | None = None,
    ) -> DiffusionTerms:
        """All images (B, 3, H, W): y_s clean synthetic, x_s/x_r degraded inputs, out_s/out_r the
        restorer's outputs (keep them attached), ref clean references (unpaired mode only).
        x_r/out_r may hold k·B images (k real crops per synthetic pair, ``train.real_per_pair``):
        then sample i of the synthetic side is repeated for real samples k·i … k·i + k − 1.

        ``noise``: the draws made beforehand (``draw_noise``; what a compiled step passes);
        without it they are drawn here from ``generator`` (the tensors' device), in the
        order γ (t then u), ε, CS mask, RS mask.
        """
        k, rest = divmod(out_r.shape[0], max(out_s.shape[0], 1))
        if rest or k < 1:
            raise ValueError(
                f"{out_r.shape[0]} real outputs for {out_s.shape[0]} synthetic ones: "
                "the real batch must be a whole multiple of the synthetic one"
            )
        if k > 1:
            y_s, x_s, out_s = (t.repeat_interleave(k, dim=0) for t in (y_s, x_s, out_s))
            ref = ref.repeat_interleave(k, dim=0) if ref is not None else None
        if self.mode is Mode.NOISE_DA_UNPAIRED:
            if ref is None:
                raise ValueError("unpaired Noise-DA needs a batch of clean references (ref)")
            clean = ref
        else:
            clean = y_s
        batch = clean.shape[0]
        if noise is None:
            noise = self.draw_noise(clean.shape, clean.device, generator, clean.dtype)
        gamma, eps = noise.gamma, noise.eps
        noisy = NoiseSchedule.q_sample(clean, gamma, eps)

        c1, c2 = self._slots(out_s, out_r, noise.shuffle_pos)
        pos_in = torch.cat([noisy, c1, c2], dim=1)
        if not self.uses_negatives:
            mse = self._mse(self.denoiser(pos_in, gamma), eps, gamma)
            zero = mse.new_zeros(())
            return DiffusionTerms(dif=mse, mse=mse, triplet=zero, mse_neg=zero)

        n_s, n_r = swap_residuals(x_s, out_s, x_r, out_r)
        n1, n2 = self._slots(n_s, n_r, noise.shuffle_neg)
        neg_in = torch.cat([noisy, n1, n2], dim=1)
        if self.batched:
            pred = self.denoiser(
                torch.cat([pos_in, neg_in], dim=0), torch.cat([gamma, gamma], dim=0)
            )
            pred_pos, pred_neg = pred[:batch], pred[batch:]
        else:
            pred_pos, pred_neg = self.denoiser(pos_in, gamma), self.denoiser(neg_in, gamma)
        mse = self._mse(pred_pos, eps, gamma)
        mse_neg = self._mse(pred_neg, eps, gamma)
        triplet = F.relu(mse - mse_neg + self.margin)
        return DiffusionTerms(dif=0.5 * (mse + triplet), mse=mse, triplet=triplet, mse_neg=mse_neg)
