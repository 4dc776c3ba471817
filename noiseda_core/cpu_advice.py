"""A warning before a GPU-sized run starts on a CPU: how long it would take, what to change.

The estimate is rough on purpose: seconds per 128×128 training image on a 2-core
CPU, measured with ``noiseda bench`` and ``benchmarks/plain_reference.py`` on the
development machine (benchmarks/RESULTS.md: the paper step, batch 2, ≈ 10 s), scaled
by the patch area and the number of cores. It only has to tell "minutes" from "days".
"""

from __future__ import annotations

import os

from .config import Config, Mode

# seconds per 128² image (restorer + denoiser, forward and backward) on 2 CPU cores
SECONDS_PER_IMAGE_128 = {"paper": 5.0, "small": 1.0, "tiny": 0.25}
BASELINE_SECONDS_PER_IMAGE_128 = 0.6  # unet-s alone
WARN_STEP_S = 2.0  # slower steps than this are GPU-sized
WARN_TOTAL_S = 4 * 3600.0


def _human(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def estimate_step_s(cfg: Config, cores: int | None = None) -> float:
    """Rough seconds per training step of ``cfg`` on a CPU with ``cores`` cores."""
    cores = max(1, cores or os.cpu_count() or 1)
    t = cfg.train
    per_image = (
        BASELINE_SECONDS_PER_IMAGE_128
        if t.mode == Mode.BASELINE
        else SECONDS_PER_IMAGE_128.get(cfg.model.diffusion, 5.0)
    )
    return per_image * (t.patch / 128) ** 2 * t.batch * 2 / min(cores, 32)


def cpu_advice(cfg: Config, cores: int | None = None, device_type: str | None = None) -> str | None:
    """A warning for a GPU-sized ``cfg`` about to train on a CPU, or None; what it advises
    are the plan's CPU sizes (``policy.first_run_config``), where they are lighter."""
    if device_type is None:
        from .device import resolve_device
        from .errors import UserError

        try:
            device_type = resolve_device(cfg.train.device).type
        except UserError:
            return None  # the run itself will say what is wrong with the device
    if device_type != "cpu":
        return None
    step_s = estimate_step_s(cfg, cores)
    total_s = step_s * cfg.train.steps
    if step_s < WARN_STEP_S and total_s < WARN_TOTAL_S:
        return None
    from dataclasses import replace

    from .policy import Machine, first_run_config

    cpu = first_run_config(Machine("cpu"))  # the plan's CPU sizes, where they are lighter
    order = ("tiny", "small", "paper")
    denoisers = [cfg.model.diffusion, cpu.model.diffusion]
    smaller = min(denoisers, key=lambda d: order.index(d) if d in order else len(order))
    patch, batch = min(cfg.train.patch, cpu.train.patch), min(cfg.train.batch, cpu.train.batch)
    lighter = replace(
        cfg,
        model=replace(cfg.model, diffusion=smaller),
        train=replace(cfg.train, patch=patch, batch=batch),
    )
    flags = [
        f"--set {key}={value}"
        for key, value, old in (
            ("model.diffusion", smaller, cfg.model.diffusion),
            ("train.patch", patch, cfg.train.patch),
            ("train.batch", batch, cfg.train.batch),
        )
        if value != old
    ]
    return (
        f"this run is sized for a GPU: on this CPU one step (batch {cfg.train.batch}, "
        f"patch {cfg.train.patch}, denoiser '{cfg.model.diffusion}') takes about "
        f"{_human(step_s)}, so {cfg.train.steps:,} steps take about {_human(total_s)}. "
        f"For a CPU, add {' '.join(flags)} (about {_human(estimate_step_s(lighter, cores))} "
        "a step) and fewer --set train.steps=..., or train on a GPU"
    )
