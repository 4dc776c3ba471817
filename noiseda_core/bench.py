"""``noiseda bench``: time the joint training step and restoration; print JSON lines.

The training step timed here is the one ``train.py`` runs (``step.TrainStep`` over
``parts.build_parts``: same networks, optimizer, gradient scaler and EMA), fed with
random tensors so the data pipeline is not what is measured (``probe.ProbeStep``). Times are medians of
synchronised steps after warm-up; peak memory is PyTorch's allocator peak.

    noiseda bench --preset paper --batch 24 --precision bf16 --compile

One JSON object per line (``cli.md``): ``what`` is ``train``, ``restore``,
``suggest-batch``, ``compile-fallback`` or ``error`` (a measurement that ran out of
memory: the others still run).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch

from .config import Config, Mode, ModelConfig, Precision, TrainConfig
from .device import autocast_dtype, describe_device, precision_name, resolve_device, synchronize
from .errors import UserError
from .imageio import MAX_PIXELS
from .objective import StepTerms
from .probe import ProbeStep

PRESETS: dict[str, ModelConfig] = {
    "paper": ModelConfig(restorer="unet-s", diffusion="paper"),  # 8.56 M + 62.6 M
    "tiny": ModelConfig(restorer="unet-tiny", diffusion="tiny"),
}


def _peak_reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gib(device: torch.device) -> float | None:
    if device.type == "cuda":
        return round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
    return None


def _reserved_gib(device: torch.device) -> float | None:
    if device.type == "cuda":
        return round(torch.cuda.max_memory_reserved(device) / 2**30, 3)
    return None


def make_step(cfg: Config, device: torch.device) -> Callable[[int], StepTerms]:
    """A callable running one training step of ``cfg`` at a given batch (``ProbeStep``)."""
    return ProbeStep(cfg, device)


def time_train_step(cfg: Config, device: torch.device, steps: int, warmup: int) -> dict[str, Any]:
    """Median seconds per joint step for ``cfg`` (batch, patch, precision, compile)."""
    batch = cfg.train.batch
    _peak_reset(device)
    step = ProbeStep(cfg, device)
    times = []
    for i in range(warmup + steps):
        synchronize(device)
        start = time.perf_counter()
        terms = step(batch)
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    loss = float(terms.total.detach())
    step_s = statistics.median(times)
    result = {"precision": precision_name(step.amp), "step_s": round(step_s, 5),
              "images_per_s": round(batch / step_s, 3), "peak_mem_gib": _peak_gib(device),
              "peak_reserved_gib": _reserved_gib(device), "steps": steps, "warmup": warmup,
              "loss": loss, "compile_error": step.step.compile_error}
    del step
    return result


PHASES = ("step.forward", "step.backward", "step.optimizer", "step.ema")


def profile_train_step(cfg: Config, device: torch.device, steps: int, warmup: int,
                       top: int = 12) -> dict[str, Any]:
    """Where a step's time goes (``torch.profiler``): the step's phases and the top ops.

    Op times are per step, in milliseconds of device time on CUDA (kernels), of CPU
    time elsewhere; ``share`` is the op's part of all self time. Each phase has its
    CPU-side range (``cpu_ms``; on CUDA mostly kernel launching) and, on CUDA, the
    device time of the kernels it launched (``device_ms``).
    """
    from torch.profiler import ProfilerActivity, profile

    batch = cfg.train.batch
    step = ProbeStep(cfg, device)
    for _ in range(warmup):
        step(batch)
    synchronize(device)
    on_gpu = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step(batch)
        synchronize(device)
    averages = prof.key_averages()
    self_key = "self_device_time_total" if on_gpu else "self_cpu_time_total"
    ops = [e for e in averages if not e.key.startswith(("step.", "ProfilerStep"))]
    all_self = sum(getattr(e, self_key) for e in ops) or 1.0
    ranked = sorted(ops, key=lambda e: getattr(e, self_key), reverse=True)[:top]
    phases = {e.key: {"cpu_ms": round(e.cpu_time_total / 1e3 / steps, 3),
                      "device_ms": round(e.device_time_total / 1e3 / steps, 3) if on_gpu else None}
              for e in averages if e.key in PHASES}
    return {"precision": precision_name(step.amp), "steps": steps, "clock": "device" if on_gpu
            else "cpu", "self_ms_per_step": round(all_self / 1e3 / steps, 3), "phases_ms": phases,
            "top": [{"op": e.key, "ms": round(getattr(e, self_key) / 1e3 / steps, 3),
                     "share": round(getattr(e, self_key) / all_self, 4), "calls": e.count // steps}
                    for e in ranked]}


def time_restore(restorer_name: str, device: torch.device, width: int, height: int,
                 precision: str, repeats: int = 3, tile: int | None = None) -> dict[str, Any]:
    """Megapixels per second restoring one ``width``×``height`` image (median of repeats)."""
    from .inference import _autocast_dtype, restore_image
    from .nets import build_restorer

    model = build_restorer(restorer_name).to(device).eval()  # as ``noiseda restore`` has it
    image = torch.rand(3, height, width)
    _peak_reset(device)
    restore_image(model, image, device=device, precision=precision, tile=tile)  # warm-up
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        restore_image(model, image, device=device, precision=precision, tile=tile)
        synchronize(device)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    amp = _autocast_dtype(precision, torch.float32, device)
    return {"precision": precision_name(amp), "tile": tile, "seconds": round(seconds, 5),
            "mpix_per_s": round(width * height / 1e6 / seconds, 3),
            "peak_mem_gib": _peak_gib(device)}


def _parse_size(text: str) -> tuple[int, int]:
    try:
        if "x" in text.lower():
            w, h = text.lower().split("x")
            size = int(w), int(h)
        else:
            size = int(text), int(text)
    except ValueError:
        raise UserError(f"--restore-sizes: {text!r} is not a size (use 1024 or 3840x2160)") from None
    if min(size) < 16:
        raise UserError(f"--restore-sizes: {text!r} is too small (at least 16 pixels a side)")
    if size[0] * size[1] > MAX_PIXELS:  # refused before anything is allocated
        raise UserError(f"--restore-sizes: {text!r} is {size[0] * size[1] / 1e6:,.0f} megapixels, "
                        f"more than the {MAX_PIXELS // 1_000_000} that restore accepts")
    return size


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def _oom_record(what: str, base: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {**base, "what": "error", "during": what, "error": "out of memory",
            "detail": str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}


def run_bench(device: str = "auto", batch: int | None = None, patch: int = 128,
              preset: str = "tiny", steps: int | None = None, precision: str = "auto",
              compile: bool = False, restore_sizes: str = "1024,3840x2160",
              skip_restore: bool = False, skip_train: bool = False,
              suggest: bool = False, profile: bool = False) -> int:
    """Print one JSON object per measurement; returns the exit status.

    ``compile``: after the eager run, time the same step under ``torch.compile``;
    when compiling fails a ``compile-fallback`` line says why and the eager
    figure stands. ``suggest``: also print the batch ``policy.suggest_batch`` picks.
    ``profile``: a ``profile`` line saying where the (eager) step's time goes.
    """
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    torch_device = resolve_device(device)
    info = describe_device(torch_device)
    on_gpu = torch_device.type == "cuda"
    batch = (24 if on_gpu else 2) if batch is None else batch
    steps = (20 if on_gpu else 3) if steps is None else steps
    if batch < 1 or steps < 1 or patch < 16:
        raise UserError(f"--batch and --steps must be at least 1 and --patch at least 16 "
                        f"(got --batch {batch}, --steps {steps}, --patch {patch})")
    sizes = [] if skip_restore else [_parse_size(s.strip()) for s in restore_sizes.split(",") if s.strip()]
    base_cfg = Config(model=PRESETS[preset],
                      train=TrainConfig(batch=batch, patch=patch, precision=Precision(precision),
                                        device=device, compile=False))
    common = {"preset": preset, "device": info.name}
    if suggest:
        from .policy import suggest_batch

        advice = suggest_batch(base_cfg, torch_device)
        _emit({"what": "suggest-batch", **common, "patch": patch, "batch": advice.batch,
               "measured": advice.measured, "message": advice.message})
    variants = [] if skip_train else [base_cfg]
    if compile and not skip_train:
        variants.append(replace(base_cfg, train=replace(base_cfg.train, compile=True)))
    warmup = (3 if on_gpu else 1)
    for cfg in variants:
        line = {"what": "train", **common, "batch": batch, "patch": patch,
                "compile": cfg.train.compile}
        try:
            # compiling happens in the first steps: give it more warm-up
            result = time_train_step(cfg, torch_device, steps=steps,
                                     warmup=warmup + (2 if cfg.train.compile else 0))
        except torch.OutOfMemoryError as exc:
            _emit(_oom_record("train", line, exc))
            continue
        error = result.pop("compile_error")
        if error is not None:  # the step fell back to eager: that figure is above already
            _emit({"what": "compile-fallback", **common, "batch": batch, "patch": patch,
                   "error": error,
                   "message": "torch.compile failed; the eager step above is the figure to use"})
            continue
        _emit({**line, **result})
    if profile and not skip_train:
        line = {"what": "profile", **common, "batch": batch, "patch": patch}
        try:
            _emit({**line, **profile_train_step(base_cfg, torch_device, steps=min(steps, 5),
                                                 warmup=warmup)})
        except torch.OutOfMemoryError as exc:
            _emit(_oom_record("profile", line, exc))
    restorer = PRESETS[preset].restorer
    for width, height in sizes:
        line = {"what": "restore", **common, "restorer": restorer,
                "size": width if width == height else f"{width}x{height}",
                "width": width, "height": height}
        try:
            from .nets import build_restorer
            from .policy import tile_for

            tile = tile_for(build_restorer(restorer).to(torch_device), (height, width),
                            torch_device, precision)
            result = time_restore(restorer, torch_device, width, height, precision,
                                  repeats=5 if on_gpu else 1, tile=tile)
        except torch.OutOfMemoryError as exc:
            _emit(_oom_record("restore", line, exc))
            continue
        _emit({**line, **result})
    return 0


__all__ = ["PRESETS", "make_step", "profile_train_step", "run_bench", "time_restore", "time_train_step"]
