"""What a run folder says about its run: state, steps, validation PSNR, dates.

``events.jsonl`` is the source of truth; the folder's lock tells a live run from a
dead one. The app's runs panel and scripts call ``read_run_status(path)`` and
``find_runs(root)``; neither ever writes into a run folder.

    running      a process holds the folder's lock (training now, or paused)
    finished     the last start ended with a ``finished`` event
    stopped      ... ended with ``finished`` and ``stopped`` (Stop, Ctrl-C, SIGTERM, app gone)
    failed       ... ended with a ``failed`` event (``message`` says why)
    interrupted  a start with no end (killed, power cut) or no start at all: resume it

Damaged lines in ``events.jsonl`` (a hand edit, a bad disk) are skipped; ``damaged``
counts them and ``message`` says so, so that run's row shows it and no other run's.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .events import (
    Checkpoint,
    Failed,
    Finished,
    Progress,
    Resized,
    Started,
    StrengthChosen,
    Validation,
)
from .run_folder import RunFolder
from .run_lock import is_locked


class RunStatus(str, enum.Enum):
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class RunReport:
    """A summary of one run folder, cheap to compute (reads only ``events.jsonl``)."""

    path: Path
    status: RunStatus
    step: int  # the last step any event reported
    total_steps: int  # 0 when no start was logged
    checkpoint_step: int | None  # where a resume continues; None: no checkpoint yet
    best_psnr: float | None  # best validation PSNR (dB) so far
    best_psnr_step: int | None
    started: datetime | None  # when the run first started (its first start event)
    updated: datetime | None  # the last event written
    message: str = ""  # why it failed, for a person
    model: Path | None = None  # the exported restorer, when one exists
    damaged: int = 0  # lines of events.jsonl that were skipped as damaged
    kept: str | None = None  # which weights the last export kept: final, best or start
    kept_step: int | None = None
    kept_psnr: float | None = None  # the validation PSNR of the exported weights
    start_psnr: float | None = None  # the starting model's (warm starts only)
    latest_psnr: float | None = None  # the last validation's
    kept_source: str = ""  # "val" or "proxy": what kept_psnr was measured on
    chosen_lambda: float | None = None  # the λ w a λ trial chose (None: no trial)
    kept_refused: int = 0  # better proxy scores the detail check refused

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def can_resume(self) -> bool:
        """A stopped, failed or interrupted run that may be continued (or started again)."""
        return self.status in (RunStatus.STOPPED, RunStatus.FAILED, RunStatus.INTERRUPTED) or (
            self.status == RunStatus.FINISHED and self.step < self.total_steps
        )


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime)
    except OSError:
        return None


def read_run_status(path: Path) -> RunReport:
    """Summarise the run folder ``path`` (see the module docstring for the states)."""
    path = Path(path)
    status, message = RunStatus.INTERRUPTED, ""
    step = total = 0
    checkpoint_step: int | None = None
    best: float | None = None
    best_step: int | None = None
    began: float | None = None
    last_end: Finished | None = None
    start_psnr = latest = None
    chosen: float | None = None
    folder = RunFolder(path)
    log = folder.read_event_log()
    for event in log.events:
        step = max(step, event.step) if not isinstance(event, Started) else event.step
        if isinstance(event, Started):
            status, message, total = RunStatus.INTERRUPTED, "", event.total_steps
            began = began if began is not None else event.wall_time
        elif isinstance(event, Finished):
            status = RunStatus.STOPPED if event.stopped else RunStatus.FINISHED
            last_end = event
            total = max(total, event.planned_steps or 0)
        elif isinstance(event, Failed):
            status, message = RunStatus.FAILED, event.message
        elif isinstance(event, Checkpoint):
            checkpoint_step = event.step
        elif isinstance(event, StrengthChosen):
            chosen = event.lambda_weight
        elif isinstance(event, (Progress, Resized)) and event.total_steps:
            total = event.total_steps
        elif isinstance(event, Validation) and event.source != "proxy":  # the user's pairs only
            latest, start_psnr = (
                event.psnr,
                event.psnr_start if event.psnr_start is not None else start_psnr,
            )
            if best is None or event.psnr > best:
                best, best_step = event.psnr, event.step
    if checkpoint_step is not None and not folder.checkpoint_path.is_file():
        checkpoint_step = None
    if is_locked(path):
        status = RunStatus.RUNNING
    if log.damaged:
        note = (
            f"{log.damaged} damaged line(s) in {folder.events_path} were skipped; "
            "the state shown may be incomplete"
        )
        message = f"{message}; {note}" if message else note
    model = folder.model_path
    kept = last_end if last_end is not None and model.is_file() else None
    return RunReport(
        path=path,
        status=status,
        step=step,
        total_steps=total,
        checkpoint_step=checkpoint_step,
        best_psnr=best,
        best_psnr_step=best_step,
        started=datetime.fromtimestamp(began) if began else _mtime(folder.config_path),
        updated=_mtime(folder.events_path) or _mtime(folder.config_path),
        message=message,
        model=model if model.is_file() else None,
        damaged=log.damaged,
        kept=kept.kept if kept is not None and kept.kept_psnr is not None else None,
        kept_step=kept.kept_step if kept is not None else None,
        kept_psnr=kept.kept_psnr if kept is not None else None,
        kept_source=kept.kept_source if kept is not None else "",
        kept_refused=kept.kept_refused if kept is not None else 0,
        start_psnr=kept.start_psnr
        if kept is not None and kept.start_psnr is not None
        else start_psnr,
        latest_psnr=latest,
        chosen_lambda=chosen,
    )


def find_runs(root: Path) -> list[RunReport]:
    """Every run folder directly under ``root`` (those with a config.toml), newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    states = [read_run_status(p) for p in root.iterdir() if RunFolder(p).config_path.is_file()]
    return sorted(states, key=lambda s: s.updated or datetime.min, reverse=True)
