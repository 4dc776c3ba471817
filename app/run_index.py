"""What the runs panel knows about each run folder: state, steps, scores, start date.

``summarize(path)`` uses the core's ``run_state`` when it exists and otherwise reads
``events.jsonl`` itself (the same rules: the last start decides; a start without an
end is an interrupted run; without the core's lock a live run in another process
also reads as interrupted, and the app marks its own live run itself). ``find_runs`` lists the run folders under some roots.
Plain functions: call them off the GUI thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

STATES = ("running", "finished", "stopped", "failed", "interrupted")


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
    kept: str | None = None  # which weights the export kept: final, best or start
    kept_step: int | None = None
    kept_psnr: float | None = None  # validation PSNR of the exported weights
    start_psnr: float | None = None  # the starting model's
    latest_psnr: float | None = None  # the last validation's (a run not exported yet)

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
                          **{key: getattr(state, key, None) for key in
                             ("kept", "kept_step", "kept_psnr", "start_psnr", "latest_psnr")})
    return _from_events(path, checkpoint, model)


def _from_events(path: Path, checkpoint: bool, model: bool) -> RunSummary:
    state, step, total, best, message, latest = "interrupted", 0, 0, None, "", None
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
        kind, at = data.get("type"), int(data.get("step", 0) or 0)
        step = at if kind == "started" else max(step, at)
        if kind == "started":
            state, message, total = "interrupted", "", int(data.get("total_steps", 0) or 0)
        elif kind == "finished":
            state = "stopped" if data.get("stopped") else "finished"
        elif kind == "failed":
            state, message = "failed", str(data.get("message", ""))
        elif kind == "validation" and isinstance(data.get("psnr"), (int, float)):
            best = data["psnr"] if best is None else max(best, data["psnr"])
            latest = data["psnr"]
    return RunSummary(path, state, step, total, best, _mtime(path / "config.toml"), checkpoint, model,
                      message, latest_psnr=latest)


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
            out.append(summarize(child))
    out.sort(key=lambda r: r.date or datetime.min, reverse=True)
    return out
