"""Reading a run's ``events.jsonl`` when it may end in a torn line (a crash mid-write).

Readers skip lines that are not whole JSON objects with a ``type``; events of types
this version does not know are skipped too (newer versions may add some).
"""

from __future__ import annotations

import json
from pathlib import Path

from .events import Event, event_from_dict

__all__ = ["parsed_lines", "read_events", "step_of"]


def parsed_lines(path: Path) -> list[tuple[str, dict]]:
    """(line, parsed object) for every line of ``path`` that is whole JSON (torn ones skipped)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            out.append((line, data))
    return out


def step_of(data: dict) -> int:
    step = data.get("step", 0)
    return step if isinstance(step, int) and not isinstance(step, bool) else 0


def read_events(run_dir: Path) -> list[Event]:
    """The events of a run folder, oldest first; torn lines and unknown types skipped."""
    events = []
    for _, data in parsed_lines(Path(run_dir) / "events.jsonl"):
        try:
            events.append(event_from_dict(data))
        except (ValueError, TypeError):
            continue
    return events
