"""What the runs panel knows about each run folder: state, steps, best PSNR, date.

``summarize(path)`` is the core's ``run_status.run_state`` (the last start decides; a
start without an end is an interrupted run; a held lock is a running one) in the
panel's terms. ``find_runs`` lists the run folders under some roots.
Plain functions: call them off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from noiseda_core.run_folder import checkpoint_path

STATES = ("running", "finished", "stopped", "failed", "interrupted")


@dataclass(frozen=True)
class RunSummary:
    path: Path
    state: str  # one of STATES
    step: int
    total_steps: int
    best_psnr: float | None
    date: datetime | None  # when the run was set up
    checkpoint: bool  # a resume point exists
    model: bool  # model.safetensors exists
    message: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def can_resume(self) -> bool:
        return self.checkpoint and (self.state in {"stopped", "failed", "interrupted"} or (
            self.state == "finished" and self.step < self.total_steps))


def summarize(path: Path) -> RunSummary:
    """The core's ``run_state`` of ``path`` as the runs panel shows it."""
    from noiseda_core.run_status import run_state  # here: it imports torch (off the GUI thread)

    path = Path(path)
    state = run_state(path)
    return RunSummary(path, state.status.value, state.step, state.total_steps, state.best_psnr,
                      state.started, checkpoint_path(path).is_file(),
                      (path / "model.safetensors").is_file(), state.message)


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
            if key in seen or not (child / "config.toml").is_file():
                continue
            seen.add(key)
            out.append(summarize(child))
    out.sort(key=lambda r: r.date or datetime.min, reverse=True)
    return out
