"""The Noise-DA training loop, written to be read top to bottom.

``train(cfg, run_dir)`` is a generator of events (``events.py``); the CLI prints
them, the GUI's worker streams them, tests iterate them. The same function runs
alone, in the GUI's child process and under ``torchrun`` (DistributedDataParallel).

One step (``noise-da.md``): restore both domains, Charbonnier on the synthetic pair,
the diffusion loss on the restorer's outputs (CS, RS, triplet), L = L_res + λ·L_dif,
one Adam over G and D, an EMA of G. Optional phases before the joint one: a
synthetic-only warm start of G, then a denoiser-only pre-training.

Where things live: set-up and resume ``run_setup.py``; the step itself ``step.py``
(the one ``bench`` and the batch policy run too); checkpoints and export
``run_saving.py``; images/s and ETA ``progress.py``; networks ``parts.py``; the
starting model ``starting_model.py``; a run sized to ``train.minutes`` ``budget.py``.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypedDict

import torch

from .budget import BudgetHook, Schedule, TimeBudget, schedule_of
from .checkpoint import checkpoint_path, load_resume_state
from .config import Config, Mode
from .control import RunControl
from .data import Batch
from .diffusion.loss import lambda_at
from .distributed import DistContext, all_reduce_mean, any_rank, init_distributed, shutdown
from .errors import OUT_OF_MEMORY_ADVICE, UserError
from .events import Diagnostics, Event, Failed, Finished, Progress, Started, Validation
from .objective import Phase
from .progress import StepClock
from .resume_config import restart_config, resumed_config
from .run_folder import refuse_to_restart_over_results
from .run_saving import export_model, save_checkpoint
from .run_setup import Run, setup_run
from .step import StepResult, to_device
from .strength_trial import StrengthTrial, skip_reason

# ----------------------------------------------------------------------------- schedules


def phase_at(step: int, cfg: Config) -> Phase:
    """Warm-up of G, then pre-training of D, then the joint phase (baseline: warm-up only)."""
    t = cfg.train
    if cfg.train.mode == Mode.BASELINE or step < t.warmup_restorer_steps:
        return Phase.WARMUP_RESTORER
    if step < t.warmup_restorer_steps + t.denoiser_pretrain_steps:
        return Phase.PRETRAIN_DENOISER
    return Phase.JOINT


def lambda_for(
    step: int, cfg: Config, steps: int | None = None, weight: float | None = None
) -> float:
    """λ of the sigmoid ramp, counted from the start of the joint phase; ``steps``: the
    run's length when a time budget set it (the ramp is a fraction of it); ``weight``:
    λ w when not the config's (a λ trial's candidate or choice)."""
    if phase_at(step, cfg) != Phase.JOINT:
        return 0.0
    t = cfg.train
    joint_start = t.warmup_restorer_steps + t.denoiser_pretrain_steps
    w = t.lambda_weight if weight is None else weight
    return lambda_at(step - joint_start, t.ramp_steps(steps), w)


# ----------------------------------------------------------------------------- the loop


def train(
    cfg: Config | None,
    run_dir: Path,
    *,
    resume: bool = False,
    control: RunControl | None = None,
    overrides: list[str] | None = None,
) -> Iterator[Event]:
    """Train ``cfg`` into ``run_dir`` (or continue it with ``resume=True``), yielding events.

    On rank 0 every event is also appended to ``run_dir/events.jsonl``. A resume may
    change only ``train.steps`` (``overrides`` or an edit of the run's config.toml);
    a run that never reached its first checkpoint starts again from step 0.
    """
    control = control or RunControl()
    state = None
    if resume:
        if checkpoint_path(run_dir).is_file() or not Path(run_dir).is_dir():
            state = load_resume_state(run_dir)
            cfg = resumed_config(run_dir, state, overrides)
        else:
            refuse_to_restart_over_results(run_dir)  # before any work, nothing deleted
            cfg = restart_config(run_dir, overrides)
    elif Path(run_dir).is_dir():
        refuse_to_restart_over_results(run_dir)
    assert cfg is not None
    ctx = init_distributed(cfg.train.device)
    try:
        yield from _train(cfg, Path(run_dir), state, control, ctx)
    finally:
        shutdown(ctx)


class KeptScores(TypedDict):
    """The ``Finished`` fields that say which weights were exported and their score."""

    kept: str
    kept_step: int | None
    kept_psnr: float | None
    start_psnr: float | None
    kept_source: str
    kept_refused: int


def _train(
    cfg: Config, run_dir: Path, state: dict[str, Any] | None, control: RunControl, ctx: DistContext
) -> Iterator[Event]:
    """Set-up (the plan, once), then per step: pause/stop, one step, the hooks (a time
    budget), progress, monitoring, checkpoint. The config is only read here: the run's
    length and intervals are the ``schedule``, which only a hook's ``Resized`` replaces."""
    entered = time.perf_counter()  # a time budget counts from here
    run = setup_run(cfg, run_dir, state, ctx)
    cfg, t = run.cfg, run.cfg.train
    schedule = Schedule.of(t)
    hook = _budget_hook(run, entered)
    yield run.emit(_started(run, hook))
    yield from _starting_point(run, hook)
    trial = StrengthTrial.begin(run)  # λ w chosen by a short trial (``strength_trial.py``)
    on_gpu = run.device.type == "cuda"  # pinned uint8 batches, the noise added on the GPU
    batches = run.data.batches(t.batch, pin_memory=on_gpu, device_side=on_gpu)
    clock = StepClock(run.start, schedule.steps, t.batch * ctx.world_size)
    step = run.start
    last_validation: Validation | None = None
    run.parts.objective.train()
    try:
        while step < schedule.steps:
            if _stop_after_pauses(control, run, clock, hook):
                break
            in_trial = trial is not None and trial.active(step)
            strength = trial.strength_at(step) if trial is not None and in_trial else run.strength
            own = step - strength.offset  # the candidate's own steps: its λ ramp
            phase = phase_at(own, cfg)
            lam = lambda_for(own, cfg, schedule.steps, strength.weight)
            logging_step = is_logging_step(step + 1, schedule)
            batch = run.data.to_device(next(batches), run.device)
            inputs = to_device(astuple_batch(batch), run.device)
            result = run.step(
                inputs,
                lam=lam,
                phase=phase,
                generator=run.generator,
                logging_step=logging_step,
            )
            if result.nonfinite and not in_trial:  # a diverged candidate only loses the trial
                yield run.emit(_nan_failure(step + 1, run_dir))
                return
            step += 1
            clock.tick()
            if trial is not None and in_trial:
                for event in trial.after_step(run, step):
                    yield run.emit(event)
            if hook is not None:
                resized = hook.after_step(step, schedule, time.perf_counter())
                if resized is not None:
                    schedule = schedule_of(resized)
                    clock.total = schedule.steps
                    yield run.emit(resized)
                    if trial is not None and (untried := trial.resized(run, step, schedule.steps)):
                        yield run.emit(untried)
            if logging_step:
                event = _progress(run, step, result, lam, phase, clock, schedule)
                if hook is not None:
                    event = replace(
                        event,
                        eta_s=hook.budget.eta_s(time.perf_counter(), event.eta_s),
                        total_steps=hook.shown_total(schedule.steps),
                    )
                yield run.emit(event)
            if in_trial:  # no validation, preview or checkpoint inside the trial
                if logging_step:
                    clock.restart_window()
                continue
            monitor_began = time.perf_counter()
            if logging_step and (diag := _diagnostics(run, step, result, schedule)) is not None:
                yield run.emit(diag)
            for event in _monitor(run, step, schedule):
                if isinstance(event, Validation):
                    last_validation = event
                yield event
                if trial is not None and isinstance(event, Validation) and event.source == "proxy":
                    for lowered in trial.after_validation(run, step, event):  # a step down
                        yield run.emit(lowered)
            if hook is not None:  # validations, previews, diagnostics: not training time
                validated = step % schedule.val_every == 0
                hook.budget.monitored(time.perf_counter() - monitor_began, validated)
            if (
                step % schedule.checkpoint_every == 0
                and step < schedule.steps
                and (event := save_checkpoint(run, step, schedule)) is not None
            ):
                yield run.emit(event)
            if logging_step:  # monitoring and checkpoints do not count against images/s
                clock.restart_window()
    except torch.OutOfMemoryError:
        message = _oom_message(step, cfg)
        yield run.emit(Failed(step=step, message=message, traceback=traceback.format_exc()))
        raise UserError(message) from None

    stopped_in_trial = trial is not None and trial.active(step)
    if stopped_in_trial:  # nothing chosen yet: the start's state, and no checkpoint
        assert trial is not None
        trial.abandon(run)
    if run.step.went_nonfinite():  # a stop must not save NaN weights
        yield run.emit(_nan_failure(step, run_dir))
        return
    if not stopped_in_trial and (event := save_checkpoint(run, step, schedule)) is not None:
        yield run.emit(event)
    kept_psnr = None
    kept = run.keeper.kept if run.keeper is not None else None
    kept = kept if kept is not None and kept.psnr is not None else None
    if ctx.is_main and kept is None:
        kept_psnr, fresh = _kept_score(run, step, last_validation)
        if fresh is not None:
            yield run.emit(fresh)
    model_path = export_model(run, step) if ctx.is_main else ""
    start = run.monitor.start_scores if run.monitor is not None else None
    ran_out = hook is not None and hook.budget.ran_out
    if kept is not None:  # keep-best: the exported weights and their score
        scores = KeptScores(
            kept=kept.kind,
            kept_step=kept.step,
            kept_psnr=kept.psnr,
            start_psnr=kept.start_psnr,
            kept_source=kept.source,
            kept_refused=kept.refused,
        )
    else:
        scores = KeptScores(
            kept="final",
            kept_step=step,
            kept_psnr=kept_psnr,
            start_psnr=start[0] if start is not None else None,
            kept_source="val" if kept_psnr is not None else "",
            kept_refused=0,
        )
    yield run.emit(
        Finished(
            step=step,
            model=model_path,
            stopped=step < schedule.steps,
            elapsed_s=clock.elapsed(),
            out_of_time=ran_out,
            planned_steps=hook.budget.cut_from if hook is not None and ran_out else None,
            **scores,
        )
    )


# ----------------------------------------------------------------------------- start and budget


def _budget_hook(run: Run, entered: float) -> BudgetHook | None:
    """The time budget's hook for a fresh run with ``train.minutes`` (one process only)."""
    if run.cfg.train.minutes <= 0 or run.resumed:
        return None
    if run.ctx.enabled:  # every rank would time itself differently
        print("train.minutes is not used with several processes; train.steps is", file=sys.stderr)
        return None
    return BudgetHook(TimeBudget(run.cfg.train.minutes, entered), start=run.start)


def _started(run: Run, hook: BudgetHook | None) -> Started:
    """The Started event, with its start time; a run still to be sized to its minutes
    has no length yet (``total_steps`` 0)."""
    event = replace(run.started(), wall_time=time.time())
    if (reason := skip_reason(run)) is not None:
        event = replace(event, notes=[*event.notes, reason])
    if hook is None:
        return event
    return replace(event, total_steps=0, minutes=run.cfg.train.minutes)


def _kept_score(
    run: Run, step: int, last: Validation | None
) -> tuple[float | None, Validation | None]:
    """Validation PSNR of the weights ``export_model`` writes (the EMA at ``step``): the
    last validation's when it scored exactly those, else a fresh validation (returned to
    be logged when validations score the EMA, as they do by default)."""
    if run.monitor is None:
        return None, None
    ema_scored = run.cfg.train.eval_weights != "raw"
    if last is not None and last.step == step and ema_scored:
        return last.psnr, None
    run.parts.ema.copy_to(run.parts.eval_restorer)
    fresh = run.monitor.validate(run.parts.eval_restorer, step)
    if fresh is None:
        return None, None
    return fresh.psnr, fresh if ema_scored else None


def _starting_point(run: Run, hook: BudgetHook | None) -> Iterator[Event]:
    """A fresh warm-started run scores its starting model on the validation pairs once
    (a step-0 Validation; its numbers ride on every later one) and shows it in step-0
    previews; a time budget takes both timings from here."""
    if run.monitor is None or run.folder is None or run.resumed:
        return
    warm = bool(run.cfg.model.init_restorer)
    if not (warm or hook is not None):
        return
    run.parts.ema.copy_to(run.parts.eval_restorer)  # the EMA starts at the starting weights
    val_s = run.monitor.score_start(run.parts.eval_restorer, report=warm)
    if run.monitor.start_scores is not None:
        validation = run.monitor.validate_start()
        if run.keeper is not None and run.keeper.source == "val":
            run.keeper.offer(0, validation.psnr, run.parts.eval_restorer)
        yield run.emit(validation)
    if warm and run.keeper is not None and run.keeper.source == "proxy":
        began = time.perf_counter()
        if (proxy := run.monitor.validate_proxy(run.parts.eval_restorer, 0)) is not None:
            run.keeper.offer(0, proxy.psnr, run.parts.eval_restorer, proxy.real_structure)
            yield run.emit(proxy)
        val_s += time.perf_counter() - began
    began = time.perf_counter()
    yield run.emit(run.monitor.write_previews(run.parts.eval_restorer, 0, run.folder))
    if hook is not None:
        hook.budget.val_s, hook.budget.preview_s = val_s, time.perf_counter() - began


# ----------------------------------------------------------------------------- pieces of a step


def is_logging_step(step: int, schedule: Schedule) -> bool:
    """Steps (counted from 1) that report progress; every checkpoint step is one."""
    s = schedule
    return step % s.log_every == 0 or step == s.steps or step % s.checkpoint_every == 0


def _monitoring_step(step: int, schedule: Schedule) -> bool:
    """Steps (counted from 1) that validate or write previews: the gradient diagnostics
    (two extra backward passes) are computed only then."""
    s = schedule
    return step % s.val_every == 0 or step % s.preview_every == 0 or step == s.steps


def astuple_batch(batch: Batch) -> tuple[torch.Tensor | None, ...]:
    return batch.x_s, batch.y_s, batch.x_r, batch.ref


def _stop_after_pauses(
    control: RunControl, run: Run, clock: StepClock, hook: BudgetHook | None = None
) -> bool:
    """Wait out a pause (all ranks together); True when a stop was asked for on any rank.
    The paused time counts neither as elapsed time nor against a time budget."""
    stop, paused = _agree(control, run)
    if not paused or stop:
        return stop
    began = time.perf_counter()
    while paused and not stop:
        control.wait_while_paused()
        stop, paused = _agree(control, run)
    seconds = time.perf_counter() - began
    clock.paused_for(seconds)
    if hook is not None:
        hook.budget.paused_for(seconds)
    return stop


def _agree(control: RunControl, run: Run) -> tuple[bool, bool]:
    """(stop, paused) as requested on any rank (only rank 0 reads the GUI's stdin)."""
    stop, paused = any_rank(control.stop_requested, control.paused, ctx=run.ctx, device=run.device)
    return stop, paused


def _progress(
    run: Run,
    step: int,
    result: StepResult,
    lam: float,
    phase: Phase,
    clock: StepClock,
    schedule: Schedule,
) -> Progress:
    """The Progress event of a logging step, losses averaged over ranks."""
    values = {k: v for k, v in vars(result.terms).items() if v is not None}
    means = {k: float(all_reduce_mean(v.detach().float(), run.ctx)) for k, v in values.items()}
    rate = clock.rate()
    return Progress(
        step=step,
        total_steps=schedule.steps,
        loss_res=means["res"],
        loss_dif=means.get("dif"),
        loss_mse=means.get("mse"),
        loss_triplet=means.get("triplet"),
        loss_total=means["total"],
        lam=lam,
        lr=run.parts.optimizer.param_groups[0]["lr"],
        grad_norm=result.grad_norm or 0.0,
        images_per_s=rate,
        elapsed_s=clock.elapsed(),
        eta_s=clock.eta(step),
        phase=phase.value,
    )


def _diagnostics(run: Run, step: int, result: StepResult, schedule: Schedule) -> Diagnostics | None:
    """The Diagnostics event of a logging step (rank 0): the step's figures, the noise
    MSE with restored and with residual-swapped conditions and, on validation/preview
    steps, a blind estimate of the noise in the fixed real crops before/after the
    evaluation restorer. None in baseline without real images."""
    noise_da = run.parts.objective.noise_da is not None
    if run.monitor is None or not (noise_da or run.monitor.previews.real):
        return None
    noise_in = noise_out = None
    if _monitoring_step(step, schedule):
        run.load_eval_weights()
        noise_in, noise_out = run.monitor.real_noise(run.parts.eval_restorer)
    if not noise_da and noise_out is None:
        return None
    terms, figures = result.terms, result.diagnostics
    value = lambda t: None if t is None else float(t.detach().float())  # noqa: E731
    return Diagnostics(
        step=step,
        hinge_active=figures.get("hinge_active"),
        mse_pos=value(terms.mse),
        mse_neg=value(terms.mse_neg),
        grad_res=figures.get("grad_res"),
        grad_dif=figures.get("grad_dif"),
        noise_real_input=noise_in,
        noise_real_restored=noise_out,
    )


def _monitor(run: Run, step: int, schedule: Schedule) -> Iterator[Event]:
    """Validation and preview strips of the evaluation restorer when due (rank 0)."""
    s = schedule
    last = step == s.steps
    validate, preview = step % s.val_every == 0 or last, step % s.preview_every == 0 or last
    if run.monitor is None or run.folder is None or not (validate or preview):
        return
    run.load_eval_weights()
    keeper = run.keeper
    if validate and (validation := run.monitor.validate(run.parts.eval_restorer, step)):
        if keeper is not None and keeper.source == "val":
            keeper.offer(step, validation.psnr, run.parts.eval_restorer)
        yield run.emit(validation)
    if (
        validate
        and keeper is not None
        and keeper.source == "proxy"
        and (proxy := run.monitor.validate_proxy(run.parts.eval_restorer, step)) is not None
    ):
        keeper.offer(step, proxy.psnr, run.parts.eval_restorer, proxy.real_structure)
        yield run.emit(proxy)
    if preview:
        yield run.emit(run.monitor.write_previews(run.parts.eval_restorer, step, run.folder))


def _nan_failure(step: int, run_dir: Path) -> Failed:
    kept = checkpoint_path(run_dir).is_file()
    return Failed(
        step=step,
        message=(
            f"the loss became NaN or infinite by step {step}; lower train.lr or use "
            "train.precision=fp32. "
            + (
                "The last good checkpoint is kept."
                if kept
                else "No checkpoint was reached yet: start the run again."
            )
        ),
        checkpoint=str(checkpoint_path(run_dir)) if kept else "",
    )


def _oom_message(step: int, cfg: Config) -> str:
    t = cfg.train
    return (
        f"the device ran out of memory at step {step + 1} (batch {t.batch}, patch "
        f"{t.patch}, restorer {cfg.model.restorer}, denoiser {cfg.model.diffusion}); "
        + OUT_OF_MEMORY_ADVICE
    )
