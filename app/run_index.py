"""What the runs panel knows about each run folder: state, steps, scores, start date.

``summarize(path)`` is the core's ``run_status.read_run_status`` (the last start decides; a
start without an end is an interrupted run; a held lock is a running one) in the
panel's terms. ``find_runs`` lists the run folders under some roots.
Plain functions: call them off the GUI thread.
A run folder that cannot be read (damaged lines in its log, an unreadable file)
keeps its own row, marked ``damaged``, and never costs the other rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from noiseda_core.run_folder import RunFolder

STATES = ("running", "finished", "stopped", "failed", "interrupted", "damaged")


@dataclass(frozen=True)
class RunSummary:
    path: Path
    state: str  # one of STATES
    step: int
    total_steps: int
    best_psnr: float | None
    date: datetime | None  # when the run first started
    checkpoint: bool  # a resume point exists
    model: bool  # model.safetensors exists
    message: str = ""
    damaged: bool = False  # its events.jsonl had lines that were skipped
    kept: str | None = None  # which weights the export kept: final, best or start
    kept_step: int | None = None
    kept_psnr: float | None = None  # validation PSNR of the exported weights
    start_psnr: float | None = None  # the starting model's
    latest_psnr: float | None = None  # the last validation's (a run not exported yet)
    kept_source: str = ""  # "val" or "proxy": what kept_psnr was measured on
    chosen_lambda: float | None = None  # the λ w a λ trial chose
    kept_refused: int = 0  # better proxy scores the detail check refused

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def can_resume(self) -> bool:
        return self.checkpoint and (
            self.state in {"stopped", "failed", "interrupted"}
            or (self.state == "finished" and self.step < self.total_steps)
        )


def summarize(path: Path) -> RunSummary:
    """The core's ``read_run_status`` of ``path`` as the runs panel shows it."""
    from noiseda_core.run_status import (
        read_run_status,  # here: it imports torch (off the GUI thread)
    )

    folder = RunFolder(path)
    state = read_run_status(folder.root)
    return RunSummary(
        folder.root,
        state.status.value,
        state.step,
        state.total_steps,
        state.best_psnr,
        state.started,
        checkpoint=folder.checkpoint_path.is_file(),
        model=state.model is not None,
        message=state.message,
        damaged=bool(state.damaged),
        kept=state.kept,
        kept_step=state.kept_step,
        kept_psnr=state.kept_psnr,
        start_psnr=state.start_psnr,
        latest_psnr=state.latest_psnr,
        kept_source=state.kept_source,
        chosen_lambda=state.chosen_lambda,
        kept_refused=state.kept_refused,
    )


def damaged_summary(path: Path, exc: Exception) -> RunSummary:
    """The row of a run folder whose files could not be summarised."""
    folder = RunFolder(path)
    return RunSummary(
        folder.root,
        "damaged",
        0,
        0,
        None,
        _mtime(folder.config_path),
        checkpoint=False,
        model=False,
        message=f"could not read this run ({exc.__class__.__name__}: {exc}); "
        f"check {folder.events_path}",
        damaged=True,
    )


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return None


def find_runs(roots: list[Path]) -> list[RunSummary]:
    """Every run folder (one holding ``config.toml``) directly under ``roots``, newest first."""
    seen: set[Path] = set()
    out: list[RunSummary] = []
    for root in roots:
        try:
            children = [p for p in Path(root).iterdir() if p.is_dir()]
        except OSError:
            continue
        for child in children:
            key = child.resolve()
            if key in seen or not RunFolder(child).config_path.is_file():
                continue
            seen.add(key)
            try:
                out.append(summarize(child))
            except Exception as exc:  # one run's damage stays in its own row
                out.append(damaged_summary(child, exc))
    out.sort(key=lambda r: r.date or datetime.min, reverse=True)
    return out
