"""Sizes from free device memory: the training batch and the restoration tile.

    advice = suggest_batch(cfg, device)       # BatchAdvice(batch=24, message="...")
    tile = suggest_tile(restorer, device, Precision.AUTO)

On CUDA both measure instead of guessing: the peak memory of a real joint step at
two small batches (or of a restoration at one small tile) gives a linear model
``bytes = base + per_unit · n``; the largest ``n`` whose prediction fits in a
fraction of the free memory is chosen. On the CPU (and MPS, whose free memory
PyTorch cannot report) the configured batch and a fixed tile are returned with a
message saying so.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from .config import Config, Precision

BATCH_FRACTION = 0.85  # of free memory a suggested batch may use (the rest: fragmentation)
BATCH_CAP = 64
PROBE_BATCHES = (2, 4)
TILE_FRACTION = 0.6  # restoration shares the GPU with a viewer, the GUI, other programs
TILE_CAP = 4096
TILE_PROBE = 256
CPU_TILE = 1024  # the CPU has no memory figure; 1024² tiles keep RAM use modest
GIB = 2**30


@dataclass(frozen=True)
class BatchAdvice:
    """A training batch for this device with the reason, for the CLI and the GUI."""

    batch: int
    message: str
    measured: bool = False  # True when it comes from a memory measurement
    free_bytes: int | None = None
    base_bytes: float | None = None  # memory a step needs whatever the batch
    bytes_per_sample: float | None = None


# --------------------------------------------------------------------------- maths


def fit_linear(points: Sequence[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares ``bytes = base + slope · n`` through ``(n, bytes)`` points (≥ 2 sizes)."""
    if len({n for n, _ in points}) < 2:
        raise ValueError("fit_linear needs measurements at two different sizes at least")
    k = len(points)
    mean_n = sum(n for n, _ in points) / k
    mean_b = sum(b for _, b in points) / k
    var = sum((n - mean_n) ** 2 for n, _ in points)
    slope = sum((n - mean_n) * (b - mean_b) for n, b in points) / var
    return mean_b - slope * mean_n, slope


def largest_fitting(base: float, per_unit: float, budget: float, cap: int) -> int:
    """Largest ``n`` in [0, cap] with ``base + per_unit · n ≤ budget`` (0: not even one fits)."""
    if per_unit <= 0:  # measurement noise can give a flat or falling line: trust the cap
        return cap if base <= budget else 0
    return max(0, min(cap, int((budget - base) // per_unit)))


# --------------------------------------------------------------------------- measuring


def free_bytes(device: torch.device) -> int | None:
    """Free memory on a CUDA device after emptying PyTorch's cache; None elsewhere."""
    if device.type != "cuda":
        return None
    gc.collect()
    torch.cuda.empty_cache()
    free, _total = torch.cuda.mem_get_info(device)
    return int(free)


def measure_step_peaks(cfg: Config, device: torch.device,
                       batches: Sequence[int] = PROBE_BATCHES) -> list[tuple[int, float]]:
    """``(batch, peak bytes)`` of one joint training step per batch (CUDA only).

    Peaks count from what this process held before: the networks, gradients and
    Adam's state (allocated by a first, unmeasured step) are in every point, so
    they land in the fitted base. Everything is freed before returning.
    """
    from .probe import ProbeStep

    before = torch.cuda.memory_allocated(device)  # held by others in this process: not ours
    step = ProbeStep(cfg, device)
    try:
        step(min(batches))  # Adam's state is allocated here, outside the measurement
        points = []
        for batch in batches:
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            step(batch)
            torch.cuda.synchronize(device)
            points.append((batch, float(torch.cuda.max_memory_allocated(device) - before)))
    finally:
        del step
        gc.collect()
        torch.cuda.empty_cache()
    return points


def suggest_batch(cfg: Config, device: torch.device) -> BatchAdvice:
    """The largest batch (≤ 64) whose joint step fits in 85 % of free GPU memory.

    On the CPU/MPS the configured ``train.batch`` comes back unchanged.
    """
    configured = cfg.train.batch
    if device.type != "cuda":
        return BatchAdvice(configured, f"batch {configured} (as configured): {device.type} memory "
                                       "is not measured; lower train.batch if the system swaps")
    free = free_bytes(device)
    assert free is not None
    try:
        points = measure_step_peaks(cfg, device)
    except torch.OutOfMemoryError:
        gc.collect()
        torch.cuda.empty_cache()
        return BatchAdvice(1, f"even batch {min(PROBE_BATCHES)} ran out of memory on {device} "
                              f"({free / GIB:.1f} GiB free); lower train.patch or pick a "
                              "smaller model.diffusion / model.restorer", measured=True,
                           free_bytes=free)
    base, per_sample = fit_linear(points)
    budget = BATCH_FRACTION * free
    batch = largest_fitting(base, per_sample, budget, BATCH_CAP)
    detail = (f"{free / GIB:.1f} GiB free, {max(per_sample, 0) / GIB:.2f} GiB per sample "
              f"+ {base / GIB:.2f} GiB fixed (patch {cfg.train.patch}, {cfg.model.restorer} + "
              f"{cfg.model.diffusion} denoiser)")
    if batch < 1:
        return BatchAdvice(1, f"batch 1 may not fit: {detail}; lower train.patch or pick a "
                              "smaller model.diffusion", True, free, base, per_sample)
    capped = " (the cap)" if batch == BATCH_CAP else ""
    return BatchAdvice(batch, f"batch {batch}{capped} fits in {BATCH_FRACTION:.0%} of free memory: "
                              f"{detail}", True, free, base, per_sample)


def measure_tile_peak(restorer: nn.Module, device: torch.device, precision: Precision | str,
                      tile: int) -> float:
    """Peak bytes of restoring one ``tile``² image whole (CUDA only)."""
    from .inference import restore_image

    image = torch.rand(3, tile, tile)
    torch.cuda.synchronize(device)
    start = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    restore_image(restorer, image, tile=None, device=device, precision=precision)
    torch.cuda.synchronize(device)
    return float(torch.cuda.max_memory_allocated(device) - start)


def suggest_tile(restorer: nn.Module, device: torch.device | str,
                 precision: Precision | str = Precision.AUTO, tile_batch: int = 4) -> int:
    """Tile side for ``restore_image`` so that ``tile_batch`` tiles fit in 60 % of free memory.

    Measured on CUDA from the peak of one ``TILE_PROBE``² forward (activation memory
    grows with the pixel count); a multiple of the net's ``pad_multiple``, between
    ``TILE_PROBE`` and ``TILE_CAP``. Elsewhere ``CPU_TILE``.
    """
    device = torch.device(device)
    mult = int(getattr(restorer, "pad_multiple", 8))
    if device.type != "cuda":
        return CPU_TILE // mult * mult
    free = free_bytes(device)
    assert free is not None
    per_pixel = measure_tile_peak(restorer, device, precision, TILE_PROBE) / TILE_PROBE**2
    budget = TILE_FRACTION * free / max(1, tile_batch)
    side = int((budget / max(per_pixel, 1.0)) ** 0.5)
    side = max(TILE_PROBE, min(TILE_CAP, side))
    return max(mult, side // mult * mult)


def with_suggested_batch(cfg: Config, device: torch.device) -> tuple[Config, BatchAdvice]:
    """``cfg`` with ``train.batch`` set to the suggestion (for ``train.batch = auto`` callers)."""
    advice = suggest_batch(cfg, device)
    return replace(cfg, train=replace(cfg.train, batch=advice.batch)), advice


__all__ = ["BatchAdvice", "fit_linear", "largest_fitting", "suggest_batch", "suggest_tile",
           "with_suggested_batch"]
