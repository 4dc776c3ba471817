"""Deciding sizes once: the run's plan, the training batch, the restoration tile, OOM back-off.

    the_plan = plan(cfg, machine, device=device)        # Plan: resolved config, batch, workers...
    advice = suggest_batch(cfg, device)                 # BatchAdvice(batch=24, message=...)
    tile = tile_for(model, (h, w), device, "bf16")      # None: the whole image at once
    out = restore(model, img, device=device)            # tile chosen here, halved on OOM

Commands (``train``, ``restore``, ``evaluate``, ``bench``, validation, the app) call
these; ``inference.restore_image`` restores with the tile it is given and decides
nothing. Memory figures come from ``measure.default()`` (or the ``measure`` given):
where free memory is known (CUDA) the peak of a real probe (one training step at two
small batches, one restoration of a ``TILE_PROBE``² image) gives a linear model
``bytes = base + per_unit · n`` and the largest ``n`` fitting a fraction of the free
memory is chosen; elsewhere the configured batch and fixed tiles are used.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from . import inference
from . import measure as measuring
from .budget import Schedule
from .config import Config, Precision, config_to_dict
from .errors import OutOfMemoryAdvice
from .measure import Measure

if TYPE_CHECKING:
    from .starting_model import Restorer

BATCH_FRACTION = 0.85  # of free memory a suggested batch may use (the rest: fragmentation)
BATCH_CAP = 64
PROBE_BATCHES = (2, 4)
TILE_FRACTION = 0.6  # restoration shares the GPU with a viewer, the GUI, other programs
TILE_CAP = 4096
TILE_PROBE = 256
AUTO_TILE_PIXELS = 2048 * 2048  # memory not measured: whole image up to this many pixels...
AUTO_TILE = 1024  # ...else tiles of this side
MIN_TILE = 64  # OOM back-off never goes below this (or the net's pad multiple)
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


# --------------------------------------------------------------------------- the batch


def step_peaks(
    cfg: Config, device: torch.device, m: Measure, batches: Sequence[int] = PROBE_BATCHES
) -> list[tuple[int, float]]:
    """``(batch, peak bytes)`` of one real joint training step per batch.

    Peaks count from what this process held before the probe was built, so the
    networks, gradients and Adam's state (allocated by a first, unmeasured step)
    land in the fitted base. Everything is freed before returning.
    """
    from .probe import ProbeStep

    before = m.allocated_bytes(device)  # held by others in this process: not the step's
    probe = ProbeStep(cfg, device)
    try:
        probe(min(batches))
        return [(b, m.peak_bytes(device, functools.partial(probe, b)) - before) for b in batches]
    finally:
        del probe
        m.release(device)


def suggest_batch(cfg: Config, device: torch.device, measure: Measure | None = None) -> BatchAdvice:
    """The largest batch (≤ 64) whose joint step fits in 85 % of free device memory.

    Where memory is not measured (CPU, MPS) the configured ``train.batch`` comes back.
    """
    m = measure or measuring.default()
    configured = cfg.train.batch
    free = m.free_bytes(device)
    if free is None:
        return BatchAdvice(
            configured,
            f"batch {configured} (as configured): {device.type} memory "
            "is not measured; lower train.batch if the system swaps",
        )
    try:
        points = step_peaks(cfg, device, m)
    except Exception as exc:
        if not m.is_oom(exc):
            raise
        m.release(device)
        return BatchAdvice(
            1,
            f"even batch {min(PROBE_BATCHES)} ran out of memory on {device} "
            f"({free / GIB:.1f} GiB free); lower train.patch or pick a "
            "smaller model.diffusion / model.restorer",
            measured=True,
            free_bytes=free,
        )
    base, per_sample = fit_linear(points)
    batch = largest_fitting(base, per_sample, BATCH_FRACTION * free, BATCH_CAP)
    detail = (
        f"{free / GIB:.1f} GiB free, {max(per_sample, 0) / GIB:.2f} GiB per sample "
        f"+ {base / GIB:.2f} GiB fixed (patch {cfg.train.patch}, {cfg.model.restorer} + "
        f"{cfg.model.diffusion} denoiser)"
    )
    if batch < 1:
        return BatchAdvice(
            1,
            f"batch 1 may not fit: {detail}; lower train.patch or pick a smaller model.diffusion",
            True,
            free,
            base,
            per_sample,
        )
    capped = " (the cap)" if batch == BATCH_CAP else ""
    return BatchAdvice(
        batch,
        f"batch {batch}{capped} fits in {BATCH_FRACTION:.0%} of free memory: {detail}",
        True,
        free,
        base,
        per_sample,
    )


def with_suggested_batch(
    cfg: Config, device: torch.device, measure: Measure | None = None
) -> tuple[Config, BatchAdvice]:
    """``cfg`` with ``train.batch`` set to the suggestion (``train.auto_batch`` runs)."""
    advice = suggest_batch(cfg, device, measure)
    return replace(cfg, train=replace(cfg.train, batch=advice.batch)), advice


# --------------------------------------------------------------------------- the tile

# model → {(device, precision, tile batch): (tile side, tile batch)}: measured once,
# lowered by an out-of-memory back-off
_TILES: weakref.WeakKeyDictionary[nn.Module, dict[tuple[str, str, int], tuple[int, int]]] = (
    weakref.WeakKeyDictionary()
)


def _mult(model: nn.Module) -> int:
    return int(getattr(model, "pad_multiple", 8))


def measured_tile(
    model: nn.Module,
    device: torch.device,
    precision: Precision | str | None,
    free: int,
    m: Measure,
    tile_batch: int = 4,
) -> int:
    """Tile side so ``tile_batch`` tiles fit in 60 % of ``free`` bytes.

    From the peak of restoring one ``TILE_PROBE``² image whole (activation memory
    grows with the pixel count); a multiple of the net's ``pad_multiple``, between
    ``TILE_PROBE`` and ``TILE_CAP``.
    """
    image = torch.rand(3, TILE_PROBE, TILE_PROBE)
    model.to(device)  # the weights are not the tile's: count from after them
    before = m.allocated_bytes(device)
    peak = (
        m.peak_bytes(
            device,
            lambda: inference.restore_image(
                model, image, tile=None, device=device, precision=precision
            ),
        )
        - before
    )
    per_pixel = peak / TILE_PROBE**2
    side = int((TILE_FRACTION * free / max(1, tile_batch) / max(per_pixel, 1.0)) ** 0.5)
    side = max(TILE_PROBE, min(TILE_CAP, side))
    return max(_mult(model), side // _mult(model) * _mult(model))


def tile_for(
    model: nn.Module,
    size: tuple[int, int],
    device: torch.device | str,
    precision: Precision | str | None = None,
    tile_batch: int = 4,
    measure: Measure | None = None,
) -> int | None:
    """Tile side for restoring an image of ``size`` = (H, W); None: the whole image.

    Measured once per model, device, precision and tile batch where memory is known (the
    whole frame when its pixels fit in what ``tile_batch`` tiles may use); elsewhere whole
    images up to ``AUTO_TILE_PIXELS`` and ``AUTO_TILE`` tiles above.
    """
    return _plan(
        model, size, torch.device(device), precision, tile_batch, measure or measuring.default()
    )[0]


def _plan(
    model: nn.Module,
    size: tuple[int, int],
    device: torch.device,
    precision: Precision | str | None,
    tile_batch: int,
    m: Measure,
) -> tuple[int | None, int]:
    """(tile side or None, tiles per forward) for an image of ``size``."""
    mult = _mult(model)
    hp, wp = (-(-s // mult) * mult for s in size)
    key = (str(device), str(precision), tile_batch)
    known = _TILES.setdefault(model, {})
    if key not in known:
        free = m.free_bytes(device)
        if free is None:
            return (None if hp * wp <= AUTO_TILE_PIXELS else AUTO_TILE), tile_batch
        known[key] = measured_tile(model, device, precision, free, m, tile_batch), tile_batch
    tile, batch = known[key]
    return (None if whole_frame_fits((hp, wp), tile, batch) else tile), batch


def whole_frame_fits(size: tuple[int, int], tile: int, tile_batch: int) -> bool:
    """Whether a padded frame of ``size`` runs whole where ``tile_batch`` tiles of
    ``tile``² were measured to fit: as many pixels or fewer, no side above ``TILE_CAP``
    (or above the tile itself, when it fits anyway)."""
    h, w = size
    if h <= tile and w <= tile:
        return True
    return max(h, w) <= TILE_CAP and h * w <= tile_batch * tile * tile


def restore(
    model: nn.Module,
    img: torch.Tensor,
    *,
    tile: int | None = None,
    device: torch.device | str | None = None,
    precision: Precision | str | None = None,
    dtype: torch.dtype = torch.float32,
    overlap: int = 32,
    tile_batch: int = 4,
    min_tile: int = MIN_TILE,
    measure: Measure | None = None,
) -> torch.Tensor:
    """Restore ``img`` (3, H, W) in [0, 1] → (3, H, W), choosing the tile when none is given.

    Out of memory: retried with one tile per batch and half the tile, down to
    ``min_tile``, after which ``OutOfMemoryAdvice`` says what to lower. A tile that
    had to shrink is remembered for the next images of this model and device.
    """
    m = measure or measuring.default()
    dev = torch.device(device) if device is not None else _model_device(model)
    key = (str(dev), str(precision), tile_batch)
    if tile is None:
        tile, tile_batch = _plan(
            model, (int(img.shape[-2]), int(img.shape[-1])), dev, precision, tile_batch, m
        )
    mult = _mult(model)
    floor = max(mult, -(-min_tile // mult) * mult)
    while True:
        try:
            return inference.restore_image(
                model,
                img,
                tile=tile,
                overlap=overlap,
                device=dev,
                dtype=dtype,
                precision=precision,
                tile_batch=tile_batch,
            )
        except Exception as exc:
            if not m.is_oom(exc):
                raise
            m.release(dev)
        current = tile if tile is not None else max(-(-s // mult) * mult for s in img.shape[-2:])
        tile, tile_batch = current // 2 // mult * mult, 1
        if tile < floor:
            h, w = img.shape[-2:]
            raise OutOfMemoryAdvice(
                f"out of memory on {dev} restoring a {w}×{h} image even with {floor}-pixel "
                "tiles; use a smaller model, lower precision (--precision bf16 or fp16 on a "
                "GPU), free memory held by other programs, or restore on another device "
                "(--device cpu)"
            ) from None
        _TILES.setdefault(model, {})[key] = tile, tile_batch


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


# --------------------------------------------------------------------------- the plan

GPU_WORKERS = 4  # DataLoader processes on CUDA: crops and noise drawn ahead of the GPU


@dataclass(frozen=True)
class Machine:
    """What the plan needs to know of the device a run trains on (``device_report.DeviceReport``
    carries the same fields; tests fake it)."""

    kind: str  # cuda | mps | cpu
    total_gib: float = 0.0
    bf16: bool = False  # the GPU computes in bf16 (compute capability 8 or later)
    cpus: int = 1


@dataclass(frozen=True)
class Plan:
    """Everything decided before the loop, once: ``noiseda devices --json`` prints it
    (``to_dict``), the app shows and preselects it, ``train`` runs it.

    ``config`` is the resolved config (batch, workers and the starting file's
    architecture filled in, validated on construction) that the run saves once and only
    reads afterwards. ``restore_tile``: the tile side for images over
    ``AUTO_TILE_PIXELS`` (None: measured on the device at the first restoration).
    """

    config: Config
    device: str
    precision: str  # fp32 | bf16 | fp16, what the step computes in
    batch: int
    patch: int
    workers: int
    restore_tile: int | None
    compile_mode: str | None  # torch.compile's mode when train.compile (None: the default)
    schedule: Schedule  # the length and intervals; a time budget resizes it once
    minutes: float  # > 0: a time budget sizes the run after its first steps
    notes: tuple[str, ...] = ()  # why a size was chosen (train.auto_batch)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON for ``noiseda devices --json`` and the app (the config's sections nested)."""
        return {
            "device": self.device,
            "restorer": self.config.model.restorer,
            "denoiser": self.config.model.diffusion,
            "precision": self.precision,
            "batch": self.batch,
            "patch": self.patch,
            "workers": self.workers,
            "restore_tile": self.restore_tile,
            "compile_mode": self.compile_mode,
            "minutes": self.minutes,
            **self.schedule.to_dict(),
            "notes": list(self.notes),
            "config": config_to_dict(self.config),
        }


def first_run_config(machine: Machine) -> Config:
    """The sizes a first run starts with: small on a CPU (it ends the same afternoon), the
    paper's on a GPU (batch 24 from 20 GiB)."""
    if machine.kind == "cuda" and machine.total_gib >= 10:
        batch = 24 if machine.total_gib >= 20 else 16
        sizes = ("unet-s", "paper", 128, batch, 20000)
    elif machine.kind == "cuda":
        sizes = ("unet-t", "small", 128, 8, 20000)
    elif machine.kind == "mps":
        sizes = ("unet-t", "small", 96, 8, 5000)
    else:
        sizes = ("unet-t", "small", 64, 4, 1000)
    restorer, denoiser, patch, batch, steps = sizes
    base = Config()
    return replace(
        base,
        model=replace(base.model, restorer=restorer, diffusion=denoiser),
        train=replace(base.train, patch=patch, batch=batch, steps=steps),
    )


def workers_for(requested: int, machine: Machine) -> int:
    """DataLoader workers: as configured, or for ``-1`` (auto) ``GPU_WORKERS`` on CUDA
    (at most the CPU count) and 0 (in the training process) elsewhere."""
    if requested >= 0:
        return requested
    return min(GPU_WORKERS, max(1, machine.cpus)) if machine.kind == "cuda" else 0


def precision_for(requested: Precision, machine: Machine) -> str:
    """What the step computes in: ``auto`` is bf16 on GPUs that have it, fp32 elsewhere."""
    if requested != Precision.AUTO:
        return requested.value
    return "bf16" if machine.kind == "cuda" and machine.bf16 else "fp32"


def plan(
    config: Config,
    machine: Machine,
    *,
    device: torch.device | None = None,
    resuming: bool = False,
    starting: Restorer | None = None,
    quiet: bool = False,
    measure: Measure | None = None,
) -> Plan:
    """Resolve ``config`` for ``machine`` once, before the loop.

    ``starting``: the restorer loaded from ``model.init_restorer`` (its architecture
    becomes ``model.restorer``). ``train.auto_batch`` measures the batch on ``device``
    (a fresh run only; a resumed one keeps its batch). Sections are validated on
    construction, so the resolved config is checked like a loaded file.
    """
    notes: list[str] = []
    cfg = config
    if starting is not None and not resuming:
        from .starting_model import with_starting_architecture

        cfg = with_starting_architecture(cfg, starting, quiet=quiet)
    if cfg.train.auto_batch and not resuming and device is not None:
        cfg, advice = with_suggested_batch(cfg, device, measure)
        notes.append(advice.message)
    workers = workers_for(cfg.data.workers, machine)
    cfg = replace(cfg, data=replace(cfg.data, workers=workers))
    t = cfg.train
    return Plan(
        config=cfg,
        device=machine.kind,
        precision=precision_for(t.precision, machine),
        batch=t.batch,
        patch=t.patch,
        workers=workers,
        restore_tile=None if machine.kind == "cuda" else AUTO_TILE,
        compile_mode=compile_mode_for(torch.device(machine.kind), t.batch),
        schedule=Schedule.of(t),
        minutes=t.minutes,
        notes=tuple(notes),
    )


def first_run_plan(machine: Machine) -> Plan:
    """The plan of a first run on ``machine``: what ``noiseda devices --json`` prints."""
    return plan(first_run_config(machine), machine)


# --------------------------------------------------------------------------- compiling

CUDA_GRAPH_MAX_BATCH = 8  # at or below this batch a step is bound by kernel launches
COMPILE_MODES = ("auto", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile_mode_for(
    device: torch.device, batch: int, requested: str | None = "auto"
) -> str | None:
    """The ``torch.compile`` mode for a training step (None: the default mode).

    ``auto``: CUDA graphs (``reduce-overhead``) on CUDA for batches up to
    ``CUDA_GRAPH_MAX_BATCH``, where Python and launches bound the step; the default
    mode elsewhere (CUDA graphs exist only on CUDA). An explicit mode is kept, except
    that graph-capturing modes fall back to their plain twin off CUDA.
    """
    if requested in (None, "default"):
        return None
    if requested not in COMPILE_MODES:
        raise ValueError(f"unknown compile mode {requested!r}; one of {', '.join(COMPILE_MODES)}")
    on_cuda = device.type == "cuda"
    if requested == "auto":
        return "reduce-overhead" if on_cuda and batch <= CUDA_GRAPH_MAX_BATCH else None
    if not on_cuda:
        return {"reduce-overhead": None, "max-autotune": "max-autotune-no-cudagraphs"}.get(
            requested, requested
        )
    return requested


def wants_checkpointing(peak_bytes: float, budget_bytes: float | None) -> bool:
    """Whether to recompute the denoiser's full-resolution blocks in the backward pass.

    Only when a measured step peak is above the memory budget (``None``: no budget,
    never): checkpointing trades about a third more denoiser forward work for memory.
    """
    return budget_bytes is not None and peak_bytes > budget_bytes


__all__ = [
    "BatchAdvice",
    "Machine",
    "Plan",
    "compile_mode_for",
    "first_run_config",
    "first_run_plan",
    "fit_linear",
    "largest_fitting",
    "plan",
    "precision_for",
    "restore",
    "suggest_batch",
    "tile_for",
    "wants_checkpointing",
    "with_suggested_batch",
    "workers_for",
]
