"""Which config a resumed run trains with, honestly.

The checkpoint holds the config the run was trained with. The run's ``config.toml``
is a file people edit: an edit that a resume would silently ignore leaves the file
disagreeing with the weights. So on resume only ``train.steps`` may change (in
``config.toml`` or with ``--set train.steps=N``); any other difference is refused
with the keys named. A run that never reached its first checkpoint starts again from
step 0 with its ``config.toml``.

A run a time budget resized (``train.minutes``) keeps the length and intervals it was
sized to: the checkpoint's ``schedule`` holds them (``config.toml`` keeps the config as
planned, written once); a ``train.steps`` set on resume still wins.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from .config import Config, apply_overrides, config_from_dict, config_to_dict, load_config
from .errors import UserError
from .run_folder import RunFolder

CHANGEABLE = {"train.steps"}


def _flat(cfg: Config) -> dict[str, Any]:
    return {
        f"{section}.{key}": value
        for section, keys in config_to_dict(cfg).items()
        for key, value in keys.items()
    }


def check_resume_overrides(overrides: list[str]) -> None:
    """``--set`` with ``--resume`` may only change ``train.steps``."""
    for text in overrides:
        key = text.split("=", 1)[0].strip()
        if key not in CHANGEABLE:
            raise UserError(
                f"--set {text!r}: a resumed run can only change train.steps; start a "
                "new run to change other settings"
            )


def resumed_config(
    run_dir: Path, state: dict[str, Any], overrides: list[str] | None = None
) -> Config:
    """The config to continue ``run_dir`` with: the checkpoint's, with the new step count."""
    run_dir = Path(run_dir)
    try:
        saved = config_from_dict(state["config"])
    except UserError as exc:
        raise UserError(
            f"the checkpoint of {run_dir} holds a config this version refuses "
            f"({exc}); start a new run"
        ) from None
    path = RunFolder(run_dir).config_path
    on_disk = saved
    if path.is_file():
        try:
            on_disk = load_config(path)
        except UserError as exc:
            raise UserError(
                f"{path} was edited and cannot be used ({exc}); undo the edit "
                "(only train.steps may change when resuming)"
            ) from None
    before, after = _flat(saved), _flat(on_disk)
    changed = sorted(k for k in before if before[k] != after.get(k) and k not in CHANGEABLE)
    if changed:
        shown = ", ".join(f"{k}: {before[k]!r} → {after.get(k)!r}" for k in changed[:4])
        more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
        raise UserError(
            f"{path} was changed since the run was trained ({shown}{more}); a resumed run keeps "
            "its settings (only train.steps may change): undo the edit, or start a new run "
            f"with it: noiseda train {path} --run-dir NEW_FOLDER"
        )
    steps = on_disk.train.steps
    schedule = state.get("schedule")
    if isinstance(schedule, dict):  # the intervals as resized; the length too unless edited
        edited = steps != saved.train.steps
        saved = _with_schedule(run_dir, saved, schedule)
        steps = steps if edited else saved.train.steps
    cfg = apply_overrides(saved, [f"train.steps={steps}", *(overrides or [])])
    step = int(state["step"])
    if cfg.train.steps < step:
        raise UserError(
            f"train.steps {cfg.train.steps} is below the step {run_dir} already "
            f"reached ({step}); choose at least {step}"
        )
    return cfg


def _with_schedule(run_dir: Path, cfg: Config, schedule: dict[str, Any]) -> Config:
    """``cfg`` with the length and intervals a time budget gave the run (validated)."""
    keys = ("steps", "val_every", "preview_every", "checkpoint_every", "log_every")
    if set(schedule) != set(keys) or not all(type(schedule[k]) is int for k in keys):
        raise UserError(
            f"the checkpoint of {run_dir} holds a damaged schedule ({schedule!r}); "
            "start the run again"
        )
    return replace(cfg, train=replace(cfg.train, **{k: schedule[k] for k in keys}))


def restart_config(run_dir: Path, overrides: list[str] | None = None) -> Config:
    """A run with no checkpoint yet: its ``config.toml``, to train from step 0."""
    path = RunFolder(run_dir).config_path
    if not path.is_file():
        raise UserError(
            f"{run_dir} is not a run folder (no {path.name} and no checkpoint "
            "inside); start a new run with a config file"
        )
    return load_config(path, overrides)
