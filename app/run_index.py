"""What the runs panel knows about each run folder: state, steps, best PSNR, date.

``summarize(path)`` uses the core's ``run_state`` when it exists and otherwise reads
``events.jsonl`` itself (the same rules: the last start decides; a start without an
end is an interrupted run; without the core's lock a live run in another process
also reads as interrupted, and the app marks its own live run itself). ``find_runs`` lists the run folders under some roots.
Plain functions: call them off the GUI thread. A run folder that cannot be read
(damaged lines in its log, an unreadable file) keeps its own row, marked ``damaged``,
and never costs the other rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

STATES = ("running", "finished", "stopped", "failed", "interrupted", "damaged")


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
    damaged: bool = False  # its events.jsonl had lines that were skipped

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def can_resume(self) -> bool:
        return self.checkpoint and (self.state in {"stopped", "failed", "interrupted"} or (
            self.state == "finished" and self.step < self.total_steps))


def _core_state(path: Path):  # noqa: ANN202 - the core's RunState, or None without one
    try:
        from noiseda_core.run_folder import run_state  # type: ignore[attr-defined]
    except ImportError:
        return None
    return run_state(path)


def summarize(path: Path) -> RunSummary:
    path = Path(path)
    checkpoint = (path / "checkpoints" / "last.pt").is_file()
    model = (path / "model.safetensors").is_file()
    state = _core_state(path)
    if state is not None:
        status = getattr(state, "status", "interrupted")
        date = getattr(state, "started", None) or _mtime(path / "config.toml")
        return RunSummary(path, str(getattr(status, "value", status)), int(state.step),
                          int(state.total_steps), state.best_psnr, date, checkpoint, model,
                          str(getattr(state, "message", "") or ""),
                          bool(getattr(state, "damaged", 0)))
    return _from_events(path, checkpoint, model)


def _from_events(path: Path, checkpoint: bool, model: bool) -> RunSummary:
    state, step, total, best, message = "interrupted", 0, 0, None, ""
    log = path / "events.jsonl"
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            data = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill
        if not isinstance(data, dict):
            continue
        kind, at = data.get("type"), _count(data.get("step"))
        step = at if kind == "started" else max(step, at)
        if kind == "started":
            state, message, total = "interrupted", "", _count(data.get("total_steps"))
        elif kind == "finished":
            state = "stopped" if data.get("stopped") else "finished"
        elif kind == "failed":
            state, message = "failed", str(data.get("message", ""))
        elif kind == "validation" and isinstance(data.get("psnr"), (int, float)):
            best = data["psnr"] if best is None else max(best, data["psnr"])
    return RunSummary(path, state, step, total, best, _mtime(path / "config.toml"), checkpoint, model, message)


def _count(value: object) -> int:
    """A step or step count from a log line; anything but a plain whole number is 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def damaged_summary(path: Path, exc: Exception) -> RunSummary:
    """The row of a run folder whose files could not be summarised."""
    return RunSummary(path, "damaged", 0, 0, None, _mtime(path / "config.toml"), False, False,
                      f"could not read this run ({exc.__class__.__name__}: {exc}); "
                      f"check {path / 'events.jsonl'}", True)


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
            if key in seen or not (child / "config.toml").is_file():
                continue
            seen.add(key)
            try:
                out.append(summarize(child))
            except Exception as exc:  # noqa: BLE001 - one run's damage stays in its own row
                out.append(damaged_summary(child, exc))
    out.sort(key=lambda r: r.date or datetime.min, reverse=True)
    return out
