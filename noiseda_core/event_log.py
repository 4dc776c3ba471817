"""Reading a run's event file (``RunFolder.events_path``) that may end in a torn line.

Readers skip lines that are not whole JSON objects with a ``type``; events of types
this version does not know are skipped too (newer versions may add some). Lines of a
known type whose values do not fit it (``"step": "abc"``, ``1e400``), and lines that
are not even the start of a JSON object, are skipped and counted as damaged
(``read_event_log``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .events import EVENT_TYPES, Event, event_from_dict

__all__ = ["EventLog", "parsed_lines", "read_event_log", "read_events", "step_of"]


def parsed_lines(path: Path) -> list[tuple[str, dict[str, Any]]]:
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
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(data, dict) and isinstance(data.get("type"), str):
            out.append((line, data))
    return out


def step_of(data: dict[str, Any]) -> int:
    step = data.get("step", 0)
    return step if isinstance(step, int) and not isinstance(step, bool) else 0


@dataclass
class EventLog:
    """The readable events of a run, oldest first, and how many lines were damaged."""

    events: list[Event] = field(default_factory=list)
    damaged: int = 0


def read_event_log(events_path: Path) -> EventLog:
    """Every valid event of a run's event file (``RunFolder.events_path``); torn lines
    (kills) are not damage."""
    log = EventLog()
    try:
        text = Path(events_path).read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return log
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            log.damaged += not line.startswith("{")  # a line cut short by a kill is no damage
            continue
        if (
            isinstance(data, dict)
            and data.get("type") not in EVENT_TYPES
            and isinstance(data.get("type"), str)
        ):
            continue  # written by a newer version
        try:
            log.events.append(event_from_dict(data))
        except (ValueError, TypeError):
            log.damaged += 1
    return log


def read_events(events_path: Path) -> list[Event]:
    """The events of a run's event file, oldest first; torn, damaged and unknown lines skipped."""
    return read_event_log(events_path).events
