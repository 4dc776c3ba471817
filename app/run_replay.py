"""A run's event log read back (to draw a past run's curves and previews)."""

from __future__ import annotations

from pathlib import Path

from noiseda_core.event_log import read_events
from noiseda_core.events import Event


def read_run_events(run_dir: Path) -> list[Event]:
    """The events in ``run_dir/events.jsonl``, oldest first; torn or unknown lines skipped.

    Only the events of the steps the last start continued from are kept: a resume
    that went back to a checkpoint redoes the steps after it.
    """
    events = read_events(Path(run_dir))
    out: list[Event] = []
    for event in events:
        if type(event).__name__ == "Started":  # a resume: drop what it redoes
            out = [e for e in out if e.step <= event.step]
        out.append(event)
    return out
