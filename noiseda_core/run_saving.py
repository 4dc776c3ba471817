"""Saving a run's resume state (every rank's sampler and RNG) and exporting its model.

    event = save_checkpoint(run, step, schedule)   # Checkpoint on rank 0, None on the others
    path = export_model(run, step)          # RUN_DIR/model.safetensors (EMA weights)

``restore_rng`` puts back what ``rng_state`` took, so a resumed run draws the same
noise, crops and diffusion timesteps as an uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .budget import Schedule
from .checkpoint import checkpoint_path, save_resume_state
from .config import config_to_dict, config_to_toml
from .distributed import gather
from .errors import UserError
from .events import Checkpoint
from .export import export_restorer
from .starting_model import architecture_record

if TYPE_CHECKING:
    from .run_setup import Run


def hand_edited(run_dir: Path, exc: BaseException) -> UserError:
    """The message for a resume state that does not fit the run's networks or data."""
    lines = str(exc).strip().splitlines()
    detail = lines[0][:200] if lines else exc.__class__.__name__
    return UserError(
        f"checkpoint {checkpoint_path(run_dir)} does not fit this run "
        f"({exc.__class__.__name__}: {detail}); it was edited or comes from another "
        "run: put the original back or start the run again"
    )


def rng_state(generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state(), "noise": generator.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(
    state: dict[str, torch.Tensor], generator: torch.Generator, device: torch.device
) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["noise"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save_checkpoint(run: Run, step: int, schedule: Schedule) -> Checkpoint | None:
    """Write the run's ``RunFolder.checkpoint_path`` (a collective: every rank must call it).

    ``schedule``: the run's length and intervals now (a time budget may have resized
    them; a resume continues with them, ``resume_config.resumed_config``)."""
    data_states = gather(run.data.state_dict(), run.ctx)
    rng_states = gather(rng_state(run.generator, run.device), run.ctx)
    if not run.ctx.is_main:
        return None
    parts, scaler = run.parts, run.step.scaler
    path = save_resume_state(
        run.run_dir,
        {
            "step": step,
            "config": config_to_dict(run.cfg),
            "schedule": schedule.to_dict(),
            "objective": parts.objective.state_dict(),
            "optimizer": parts.optimizer.state_dict(),
            "ema": parts.ema.state_dict(),
            "restorer": parts.objective.restorer.state_dict(),
            "restorer_arch": architecture_record(
                parts.objective.restorer
            ),  # no starting file needed
            "data": data_states,
            "rng": rng_states,
            "scaler": scaler.state_dict() if scaler.is_enabled() else {},
            "keep_best": run.keeper.state_dict() if run.keeper is not None else {},
            "strength": run.strength.to_dict(),  # λ w (a λ trial's choice survives a resume)
        },
    )
    return Checkpoint(step=step, path=str(path))


def export_model(run: Run, step: int) -> str:
    """The kept restorer (``keep_best.py``; else the EMA) as ``RUN_DIR/model.safetensors``
    with the run's metadata (rank 0)."""
    assert run.folder is not None
    run.parts.ema.copy_to(run.parts.eval_restorer)
    kept = "final"
    if run.keeper is not None and run.keeper.load_into(run.parts.eval_restorer):
        kept, step = run.keeper.kept.kind, run.keeper.kept.step or 0
    export_restorer(
        run.parts.eval_restorer,
        run.folder.model_path,
        extra_metadata={
            "task": run.cfg.train.task.value,
            "weights": "ema",
            "step": str(step),
            "kept": kept,
            "init_restorer": run.cfg.model.init_restorer,
            "training_config": config_to_toml(run.cfg),
        },
    )
    return str(run.folder.model_path)
