"""``noiseda bench``: time the joint training step and restoration; print JSON lines.

The training step timed here is the one ``train.py`` runs (``step.TrainStep`` over
``parts.build_parts``: same networks, optimizer, gradient scaler and EMA), fed with
random tensors so the data pipeline is not what is measured (``probe.ProbeStep``). Times
are medians of synchronised steps after warm-up; peak memory is PyTorch's allocator peak.

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

from .config import Config, ModelConfig, Precision, TrainConfig
from .device import describe_device, precision_name, resolve_device, synchronize
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


def step_times(run: Callable[[int], object], steps: int, device: torch.device) -> list[float]:
    """Seconds of each of ``steps`` calls ``run(i)``.

    On CUDA: a pair of CUDA events around each step and one synchronisation at the end,
    so the host never waits between steps (as in training). Elsewhere: wall-clock time
    of each step with a synchronisation after it.
    """
    if device.type == "cuda":
        marks = [
            (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
            for _ in range(steps)
        ]
        for i, (begin, end) in enumerate(marks):
            begin.record()
            run(i)
            end.record()
        torch.cuda.synchronize(device)
        return [begin.elapsed_time(end) / 1e3 for begin, end in marks]
    times = []
    for i in range(steps):
        synchronize(device)
        start = time.perf_counter()
        run(i)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def lambda_ramp(i: int, n: int) -> float:
    """λ of timed step ``i`` of ``n``: a ramp, so a compiled step shows it never recompiles."""
    return 0.2 * (i + 1) / max(n, 1)


def time_train_step(
    cfg: Config,
    device: torch.device,
    steps: int,
    warmup: int,
    *,
    compile_mode: str | None = "auto",
    compile_backend: str = "inductor",
    checkpoint: bool = False,
) -> dict[str, Any]:
    """Median seconds per joint step for ``cfg`` (batch, patch, precision, compile).

    A compiled run also reports ``graph_breaks`` (Dynamo's count) and ``recompiles``
    (graphs compiled after the first step, over a λ ramp), and its ``compile_mode``.
    """
    from .step import compile_counts, reset_compile_counts

    batch, compiled = cfg.train.batch, cfg.train.compile
    if compiled:
        reset_compile_counts()
    _peak_reset(device)
    from .policy import compile_mode_for

    compile_mode = compile_mode_for(device, cfg.train.batch, compile_mode)
    step = ProbeStep(
        cfg,
        device,
        compile_mode=compile_mode,
        compile_backend=compile_backend,
        checkpoint=checkpoint,
    )
    last: dict[str, StepTerms] = {}

    def run(i: int, n: int) -> None:
        last["terms"] = step(batch, lam=lambda_ramp(i, n))

    began = time.perf_counter()
    run(0, warmup)
    first_s = time.perf_counter() - began  # the first step compiles (when compiling)
    after_first = compile_counts() if compiled else None
    for i in range(1, warmup):
        run(i, warmup)
    times = step_times(lambda i: run(i, steps), steps, device)
    loss = float(last["terms"].total.detach())
    step_s = statistics.median(times)
    result = {
        "precision": precision_name(step.amp),
        "step_s": round(step_s, 5),
        "images_per_s": round(batch / step_s, 3),
        "peak_mem_gib": _peak_gib(device),
        "peak_reserved_gib": _reserved_gib(device),
        "steps": steps,
        "warmup": warmup,
        "first_step_s": round(first_s, 3),
        "timing": "cuda-events" if device.type == "cuda" else "wall-clock",
        "checkpoint": checkpoint,
        "loss": loss,
        "compile_error": step.step.compile_error,
    }
    if compiled and after_first is not None:
        counts = compile_counts()
        result.update(
            compile_mode=step.step.compile_mode or "default",
            compile_backend=compile_backend,
            graph_breaks=counts["graph_breaks"],
            recompiles=counts["graphs"] - after_first["graphs"],
            graphs=counts["graphs"],
        )
    return result


def with_mfu(result: dict[str, Any], flops_per_image: int, device_name: str) -> dict[str, Any]:
    """``result`` with the FLOPs a sample, the achieved TFLOP/s and the MFU against the
    device's dense bf16 peak (``flops.peak_flops``; null where unknown)."""
    from .flops import mfu, peak_flops

    achieved = flops_per_image * result["images_per_s"]
    peak = peak_flops(device_name)
    value = mfu(achieved, peak)
    return {
        **result,
        "gflop_per_image": round(flops_per_image / 1e9, 2),
        "tflop_per_s": round(achieved / 1e12, 3),
        "peak_tflop_per_s": None if peak is None else round(peak / 1e12, 1),
        "mfu": None if value is None else round(value, 4),
    }


PHASES = ("step.forward", "step.backward", "step.optimizer", "step.ema")


def timed_rows(averages: Any, on_gpu: bool) -> list[Any]:
    """The profiler rows whose self times add up without double counting.

    On CUDA: the kernels (and device copies and sets) alone; an aten op's device time
    is that of the kernels it launched, so adding both counted them twice. Elsewhere:
    every op but the step's named ranges (self CPU times exclude children already).
    """
    # public in torch.autograd, though its stub does not re-export it
    from torch.autograd import DeviceType  # pyright: ignore[reportPrivateImportUsage]

    if on_gpu:
        return [e for e in averages if getattr(e, "device_type", None) == DeviceType.CUDA]
    return [e for e in averages if not e.key.startswith(("step.", "ProfilerStep"))]


def profile_train_step(
    cfg: Config, device: torch.device, steps: int, warmup: int, top: int = 12
) -> dict[str, Any]:
    """Where a step's time goes (``torch.profiler``): the step's phases and the top ops.

    Op times are per step, in milliseconds: on CUDA of the kernels alone (``timed_rows``:
    aten ops are not added on top of their kernels), of CPU self time elsewhere;
    ``share`` is the row's part of all of them. Each phase has its
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
    ops = timed_rows(averages, on_gpu)
    all_self = sum(getattr(e, self_key) for e in ops) or 1.0
    ranked = sorted(ops, key=lambda e: getattr(e, self_key), reverse=True)[:top]
    phases = {
        e.key: {
            "cpu_ms": round(e.cpu_time_total / 1e3 / steps, 3),
            "device_ms": round(e.device_time_total / 1e3 / steps, 3) if on_gpu else None,
        }
        for e in averages
        if e.key in PHASES
    }
    return {
        "precision": precision_name(step.amp),
        "steps": steps,
        "clock": "kernels" if on_gpu else "cpu",
        "self_ms_per_step": round(all_self / 1e3 / steps, 3),
        "phases_ms": phases,
        "top": [
            {
                "op": e.key,
                "ms": round(getattr(e, self_key) / 1e3 / steps, 3),
                "share": round(getattr(e, self_key) / all_self, 4),
                "calls": e.count // steps,
            }
            for e in ranked
        ],
    }


RESTORE_VARIANTS = ("weights", "autocast", "compiled")


def restore_variants(
    requested: str, device: torch.device, precision: str, compile: bool
) -> list[str]:
    """Which restoration paths to time: ``weights`` (half-precision channels-last weights,
    no autocast), ``autocast`` (fp32 weights under autocast, the previous path) and
    ``compiled`` (the weights path through ``torch.compile``).

    ``auto``: what ``noiseda restore`` runs (``weights`` on CUDA at half precision, else
    the one default path), plus ``autocast`` beside it on CUDA and ``compiled`` with
    ``--compile``; ``all``: every one (a CPU dry run of the GPU script); or a list.
    """
    from .inference import restoration_autocast_dtype

    if requested == "all":
        return list(RESTORE_VARIANTS)
    if requested != "auto":
        chosen = [v.strip() for v in requested.split(",") if v.strip()]
        unknown = sorted(set(chosen) - set(RESTORE_VARIANTS))
        if unknown or not chosen:
            raise UserError(
                f"--restore-variants: {', '.join(unknown) or requested!r} unknown; "
                f"use auto, all or some of {', '.join(RESTORE_VARIANTS)}"
            )
        return chosen
    half = restoration_autocast_dtype(precision, torch.float32, device) is not None
    if device.type != "cuda" or not half:
        return ["default"] + (["compiled"] if compile else [])
    return ["weights", "autocast"] + (["compiled"] if compile else [])


def time_restore(
    restorer_name: str,
    device: torch.device,
    width: int,
    height: int,
    precision: str,
    repeats: int = 3,
    tile: int | None = None,
    variant: str = "default",
    compile_backend: str = "inductor",
) -> dict[str, Any]:
    """Megapixels per second restoring one ``width``×``height`` image (median of repeats).

    ``mpix_per_s`` times the restoration of an image already on the device (compute);
    ``mpix_per_s_with_transfers`` includes the copy there and back, timed apart too.
    """
    from .inference import restoration_autocast_dtype, restore_image
    from .nets import build_restorer

    model = build_restorer(restorer_name).to(device).eval()  # as ``noiseda restore`` has it
    half = {"weights": True, "compiled": True, "autocast": False}.get(variant)
    amp = restoration_autocast_dtype(precision, torch.float32, device)
    compiled = variant == "compiled"
    if compiled and amp is None:  # no half precision: the compiled fp32 net
        half = None

    def restore(image: torch.Tensor) -> torch.Tensor:
        return restore_image(
            model,
            image,
            device=device,
            precision=precision,
            tile=tile,
            half_weights=half,
            compile=compiled,
            compile_backend=compile_backend,
        )

    host = torch.rand(3, height, width)
    on_device = host.to(device)
    _peak_reset(device)
    restore(on_device)  # warm-up (and compiling)
    compute = step_times(lambda _: restore(on_device), repeats, device)
    whole = step_times(lambda _: restore(host), repeats, device)
    transfer = step_times(
        lambda _: on_device.copy_(host.to(device, non_blocking=True)).cpu(), repeats, device
    )
    seconds, with_transfers = statistics.median(compute), statistics.median(whole)
    mpix = width * height / 1e6
    return {
        "precision": precision_name(amp),
        "variant": variant,
        "tile": tile,
        "seconds": round(seconds, 5),
        "mpix_per_s": round(mpix / seconds, 3),
        "seconds_with_transfers": round(with_transfers, 5),
        "mpix_per_s_with_transfers": round(mpix / with_transfers, 3),
        "transfer_s": round(statistics.median(transfer), 5),
        "peak_mem_gib": _peak_gib(device),
    }


def _parse_size(text: str) -> tuple[int, int]:
    try:
        if "x" in text.lower():
            w, h = text.lower().split("x")
            size = int(w), int(h)
        else:
            size = int(text), int(text)
    except ValueError:
        raise UserError(
            f"--restore-sizes: {text!r} is not a size (use 1024 or 3840x2160)"
        ) from None
    if min(size) < 16:
        raise UserError(f"--restore-sizes: {text!r} is too small (at least 16 pixels a side)")
    if size[0] * size[1] > MAX_PIXELS:  # refused before anything is allocated
        raise UserError(
            f"--restore-sizes: {text!r} is {size[0] * size[1] / 1e6:,.0f} megapixels, "
            f"more than the {MAX_PIXELS // 1_000_000} that restore accepts"
        )
    return size


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def _oom_record(what: str, base: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {
        **base,
        "what": "error",
        "during": what,
        "error": "out of memory",
        "detail": str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__,
    }


def run_bench(
    device: str = "auto",
    batch: int | None = None,
    patch: int = 128,
    preset: str = "tiny",
    steps: int | None = None,
    precision: str = "auto",
    compile: bool = False,
    restore_sizes: str = "1024,3840x2160",
    skip_restore: bool = False,
    skip_train: bool = False,
    suggest: bool = False,
    profile: bool = False,
    compile_mode: str = "auto",
    compile_backend: str = "inductor",
    checkpoint: str = "off",
    memory_goal_gib: float | None = None,
    restore_variants_arg: str = "auto",
) -> int:
    """Print one JSON object per measurement; returns the exit status.

    ``compile``: after the eager run, time the same step under ``torch.compile``;
    when compiling fails a ``compile-fallback`` line says why and the eager
    figure stands. ``suggest``: also print the batch ``policy.suggest_batch`` picks.
    ``profile``: a ``profile`` line saying where the (eager) step's time goes.
    ``compile_mode``: ``auto`` (``policy.compile_mode_for``: CUDA graphs for small CUDA
    batches) or a ``torch.compile`` mode; ``compile_backend``: ``inductor``, or
    ``aot_eager`` (Dynamo without code generation: graph breaks and recompiles counted
    in seconds on a CPU). ``checkpoint``: ``on`` adds a run with the denoiser's
    full-resolution stages checkpointed, ``auto`` adds it when the first run's peak is
    above ``memory_goal_gib`` (``policy.wants_checkpointing``). Train records carry the
    FLOPs a sample (counted from the networks) and the MFU where the chip's peak is known.
    """
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    torch_device = resolve_device(device)
    info = describe_device(torch_device)
    on_gpu = torch_device.type == "cuda"
    batch = (24 if on_gpu else 2) if batch is None else batch
    steps = (20 if on_gpu else 3) if steps is None else steps
    if batch < 1 or steps < 1 or patch < 16:
        raise UserError(
            f"--batch and --steps must be at least 1 and --patch at least 16 "
            f"(got --batch {batch}, --steps {steps}, --patch {patch})"
        )
    sizes = (
        []
        if skip_restore
        else [_parse_size(s.strip()) for s in restore_sizes.split(",") if s.strip()]
    )
    base_cfg = Config(
        model=PRESETS[preset],
        train=TrainConfig(
            batch=batch, patch=patch, precision=Precision(precision), device=device, compile=False
        ),
    )
    common = {"preset": preset, "device": info.name}
    if suggest:
        from .policy import suggest_batch

        advice = suggest_batch(base_cfg, torch_device)
        _emit(
            {
                "what": "suggest-batch",
                **common,
                "patch": patch,
                "batch": advice.batch,
                "measured": advice.measured,
                "message": advice.message,
            }
        )
    paths = (
        restore_variants(restore_variants_arg, torch_device, precision, compile) if sizes else []
    )
    if checkpoint not in ("off", "on", "auto"):
        raise UserError(f"--checkpoint: {checkpoint!r}; use off, on or auto")
    variants = [] if skip_train else [(base_cfg, False)]
    if compile and not skip_train:
        variants.append((replace(base_cfg, train=replace(base_cfg.train, compile=True)), False))
    if checkpoint == "on" and variants:  # checkpointing the last (the compiled) step
        variants.append((variants[-1][0], True))
    warmup = 3 if on_gpu else 1
    flops_per_image: int | None = None
    peaks: list[float] = []
    while variants:
        cfg, checkpointed = variants.pop(0)
        line = {
            "what": "train",
            **common,
            "batch": batch,
            "patch": patch,
            "compile": cfg.train.compile,
        }
        try:
            # compiling happens in the first steps: give it more warm-up
            result = time_train_step(
                cfg,
                torch_device,
                steps=steps,
                warmup=warmup + (2 if cfg.train.compile else 0),
                compile_mode=compile_mode,
                compile_backend=compile_backend,
                checkpoint=checkpointed,
            )
        except torch.OutOfMemoryError as exc:
            _emit(_oom_record("train", line, exc))
            continue
        error = result.pop("compile_error")
        if error is not None:  # the step fell back to eager: that figure is above already
            _emit(
                {
                    "what": "compile-fallback",
                    **common,
                    "batch": batch,
                    "patch": patch,
                    "error": error,
                    "message": "torch.compile failed; the eager step above is the figure to use",
                }
            )
            continue
        if flops_per_image is None:
            from .flops import train_step_flops

            flops_per_image = train_step_flops(cfg, 1)
        _emit(with_mfu({**line, **result}, flops_per_image, info.name))
        if result["peak_mem_gib"] is not None and not checkpointed:
            peaks.append(result["peak_mem_gib"])
        if checkpoint == "auto" and not checkpointed and not variants and peaks:  # the last
            from .policy import wants_checkpointing

            goal = None if memory_goal_gib is None else memory_goal_gib * 2**30
            if wants_checkpointing(peaks[-1] * 2**30, goal):
                variants.insert(0, (cfg, True))
    if profile:
        line = {"what": "profile", **common, "batch": batch, "patch": patch}
        try:
            _emit(
                {
                    **line,
                    **profile_train_step(
                        base_cfg, torch_device, steps=min(steps, 5), warmup=warmup
                    ),
                }
            )
        except torch.OutOfMemoryError as exc:
            _emit(_oom_record("profile", line, exc))
    restorer = PRESETS[preset].restorer
    for (width, height), variant in ((size, v) for size in sizes for v in paths):
        line = {
            "what": "restore",
            **common,
            "restorer": restorer,
            "size": width if width == height else f"{width}x{height}",
            "width": width,
            "height": height,
        }
        try:
            from .flops import mfu, peak_flops, restore_flops
            from .nets import build_restorer
            from .policy import tile_for

            tile = tile_for(
                build_restorer(restorer).to(torch_device), (height, width), torch_device, precision
            )
            result = time_restore(
                restorer,
                torch_device,
                width,
                height,
                precision,
                repeats=5 if on_gpu else 1,
                tile=tile,
                variant=variant,
                compile_backend=compile_backend,
            )
        except torch.OutOfMemoryError as exc:
            _emit(_oom_record("restore", {**line, "variant": variant}, exc))
            continue
        flops = restore_flops(restorer, height, width)
        value = mfu(flops / result["seconds"], peak_flops(info.name))
        _emit(
            {
                **line,
                **result,
                "gflop": round(flops / 1e9, 1),
                "mfu": None if value is None else round(value, 4),
            }
        )
    return 0


__all__ = [
    "PRESETS",
    "make_step",
    "profile_train_step",
    "restore_variants",
    "run_bench",
    "step_times",
    "time_restore",
    "time_train_step",
    "timed_rows",
    "with_mfu",
]
