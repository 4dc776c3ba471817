"""The Noise-DA training loop, written to be read top to bottom.

``train(cfg, run_dir)`` is a generator of events (``events.py``); the CLI prints
them, the GUI's worker streams them, tests iterate them. The same function runs
alone, in the GUI's child process and under ``torchrun`` (DistributedDataParallel).

One step (``noise-da.md``): restore both domains, Charbonnier on the synthetic pair,
the diffusion loss on the restorer's outputs (CS, RS, triplet), L = L_res + λ·L_dif,
one Adam over G and D, an EMA of G. Optional phases before the joint one: a
synthetic-only warm start of G, then a denoiser-only pre-training.
"""

from __future__ import annotations

import contextlib
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .checkpoint import load_resume_state, save_resume_state
from .config import Config, Mode, config_from_dict, config_to_dict, config_to_toml
from .control import RunControl
from .data import TrainData
from .device import autocast_dtype, precision_name, resolve_device
from .diffusion import build_denoiser
from .diffusion.loss import NoiseDALoss, lambda_at
from .diffusion.schedule import NoiseSchedule
from .distributed import DistContext, all_reduce_mean, device_for_rank, init_distributed, shutdown
from .ema import EMA
from .errors import UserError
from .events import Checkpoint, Event, Failed, Finished, Progress, Started
from .export import export_restorer
from .monitor import RunMonitor
from .nets import build_restorer
from .objective import JointObjective, Phase, unwrap
from .run_folder import RunFolder


# ----------------------------------------------------------------------------- schedules


def phase_at(step: int, cfg: Config) -> Phase:
    """Warm-up of G, then pre-training of D, then the joint phase (baseline: warm-up only)."""
    t = cfg.train
    if cfg.train.mode == Mode.BASELINE or step < t.warmup_restorer_steps:
        return Phase.WARMUP_RESTORER
    if step < t.warmup_restorer_steps + t.denoiser_pretrain_steps:
        return Phase.PRETRAIN_DENOISER
    return Phase.JOINT


def lambda_for(step: int, cfg: Config) -> float:
    """λ of the sigmoid ramp, counted from the start of the joint phase."""
    if phase_at(step, cfg) != Phase.JOINT:
        return 0.0
    joint_start = cfg.train.warmup_restorer_steps + cfg.train.denoiser_pretrain_steps
    return lambda_at(step - joint_start, cfg.train.ramp_steps(), cfg.train.lambda_weight)


# ----------------------------------------------------------------------------- building


@dataclass
class Parts:
    """Everything a run trains or tracks."""

    objective: JointObjective
    optimizer: torch.optim.Optimizer
    ema: EMA
    eval_restorer: nn.Module  # holds the EMA weights for validation, previews, export


def build_parts(cfg: Config, device: torch.device) -> Parts:
    """Networks, optimizer and EMA for ``cfg`` on ``device`` (no denoiser in baseline)."""
    t = cfg.train
    restorer = build_restorer(cfg.model.restorer)
    if cfg.model.init_restorer:
        _load_initial_weights(restorer, Path(cfg.model.init_restorer), cfg.model.restorer)
    noise_da = None
    if t.mode != Mode.BASELINE:
        noise_da = NoiseDALoss(
            build_denoiser(cfg.model.diffusion, t.patch),
            mode=t.mode,
            channel_shuffle=t.channel_shuffle,
            residual_swap=t.residual_swap,
            margin=t.margin,
            schedule=NoiseSchedule(),
        )
    objective = JointObjective(restorer, noise_da).to(device)
    if device.type == "cuda":
        objective = objective.to(memory_format=torch.channels_last)
    groups = [{"params": list(restorer.parameters()), "lr": t.lr}]
    if noise_da is not None:
        groups.append({"params": list(noise_da.parameters()), "lr": t.denoiser_lr or t.lr})
    fused = device.type == "cuda"
    optimizer = torch.optim.Adam(groups, lr=t.lr, fused=fused, foreach=None if fused else True)
    eval_restorer = build_restorer(cfg.model.restorer).to(device).eval()
    return Parts(objective, optimizer, EMA(restorer, t.ema_decay), eval_restorer)


def _load_initial_weights(restorer: nn.Module, path: Path, arch: str) -> None:
    """Warm start: copy an exported restorer's weights (same architecture and sizes)."""
    from .export import load_restorer

    source = load_restorer(path)
    if source.arch != arch or source.arch_args != getattr(restorer, "arch_args", None):
        raise UserError(f"model.init_restorer {path} is a {source.arch} {source.arch_args}, but "
                        f"model.restorer is {arch} {getattr(restorer, 'arch_args', {})}; "
                        "choose a matching file or change model.restorer")
    restorer.load_state_dict(source.state_dict())


def _rng_state(generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state(), "noise": generator.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], generator: torch.Generator,
                   device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["noise"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _grad_norm(parameters: list[nn.Parameter]) -> float:
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))


def _to_device(t: torch.Tensor | None, device: torch.device) -> torch.Tensor | None:
    if t is None:
        return None
    t = t.to(device, non_blocking=True)
    return t.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else t


# ----------------------------------------------------------------------------- the loop


def train(cfg: Config | None, run_dir: Path, *, resume: bool = False,
          control: RunControl | None = None) -> Iterator[Event]:
    """Train ``cfg`` into ``run_dir`` (or continue it with ``resume=True``), yielding events.

    On rank 0 every event is also appended to ``run_dir/events.jsonl``.
    """
    control = control or RunControl()
    state = None
    if resume:
        state = load_resume_state(run_dir)
        cfg = config_from_dict(state["config"])
    assert cfg is not None
    ctx = init_distributed(cfg.train.device)
    try:
        yield from _train(cfg, Path(run_dir), state, control, ctx)
    finally:
        shutdown(ctx)


def _train(cfg: Config, run_dir: Path, state: dict | None, control: RunControl,
           ctx: DistContext) -> Iterator[Event]:
    device = device_for_rank(ctx, resolve_device(cfg.train.device))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch size: let cuDNN pick its kernels
    if cfg.train.auto_batch and state is None:
        from .autosize import with_suggested_batch

        cfg, advice = with_suggested_batch(cfg, device)
        print(advice.message, file=sys.stderr)
    t = cfg.train
    amp_dtype = autocast_dtype(t.precision, device)
    folder = None
    if ctx.is_main:
        folder = RunFolder.existing(run_dir) if state else RunFolder.create(run_dir, cfg)

    def emit(event: Event) -> Event:
        if folder is not None:
            folder.append_event(event)
        return event

    torch.manual_seed(t.seed * 7919 + ctx.rank)
    data = TrainData(cfg.data, t.patch, t.seed, rank=ctx.rank, world_size=ctx.world_size,
                     need_reference=t.mode == Mode.NOISE_DA_UNPAIRED,
                     need_real=t.mode != Mode.BASELINE)
    parts = build_parts(cfg, device)
    restorer = parts.objective.restorer
    generator = torch.Generator(device=device).manual_seed(t.seed * 1_000_003 + ctx.rank)
    start = 0
    if state is not None:
        parts.objective.load_state_dict(state["objective"])
        parts.optimizer.load_state_dict(state["optimizer"])
        parts.ema.load_state_dict(state["ema"])
        data.load_state_dict(_for_rank(state["data"], ctx))
        _set_rng_state(_for_rank(state["rng"], ctx), generator, device)
        start = int(state["step"])
        if ctx.is_main:
            assert folder is not None
            folder.truncate_events(after_step=start)  # events of steps that will run again
    monitor = RunMonitor(cfg, device) if ctx.is_main else None

    model: nn.Module = parts.objective
    if ctx.enabled:
        phased = t.warmup_restorer_steps + t.denoiser_pretrain_steps > 0
        model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=phased,
        )
    eager = model
    if t.compile:
        model = torch.compile(model)  # compiled lazily: a failure shows at the first step
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    if state is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    params = [p for g in parts.optimizer.param_groups for p in g["params"]]
    autocast = (
        (lambda: torch.autocast(device.type, dtype=amp_dtype)) if amp_dtype else contextlib.nullcontext
    )

    def checkpoint(step: int) -> Event | None:
        data_states = _gather(data.state_dict(), ctx)
        rng_states = _gather(_rng_state(generator, device), ctx)
        if not ctx.is_main:
            return None
        path = save_resume_state(run_dir, {
            "step": step,
            "config": config_to_dict(cfg),
            "objective": unwrap(model).state_dict(),
            "optimizer": parts.optimizer.state_dict(),
            "ema": parts.ema.state_dict(),
            "restorer": restorer.state_dict(),
            "data": data_states,
            "rng": rng_states,
            "scaler": scaler.state_dict() if scaler.is_enabled() else {},
        })
        return emit(Checkpoint(step=step, path=str(path)))

    def export(step: int) -> str:
        parts.ema.copy_to(parts.eval_restorer)
        assert folder is not None
        export_restorer(parts.eval_restorer, folder.model_path, extra_metadata={
            "task": t.task.value, "weights": "ema", "step": str(step),
            "training_config": config_to_toml(cfg)})
        return str(folder.model_path)

    yield emit(Started(
        step=start, total_steps=t.steps, run_dir=str(run_dir), device=str(device),
        precision=precision_name(amp_dtype), mode=t.mode.value, world_size=ctx.world_size,
        global_batch=t.batch * ctx.world_size, lr=t.lr,
        restorer_params=sum(p.numel() for p in restorer.parameters()),
        denoiser_params=sum(p.numel() for p in parts.objective.noise_da.parameters())
        if parts.objective.noise_da is not None else 0,
        resumed=state is not None, skipped_files=list(data.skipped)))

    batches = data.batches(t.batch, pin_memory=device.type == "cuda")
    began = time.perf_counter()
    window_start, window_steps = time.perf_counter(), 0
    step = start
    finite = torch.ones((), dtype=torch.bool, device=device)  # all losses so far finite (no sync)
    model.train()

    def failed_on_nan(at: int) -> Failed | None:
        if not _any_rank(not bool(finite), ctx=ctx, device=device)[0]:
            return None
        return Failed(step=at, message=(
            f"the loss became NaN or infinite by step {at}; lower train.lr or use "
            "train.precision=fp32. The last good checkpoint is kept."),
            checkpoint=str(run_dir / "checkpoints" / "last.pt"))

    try:
        while step < t.steps:
            stop, paused = _agree(control, ctx, device)
            while paused and not stop:  # every rank waits together
                control.wait_while_paused()
                window_start, window_steps = time.perf_counter(), 0
                stop, paused = _agree(control, ctx, device)
            if stop:
                break
            phase, lam = phase_at(step, cfg), lambda_for(step, cfg)
            batch = next(batches)
            inputs = [_to_device(x, device) for x in (batch.x_s, batch.y_s, batch.x_r, batch.ref)]
            try:
                with autocast():
                    terms = model(*inputs, lam=lam, phase=phase, generator=generator)
            except Exception as exc:  # torch.compile fails in many ways; eager always works
                if model is eager or isinstance(exc, torch.OutOfMemoryError):
                    raise
                print(f"torch.compile failed ({exc.__class__.__name__}: {exc}); "
                      "continuing without it", file=sys.stderr)
                model = eager
                with autocast():
                    terms = model(*inputs, lam=lam, phase=phase, generator=generator)
            finite &= torch.isfinite(terms.total.detach())
            logging_step = ((step + 1) % t.log_every == 0 or step + 1 == t.steps
                            or (step + 1) % t.checkpoint_every == 0)  # never checkpoint a NaN
            if logging_step and (failure := failed_on_nan(step + 1)) is not None:
                yield emit(failure)
                return
            parts.optimizer.zero_grad(set_to_none=True)
            scaler.scale(terms.total).backward()
            grad_norm = 0.0
            if logging_step:
                scaler.unscale_(parts.optimizer)
                grad_norm = _grad_norm(params)
            scaler.step(parts.optimizer)
            scaler.update()
            parts.ema.update(restorer)
            step += 1
            window_steps += 1

            if logging_step:
                now = time.perf_counter()
                rate = window_steps * t.batch * ctx.world_size / max(now - window_start, 1e-9)
                window_start, window_steps = now, 0
                elapsed = now - began
                done = step - start
                values = {k: v for k, v in vars(terms).items() if v is not None}
                means = {k: float(all_reduce_mean(v.detach().float(), ctx)) for k, v in values.items()}
                yield emit(Progress(
                    step=step, total_steps=t.steps, loss_res=means["res"], loss_dif=means.get("dif"),
                    loss_mse=means.get("mse"), loss_triplet=means.get("triplet"),
                    loss_total=means["total"], lam=lam, lr=parts.optimizer.param_groups[0]["lr"],
                    grad_norm=grad_norm, images_per_s=rate, elapsed_s=elapsed,
                    eta_s=elapsed / max(done, 1) * (t.steps - step), phase=phase.value))
            if monitor is not None and folder is not None and (
                step % t.val_every == 0 or step % t.preview_every == 0 or step == t.steps
            ):
                parts.ema.copy_to(parts.eval_restorer)
                if step % t.val_every == 0 or step == t.steps:
                    validation = monitor.validate(parts.eval_restorer, step)
                    if validation is not None:
                        yield emit(validation)
                if step % t.preview_every == 0 or step == t.steps:
                    yield emit(monitor.write_previews(parts.eval_restorer, step, folder))
            if step % t.checkpoint_every == 0 and step < t.steps:
                event = checkpoint(step)
                if event is not None:
                    yield event
            if logging_step:  # monitoring and checkpoints do not count against images/s
                window_start = time.perf_counter()
    except torch.OutOfMemoryError:
        message = (f"the device ran out of memory at step {step + 1} (batch {t.batch}, patch "
                   f"{t.patch}, restorer {cfg.model.restorer}, denoiser {cfg.model.diffusion}); "
                   "lower train.batch or train.patch, set train.auto_batch=true, or pick a smaller "
                   "model.diffusion")
        yield emit(Failed(step=step, message=message, traceback=traceback.format_exc()))
        raise UserError(message) from None

    stopped = step < t.steps
    if (failure := failed_on_nan(step)) is not None:  # a stop must not save NaN weights
        yield emit(failure)
        return
    event = checkpoint(step)
    if event is not None:
        yield event
    model_path = export(step) if ctx.is_main else ""
    yield emit(Finished(step=step, model=model_path, stopped=stopped,
                        elapsed_s=time.perf_counter() - began))


def _any_rank(*flags: bool, ctx: DistContext, device: torch.device) -> tuple[bool, ...]:
    """Each flag OR-ed over all ranks (so every rank takes the same branch)."""
    if not ctx.enabled:
        return flags
    value = torch.tensor([1.0 if f else 0.0 for f in flags], device=device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return tuple(bool(v > 0) for v in value.tolist())


def _agree(control: RunControl, ctx: DistContext, device: torch.device) -> tuple[bool, bool]:
    """(stop, paused) as requested on any rank (only rank 0 reads the GUI's stdin)."""
    stop, paused = _any_rank(control.stop_requested, control.paused, ctx=ctx, device=device)
    return stop, paused


def _gather(own: object, ctx: DistContext) -> list:
    """Every rank's ``own`` (sampler or RNG state), so a distributed resume is exact too."""
    if not ctx.enabled:
        return [own]
    gathered: list = [None] * ctx.world_size
    torch.distributed.all_gather_object(gathered, own)
    return gathered


def _for_rank(saved: list | dict, ctx: DistContext) -> dict:
    """This rank's saved state (a run resumed on fewer or more ranks reuses rank 0's)."""
    if isinstance(saved, dict):
        return saved
    return saved[ctx.rank] if ctx.rank < len(saved) else saved[0]
