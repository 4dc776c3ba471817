"""FLOPs counted from the networks themselves, and the model FLOPs utilisation (MFU).

    flops = train_step_flops(cfg)            # one joint step per sample: forward + backward
    mfu(flops * images_per_s, peak_flops("NVIDIA H200"))

Counting runs the real modules on the ``meta`` device under PyTorch's
``FlopCounterMode`` (convolutions, matrix products and attention; element-wise work is
not counted, as MFU conventionally does), so it costs no memory and no time. For the
paper preset at 128² it gives 767 GFLOP a sample: two restorer forwards of 24.9 GFLOP
and two denoiser forwards of 103.0 GFLOP, each about ×3 with the backward pass.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from .config import Config

# Dense bf16 tensor-core peak, FLOP/s (vendor data sheets; no sparsity)
PEAK_BF16_FLOPS: dict[str, float] = {
    "H200": 989.4e12,
    "H100": 989.4e12,  # SXM; the PCIe card is lower (756 TFLOP/s)
    "B200": 2250e12,
    "A100": 312e12,
    "L40S": 362.1e12,
    "L4": 121e12,
    "A10G": 70e12,
}


def peak_flops(device_name: str) -> float | None:
    """The dense bf16 peak of a GPU named ``device_name`` (None: unknown, e.g. a CPU).

    ``NOISEDA_PEAK_TFLOPS`` overrides the table (for cards it does not list).
    """
    if override := os.environ.get("NOISEDA_PEAK_TFLOPS"):
        return float(override) * 1e12
    upper = device_name.upper()
    for name in sorted(PEAK_BF16_FLOPS, key=len, reverse=True):  # "L40S" before "L4"
        if name in upper:
            return PEAK_BF16_FLOPS[name]
    return None


def mfu(flops_per_s: float, peak: float | None) -> float | None:
    """Achieved over peak FLOP/s (None when the peak is unknown)."""
    return None if not peak else flops_per_s / peak


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of what ``fn`` runs (forward and, if it calls it, backward)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def train_step_flops(cfg: Config, batch: int = 1) -> int:
    """FLOPs of one joint training step of ``cfg`` at ``batch``: forward and backward of
    the objective (restorer on both domains, the denoiser's positive and negative pass)."""
    from .diffusion import build_denoiser
    from .diffusion.loss import NoiseDALoss
    from .nets import build_restorer
    from .objective import JointObjective

    t, meta = cfg.train, torch.device("meta")
    with meta:
        restorer = build_restorer(cfg.model.restorer)
        noise_da = None
        if t.mode.value != "baseline":
            noise_da = NoiseDALoss(
                build_denoiser(cfg.model.diffusion, t.patch),
                mode=t.mode,
                channel_shuffle=t.channel_shuffle,
                residual_swap=t.residual_swap,
            )
        objective = JointObjective(restorer, noise_da)
    shape = (batch, 3, t.patch, t.patch)
    x_s, y_s = torch.rand(shape, device=meta), torch.rand(shape, device=meta)
    x_r = torch.rand((batch * t.real_per_pair, *shape[1:]), device=meta)
    ref = torch.rand(shape, device=meta) if t.mode.value == "noise-da-unpaired" else None
    return count_flops(lambda: objective(x_s, y_s, x_r, ref, lam=0.1).total.backward())


def restore_flops(restorer_name: str, height: int, width: int) -> int:
    """FLOPs of one restorer forward over a ``height``×``width`` image."""
    from .nets import build_restorer

    with torch.device("meta"):
        model = build_restorer(restorer_name).eval()
    x = torch.rand(1, 3, height, width, device="meta")
    with torch.no_grad():
        return count_flops(lambda: model(x))


def parameter_counts(cfg: Config) -> dict[str, int]:
    """Parameters of the restorer and the denoiser of ``cfg`` (built on ``meta``)."""
    from .diffusion import build_denoiser
    from .nets import build_restorer

    with torch.device("meta"):
        restorer = build_restorer(cfg.model.restorer)
        denoiser = build_denoiser(cfg.model.diffusion, cfg.train.patch)
    return {
        "restorer": sum(p.numel() for p in restorer.net.parameters()),
        "denoiser": sum(p.numel() for p in denoiser.parameters()),
    }
