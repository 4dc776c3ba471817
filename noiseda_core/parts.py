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
from torch import nn

from .config import Config, Mode
from .denoiser_start import load_starting_denoiser
from .diffusion import build_denoiser
from .diffusion.loss import NoiseDALoss
from .diffusion.schedule import NoiseSchedule
from .ema import EMA
from .init_scheme import apply_init
from .nets import Restorer
from .objective import JointObjective
from .pull_to_start import PullToStart
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
            starting_denoiser(cfg),
            mode=t.mode,
            channel_shuffle=t.channel_shuffle,
            residual_swap=t.residual_swap,
            margin=t.margin,
            schedule=NoiseSchedule(t_range=(1, t.max_noise_step) if t.max_noise_step else None),
            snr_weight=t.snr_weight,
        )
    pull = PullToStart(restorer, t.pull_to_start) if t.pull_to_start > 0 else None
    objective = JointObjective(restorer, noise_da, real_pd=t.real_pd, pull=pull).to(device)
    if channels_last(device):  # tests switch this on for the CPU
        objective = objective.to(memory_format=torch.channels_last)
    groups = [{"params": list(restorer.parameters()), "lr": t.lr}]
    if noise_da is not None:
        groups.append({"params": list(noise_da.parameters()), "lr": t.denoiser_lr or t.lr})
    optimizer = make_adam(groups, t.lr, device)
    eval_restorer = copy.deepcopy(restorer).to(device).eval()
    return Parts(objective, optimizer, EMA(restorer, t.ema_decay), eval_restorer)


def starting_denoiser(cfg: Config) -> nn.Module:
    """The conditional denoiser, initialised by ``model.init_scheme`` or loaded from
    ``model.init_denoiser`` (a shipped one or a safetensors file)."""
    m = cfg.model
    denoiser = apply_init(
        build_denoiser(m.diffusion, cfg.train.patch, m.gamma_scale), m.init_scheme
    )
    if m.init_denoiser:
        load_starting_denoiser(denoiser, m.init_denoiser, m.diffusion, m.gamma_scale)
    return denoiser


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
