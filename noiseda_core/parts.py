"""What a run trains: the joint objective, one Adam over G and D, the EMA of G.

    parts = build_parts(cfg, device)      # Parts(objective, optimizer, ema, eval_restorer)

Shared by ``train`` and by the random-input step that ``bench`` times and the batch
policy measures (``probe.py``), so all three build the very same networks.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch

from .config import Config, Mode
from .diffusion import build_denoiser
from .diffusion.loss import NoiseDALoss
from .diffusion.schedule import NoiseSchedule
from .ema import EMA
from .init_scheme import apply_init
from .nets import Restorer
from .objective import JointObjective
from .starting_model import restorer_for


@dataclass
class Parts:
    """Everything a run trains or tracks."""

    objective: JointObjective
    optimizer: torch.optim.Optimizer
    ema: EMA
    eval_restorer: Restorer  # holds the EMA weights for validation, previews, export


def build_parts(cfg: Config, device: torch.device, restorer: Restorer | None = None) -> Parts:
    """Networks, optimizer and EMA for ``cfg`` on ``device`` (no denoiser in baseline).

    ``restorer``: the starting restorer when the caller already loaded it (else it is
    built, or loaded from ``model.init_restorer``: ``starting_model.py``).
    """
    t = cfg.train
    if restorer is None:
        restorer = restorer_for(cfg)
        if not cfg.model.init_restorer:  # a warm start's weights are never re-initialised
            apply_init(restorer, cfg.model.init_scheme)
    noise_da = None
    if t.mode != Mode.BASELINE:
        noise_da = NoiseDALoss(
            apply_init(
                build_denoiser(cfg.model.diffusion, t.patch, cfg.model.gamma_scale),
                cfg.model.init_scheme,
            ),
            mode=t.mode,
            channel_shuffle=t.channel_shuffle,
            residual_swap=t.residual_swap,
            margin=t.margin,
            schedule=NoiseSchedule(),
        )
    objective = JointObjective(restorer, noise_da).to(device)
    if channels_last(device):  # tests switch this on for the CPU
        objective = objective.to(memory_format=torch.channels_last)
    groups = [{"params": list(restorer.parameters()), "lr": t.lr}]
    if noise_da is not None:
        groups.append({"params": list(noise_da.parameters()), "lr": t.denoiser_lr or t.lr})
    optimizer = make_adam(groups, t.lr, device)
    eval_restorer = copy.deepcopy(restorer).to(device).eval()
    return Parts(objective, optimizer, EMA(restorer, t.ema_decay), eval_restorer)


def channels_last(device: torch.device) -> bool:
    """Whether activations and weights are kept channels-last (NHWC) on ``device``."""
    return device.type == "cuda"


def make_adam(groups: list[dict[str, Any]], lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam with one fused kernel on CUDA, the multi-tensor (foreach) path elsewhere.

    Where the fused kernel is refused (an old card, a PyTorch built without it) the
    foreach Adam is used instead: the same maths, a few more kernel launches.
    """
    if device.type == "cuda":
        try:
            return torch.optim.Adam(groups, lr=lr, fused=True)
        except (RuntimeError, ValueError) as exc:
            import sys

            print(
                f"fused Adam is not available here ({exc}); using the foreach Adam", file=sys.stderr
            )
    return torch.optim.Adam(groups, lr=lr, foreach=True)
