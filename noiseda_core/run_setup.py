"""Setting a run up: device, run folder, data, networks, the step, and resuming.

    run = setup_run(cfg, run_dir, state, ctx)   # state: a loaded resume state or None
    run.emit(event)                             # rank 0 also appends it to events.jsonl

The config is resolved here once, by ``policy.plan``, and saved once (the run folder is
created with it); ``run.cfg`` is ``run.plan.config`` and is only read afterwards.
Everything the loop in ``train.py`` needs is on ``Run``; nothing here trains.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import policy
from .checkpoint import checkpoint_path
from .config import Config, KeepRule, Mode, save_config
from .data import TrainData
from .degrade import Degradation
from .denoiser_start import starting_denoiser_name
from .device import precision_name, resolve_device
from .device_report import machine_of
from .distributed import DistContext, any_rank, device_for_rank, for_rank
from .errors import UserError
from .events import Event, Started
from .keep_best import KeepBest
from .monitor import RunMonitor, saved_start_scores
from .noise_fit import resolve_degradation
from .parts import Parts, build_parts
from .policy import Plan
from .run_folder import RunFolder
from .run_saving import hand_edited, restore_rng
from .starting_model import restorer_for, restorer_for_checkpoint
from .step import TrainStep
from .strength_trial import Strength

AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Run:
    """A run being trained on this rank."""

    plan: Plan  # decided before the loop; ``plan.config`` is the run's config, only read
    run_dir: Path
    ctx: DistContext
    device: torch.device
    folder: RunFolder | None  # rank 0 only
    monitor: RunMonitor | None  # rank 0 only
    data: TrainData
    parts: Parts
    step: TrainStep
    generator: torch.Generator  # the diffusion loss's noise and timesteps
    start: int  # the first step this process runs
    resumed: bool
    keeper: KeepBest | None = None  # rank 0: the best weights so far (None: export the last)
    # the λ w the loop trains with: the config's, or the one a λ trial chose (a checkpoint
    # keeps it; ``strength_trial.py``)
    strength: Strength = field(default_factory=lambda: Strength(0.0))

    @property
    def cfg(self) -> Config:
        return self.plan.config

    def load_eval_weights(self) -> None:
        """The evaluation copy gets the EMA (default) or the raw weights
        (``train.eval_weights``): what validation, previews and the λ trial score."""
        if self.cfg.train.eval_weights == "raw":
            self.parts.eval_restorer.load_state_dict(self.parts.objective.restorer.state_dict())
        else:
            self.parts.ema.copy_to(self.parts.eval_restorer)

    def emit(self, event: Event) -> Event:
        if self.folder is not None:
            self.folder.append_event(event)
        return event

    def started(self) -> Started:
        t, parts = self.cfg.train, self.parts
        noise_da = parts.objective.noise_da
        return Started(
            step=self.start,
            total_steps=t.steps,
            run_dir=str(self.run_dir),
            device=str(self.device),
            precision=precision_name(self.step.amp),
            mode=t.mode.value,
            world_size=self.ctx.world_size,
            global_batch=t.batch * self.ctx.world_size,
            lr=t.lr,
            restorer_params=sum(p.numel() for p in parts.objective.restorer.parameters()),
            denoiser_params=sum(p.numel() for p in noise_da.parameters()) if noise_da else 0,
            resumed=self.resumed,
            init_restorer=self.cfg.model.init_restorer,
            init_denoiser=(
                starting_denoiser_name(self.cfg.model.init_denoiser, self.cfg.model.diffusion)
                if noise_da is not None
                else ""
            ),
            skipped_files=list(self.data.skipped),
            notes=list(self.data.notes),
        )


def setup_run(cfg: Config, run_dir: Path, state: dict[str, Any] | None, ctx: DistContext) -> Run:
    """Build (or rebuild from ``state``) everything a run trains, on this rank's device."""
    device = device_for_rank(ctx, resolve_device(cfg.train.device))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch size: let cuDNN pick its kernels
    starting = None
    if state is not None:  # the checkpoint holds every weight: no need of the starting file
        if cfg.model.init_restorer:
            starting = restorer_for_checkpoint(cfg, state, checkpoint_path(run_dir))
    elif cfg.model.init_restorer:  # the starting file decides the architecture
        starting = restorer_for(cfg)
    if state is None:
        cfg = resolve_degradation(cfg)  # "fit": measured in the real photos, once
    plan = policy.plan(
        cfg,
        machine_of(device),
        device=device,
        resuming=state is not None,
        starting=starting,
        quiet=not ctx.is_main,
    )
    for note in plan.notes if ctx.is_main else ():
        print(note, file=sys.stderr)
    cfg, t = plan.config, plan.config.train  # from here on the config is only read
    source = keep_source(cfg)
    held: list[Path] = []
    proxy_photos: list[Path] = []
    proxy_noise: Degradation | None = None
    if source == "proxy" and Path(cfg.data.synthetic).is_dir():  # else TrainData says why
        from .proxy import proxy_setup

        try:
            held, proxy_photos, proxy_noise = proxy_setup(cfg.data, t.seed)
        except UserError as exc:  # no proxy: the run still trains and exports its last weights
            if ctx.is_main:
                print(
                    f"note: no proxy pairs to keep the best weights by ({exc}); the last "
                    "weights will be exported",
                    file=sys.stderr,
                )
            source = ""
    torch.manual_seed(t.seed * 7919 + ctx.rank)
    data = TrainData(
        cfg.data,
        t.patch,
        t.seed,
        rank=ctx.rank,
        world_size=ctx.world_size,
        need_reference=t.mode == Mode.NOISE_DA_UNPAIRED,
        need_real=t.mode != Mode.BASELINE,
        real_per_pair=t.real_per_pair,
        exclude=frozenset(held),
    )
    parts = build_parts(cfg, device, starting)
    folder = None  # only now: a config, data or model error leaves no folder behind
    if ctx.is_main:
        folder = RunFolder.existing(run_dir) if state else RunFolder.create(run_dir, cfg)
        if state is not None:  # a resume may have changed train.steps: the file says so
            save_config(cfg, folder.config_path)  # (a fresh run's folder was created with it)
    generator = torch.Generator(device=device).manual_seed(t.seed * 1_000_003 + ctx.rank)
    start = 0
    if state is not None:
        try:
            parts.objective.load_state_dict(state["objective"])
            parts.optimizer.load_state_dict(state["optimizer"])
            parts.ema.load_state_dict(state["ema"])
            data.load_state_dict(for_rank(state["data"], ctx))
            restore_rng(for_rank(state["rng"], ctx), generator, device)
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as exc:
            if folder is not None:
                folder.close()
            raise hand_edited(run_dir, exc) from None
        start = int(state["step"])
        if folder is not None:
            folder.truncate_events(after_step=start)  # events of steps that will run again
    monitor = RunMonitor(cfg, device) if ctx.is_main else None
    if monitor is not None and folder is not None and state is not None:
        monitor.start_scores = saved_start_scores(folder.events_path)  # a resume keeps them
    keeper = None
    if monitor is not None and source:
        keeper = KeepBest(source)
        if source == "proxy" and proxy_noise is not None:
            from .proxy import proxy_pairs

            monitor.proxy = proxy_pairs(proxy_photos, proxy_noise, t.seed)
        if state is not None and isinstance(state.get("keep_best"), dict):
            keeper.load_state_dict(state["keep_best"])
            if source == "proxy" and keeper.start_psnr is not None:
                monitor.proxy_start = (keeper.start_psnr, 0.0)

    model: nn.Module = parts.objective
    if ctx.enabled:
        phased = t.warmup_restorer_steps + t.denoiser_pretrain_steps > 0
        model = nn.parallel.DistributedDataParallel(
            model,
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=phased,
        )
    step = TrainStep(
        parts,
        device,
        AUTOCAST_DTYPES[plan.precision],
        model=model,
        compile=t.compile,
        compile_mode=plan.compile_mode,
        any_rank=lambda flag: any_rank(flag, ctx=ctx, device=device)[0],
    )
    if state is not None and state.get("scaler"):
        step.scaler.load_state_dict(state["scaler"])
    strength = Strength(t.lambda_weight)
    if state is not None:
        try:
            strength = Strength.from_dict(state.get("strength"), strength)
        except ValueError as exc:
            raise hand_edited(run_dir, exc) from None
    return Run(
        plan,
        Path(run_dir),
        ctx,
        device,
        folder,
        monitor,
        data,
        parts,
        step,
        generator,
        start,
        state is not None,
        keeper,
        strength,
    )


def keep_source(cfg: Config) -> str:
    """What a run's keep-best rule scores on: "val", "proxy", or "" (keep the last weights)."""
    rule = cfg.train.keep_best
    if rule == KeepRule.OFF:
        return ""
    if rule == KeepRule.VAL or (rule == KeepRule.AUTO and cfg.data.val):
        return "val" if cfg.data.val else ""
    return "proxy" if cfg.data.real and cfg.data.synthetic else ""
