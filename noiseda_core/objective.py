"""The training objective: restorer + (optional) Noise-DA loss as one module.

Wrapping both networks in one ``nn.Module`` whose ``forward`` returns the loss terms
lets DistributedDataParallel, ``torch.compile`` and the benchmark treat the whole
step as one thing, and keeps the DDP unwrapping in one place (``unwrap``).

    objective = JointObjective(restorer, noise_da)      # noise_da is None in baseline
    terms = objective(x_s, y_s, x_r, ref=None, lam=0.1, phase=Phase.JOINT)
    terms.total.backward()
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import torch
from torch import nn

from .diffusion.loss import NoiseDALoss, StepNoise, charbonnier
from .nets.base import Restorer
from .pixel_shuffle import from_sub_images, to_sub_images
from .pull_to_start import PullToStart


class Phase(str, enum.Enum):
    """Which part of the objective a step optimises."""

    WARMUP_RESTORER = "warmup-restorer"  # L_res only (a synthetic-only warm start)
    PRETRAIN_DENOISER = "pretrain-denoiser"  # L_dif for D only; G's outputs detached
    JOINT = "joint"  # the paper's step: L_res + λ·L_dif


@dataclass
class StepTerms:
    """Scalar loss tensors of one step; ``dif``/``mse``/``triplet`` are None in baseline,
    ``mse_neg`` (the residual-swapped negatives' MSE) is None without negatives."""

    total: torch.Tensor
    res: torch.Tensor
    dif: torch.Tensor | None = None
    mse: torch.Tensor | None = None
    triplet: torch.Tensor | None = None
    mse_neg: torch.Tensor | None = None


class JointObjective(nn.Module):
    """Restorer G and, unless baseline, the diffusion loss module holding D.

    ``real_pd`` > 1: G restores each real crop as its stride-``real_pd`` sub-images, put
    back together before the diffusion loss sees them. ``pull``: an L2-SP penalty toward
    G's starting weights, added to every step's total that trains G.
    """

    def __init__(
        self,
        restorer: Restorer,
        noise_da: NoiseDALoss | None,
        real_pd: int = 0,
        pull: PullToStart | None = None,
    ) -> None:
        super().__init__()
        self.restorer = restorer
        self.noise_da = noise_da
        self.real_pd = int(real_pd)
        self.pull = pull
        # One forward over both domains is the same maths (and faster) unless the restorer
        # normalises over the batch (BatchNorm, e.g. DnCNN): then the domains stay apart.
        self.joint_forward = not _has_batch_statistics(restorer)

    def _restore_both(
        self, x_s: torch.Tensor, x_r: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.real_pd > 1:  # the real crops as sub-images, where their noise looks whiter
            out_r = from_sub_images(self.restorer(to_sub_images(x_r, self.real_pd)), self.real_pd)
            return self.restorer(x_s), out_r
        if self.joint_forward and x_s.shape[1:] == x_r.shape[1:]:
            out = self.restorer(torch.cat([x_s, x_r]))
            return out[: len(x_s)], out[len(x_s) :]
        return self.restorer(x_s), self.restorer(x_r)

    def forward(
        self,
        x_s: torch.Tensor,
        y_s: torch.Tensor,
        x_r: torch.Tensor,
        ref: torch.Tensor | None = None,
        lam: float | torch.Tensor = 0.0,
        phase: Phase = Phase.JOINT,
        generator: torch.Generator | None = None,
        noise: StepNoise | None = None,
    ) -> StepTerms:
        """All tensors (B, 3, P, P) in [0, 1]; returns the step's loss terms.

        A compiled step passes ``lam`` as a 0-dim tensor and the random draws as
        ``noise`` (``NoiseDALoss.draw_noise``), so neither a new λ nor a generator
        recompiles or breaks the graph; eager callers may pass a float and a generator.
        """
        if self.noise_da is None or phase == Phase.WARMUP_RESTORER:
            res = charbonnier(self.restorer(x_s).float(), y_s.float())
            return StepTerms(total=self._pulled(res), res=res)
        if phase == Phase.PRETRAIN_DENOISER:
            # D learns on G's current outputs; G is held still (no gradient reaches it).
            with torch.no_grad():
                out_s, out_r = self._restore_both(x_s, x_r)
        else:
            out_s, out_r = self._restore_both(x_s, x_r)
        res = charbonnier(out_s.float(), y_s.float())
        terms = self.noise_da(
            y_s, x_s, out_s, x_r, out_r, ref=ref, generator=generator, noise=noise
        )
        if phase == Phase.PRETRAIN_DENOISER:
            total = terms.dif
        else:
            total = self._pulled(res + lam * terms.dif)
        return StepTerms(
            total=total,
            res=res,
            dif=terms.dif,
            mse=terms.mse,
            triplet=terms.triplet,
            mse_neg=terms.mse_neg if self.noise_da.uses_negatives else None,
        )

    def _pulled(self, total: torch.Tensor) -> torch.Tensor:
        """``total`` plus the pull toward the starting weights, when there is one."""
        return total if self.pull is None else total + self.pull(self.restorer)


# the public batch-norm layers (the lazy ones subclass these)
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def _has_batch_statistics(module: nn.Module) -> bool:
    return any(isinstance(m, BATCH_NORMS) for m in module.modules())


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module under DDP and/or ``torch.compile`` wrappers."""
    while True:
        if hasattr(module, "module") and isinstance(module.module, nn.Module):  # DDP
            module = module.module
        elif hasattr(module, "_orig_mod"):  # torch.compile
            module = module._orig_mod  # type: ignore[assignment]
        else:
            return module
