"""The run folder: config, event log, checkpoints, previews, exported model.

    RUN_DIR/config.toml         the resolved config (re-runnable as is)
    RUN_DIR/events.jsonl        one JSON event per line
    RUN_DIR/checkpoints/last.pt resume state (atomic)
    RUN_DIR/previews/           preview strips named by step
    RUN_DIR/model.safetensors   the exported EMA restorer
    RUN_DIR/.lock               held by the training process while it runs
    RUN_DIR/.lock.pid           the same, on file systems without flock (run_lock.py)

``events.jsonl`` is the source of truth for a run's state (``run_status.py``). A
crash can tear its last line; readers skip torn lines and a resume drops them.
Code names these paths only through ``RunFolder``'s properties (``RunFolder(root)``
touches no disk), never by spelling the names again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Protocol

from .atomic import atomic_write_bytes, disk_error, remove_stale_temporaries
from .config import Config, save_config
from .errors import UserError
from .event_log import EventLog, parsed_lines, read_event_log, step_of
from .events import Event, Finished, Started
from .run_lock import LOCK_NAME, PID_LOCK_NAME, RunLock, is_locked


class EventSink(Protocol):
    """An extra consumer of a run's events (TensorBoard): see ``RunFolder.add_sink``."""

    def write(self, event: Event) -> None: ...

    def close(self) -> None: ...


class RunFolder:
    """Every path inside a run folder, and the writer of its layout and events.

    ``RunFolder(root)`` only names paths (no disk access): readers such as the app use
    its properties. ``create``/``existing`` take the lock; only rank 0 owns one of those.
    """

    CONFIG = "config.toml"
    EVENTS = "events.jsonl"
    CHECKPOINTS = "checkpoints"
    CHECKPOINT = Path(CHECKPOINTS, "last.pt")  # the resume state
    PREVIEWS = "previews"
    MODEL = "model.safetensors"
    TENSORBOARD = "tensorboard"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.lock = RunLock(self.root)
        self.sinks: list[EventSink] = []  # extra event consumers (TensorBoard), see add_sink
        self._tail_checked = False

    @property
    def config_path(self) -> Path:
        """The resolved config (re-runnable as is)."""
        return self.root / self.CONFIG

    @property
    def events_path(self) -> Path:
        """One JSON event per line: the run's record (``run_status.py`` reads it)."""
        return self.root / self.EVENTS

    @property
    def checkpoint_path(self) -> Path:
        """The resume state (written atomically by ``checkpoint.py``)."""
        return self.root / self.CHECKPOINT

    @property
    def previews(self) -> Path:
        return self.root / self.PREVIEWS

    @property
    def model_path(self) -> Path:
        """The exported restorer."""
        return self.root / self.MODEL

    @property
    def tensorboard_path(self) -> Path:
        return self.root / self.TENSORBOARD

    def read_event_log(self) -> EventLog:
        """The readable events, oldest first, and how many lines were damaged."""
        return read_event_log(self.events_path)

    def read_events(self) -> list[Event]:
        """The events, oldest first; torn, damaged and unknown lines skipped."""
        return self.read_event_log().events

    def timeline(self) -> list[Event]:
        """The events of the steps the run's last start continued from, oldest first: a
        resume that went back to a checkpoint redoes the steps after it, so its ``Started``
        drops the events logged past its step (what a past run's curves show)."""
        kept: list[Event] = []
        for event in self.read_events():
            if isinstance(event, Started):
                kept = [e for e in kept if e.step <= event.step]
            kept.append(event)
        return kept

    @classmethod
    def create(cls, root: Path, cfg: Config) -> RunFolder:
        """A new run: the folder must be new, empty, or a run that never kept a checkpoint.

        A run with a checkpoint is never overwritten (resume it instead); a folder with
        files that are not a run's is never touched. Takes the folder's lock.
        """
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise UserError(
                f"run folder {root} exists and is not a folder; choose another --run-dir"
            )
        if root.is_dir() and any(root.iterdir()):
            refuse_to_restart_over_results(root)
            if not restartable(root):
                raise UserError(
                    f"run folder {root} already holds files; continue it with "
                    f"'noiseda train --resume {root}' or choose another --run-dir"
                )
        folder = cls(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise disk_error(root, exc) or UserError(
                f"cannot create the run folder {root} ({exc.strerror or exc})"
            ) from None
        folder.lock.acquire()
        try:
            if not restartable(root, locked_by_us=True):  # re-check under the lock
                raise UserError(
                    f"run folder {root} changed while starting; choose another --run-dir"
                )
            folder._clear_unfinished_start()
            folder.previews.mkdir(parents=True, exist_ok=True)
            save_config(cfg, folder.config_path)
            folder._add_default_sinks()
        except BaseException:
            folder.close()
            raise
        return folder

    @classmethod
    def existing(cls, root: Path) -> RunFolder:
        """A run to continue: takes its lock and removes temporaries of killed writes."""
        root = Path(root)
        if not root.exists():
            raise UserError(
                f"run folder {root} does not exist; check the path (runs are "
                f"usually under {default_runs_root()})"
            )
        folder = cls(root)
        if not folder.config_path.is_file():
            raise UserError(f"{root} is not a run folder (no {cls.CONFIG} inside)")
        folder.lock.acquire()
        remove_stale_temporaries(root)
        folder.previews.mkdir(parents=True, exist_ok=True)
        folder._add_default_sinks()
        return folder

    def _add_default_sinks(self) -> None:
        from .tensorboard_sink import TensorBoardSink, tensorboard_available

        if tensorboard_available():
            self.add_sink(TensorBoardSink(self.root, self.tensorboard_path))

    def close(self) -> None:
        """Flush the sinks and release the lock (the process exiting does the same)."""
        for sink in self.sinks:
            with contextlib.suppress(Exception):  # a sink never turns a finished run into a failure
                sink.close()
        self.sinks = []
        self.lock.release()

    def add_sink(self, sink: EventSink) -> None:
        """``sink.write(event)`` runs after each appended event; ``sink.close()`` at the end."""
        self.sinks.append(sink)

    def _clear_unfinished_start(self) -> None:
        """Remove what a run that never kept a checkpoint left (only our own files; the
        config stays until it is replaced atomically: other ranks may be reading it)."""
        for name in RUN_FILES - LOCK_FILES - {self.CONFIG}:
            path = self.root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        remove_stale_temporaries(self.root)

    def append_event(self, event: Event) -> None:
        """Append one JSON line; a torn last line from a crash is closed first."""
        line = event.to_json() + "\n"
        try:
            with open(self.events_path, "a+b") as handle:
                if not self._tail_checked:
                    self._tail_checked = True
                    if handle.tell() > 0:
                        handle.seek(-1, 2)
                        if handle.read(1) != b"\n":
                            line = "\n" + line
                handle.write(line.encode("utf-8"))
        except OSError as exc:
            raise disk_error(self.events_path, exc) or exc from None
        for sink in list(self.sinks):
            try:
                sink.write(event)
            except Exception as exc:  # an optional sink must not stop training
                import sys

                print(f"warning: {type(sink).__name__} disabled ({exc})", file=sys.stderr)
                self.sinks.remove(sink)

    def truncate_events(self, after_step: int) -> None:
        """Drop events past ``after_step`` (a killed run logged steps a resume will redo).

        Torn or unreadable lines (a crash mid-write) are dropped too.
        """
        if not self.events_path.is_file():
            return
        kept = [
            line for line, data in parsed_lines(self.events_path) if step_of(data) <= after_step
        ]
        atomic_write_bytes(self.events_path, ("\n".join(kept) + "\n" if kept else "").encode())
        self._tail_checked = True

    def preview_name(self, step: int, what: str) -> str:
        """Relative path of a preview image, e.g. ``previews/step_000500_real_0.png``."""
        return f"{self.PREVIEWS}/step_{step:06d}_{what}.png"


# what a run writes; a folder holding only these and no checkpoint may be started again
LOCK_FILES = {LOCK_NAME, PID_LOCK_NAME}
RUN_FILES = {
    RunFolder.CONFIG,
    RunFolder.EVENTS,
    RunFolder.PREVIEWS,
    RunFolder.CHECKPOINTS,
    RunFolder.MODEL,
    RunFolder.TENSORBOARD,
    *LOCK_FILES,
}


def read_events(root: Path) -> list[Event]:
    """The events of the run folder ``root``, oldest first (``RunFolder.read_events``)."""
    return RunFolder(root).read_events()


def run_results(root: Path) -> list[str]:
    """What starting the run in ``root`` again would delete: its exported model, its
    previews, the record that it finished. Empty for a run that never got that far."""
    folder = RunFolder(root)
    found = []
    if folder.model_path.exists():
        found.append(f"its model, {folder.MODEL}")
    try:
        previews = sum(1 for p in folder.previews.iterdir() if not p.name.startswith("."))
    except OSError:
        previews = 0
    if previews:
        found.append(f"{previews} preview image(s) in {folder.PREVIEWS}/")
    if any(isinstance(event, Finished) for event in folder.read_events()):
        found.append(f"a finished run in {folder.EVENTS}")
    return found


def refuse_to_restart_over_results(root: Path) -> None:
    """``UserError`` when a run folder without a checkpoint holds a run's results.

    Such a folder (a finished run whose ``checkpoints/`` was removed, say) can be
    neither continued nor started again without deleting what it made.
    """
    folder = RunFolder(root)
    if folder.checkpoint_path.exists():
        return
    found = run_results(root)
    if found:
        raise UserError(
            f"run folder {root} holds {'; '.join(found)}, but no checkpoint to continue from "
            f"({folder.checkpoint_path} is missing): it can be neither resumed nor "
            "started again without deleting those, so nothing was changed. Start a new run "
            f"with its settings: noiseda train {folder.config_path} --run-dir NEW_FOLDER "
            f"(or put {folder.CHECKPOINTS}/ back from a backup and resume)"
        )


# what file managers leave in any folder they show; never a user's work
DESKTOP_JUNK = {"Thumbs.db", "desktop.ini"}


def ignorable(name: str) -> bool:
    """Hidden files (``.DS_Store``, ``._x``, killed writes' ``.x.tmp``, the lock) and
    desktop junk: a folder holding only these counts as empty. They are never removed."""
    return name.startswith(".") or name in DESKTOP_JUNK


def restartable(root: Path, *, locked_by_us: bool = False) -> bool:
    """True for a run folder that may be started afresh: it holds only a run's own
    files, no checkpoint, no results (``run_results``) and no process is training in it."""
    root = Path(root)
    if not root.is_dir():
        return True
    names = {p.name for p in root.iterdir() if not ignorable(p.name)}
    if not names - LOCK_FILES:
        return True
    if not names <= RUN_FILES or RunFolder.CONFIG not in names:
        return False
    if checkpoint_path(root).exists() or run_results(root):
        return False
    return locked_by_us or not is_locked(root)


def default_runs_root(home: Path | None = None) -> Path:
    """Where runs go unless told otherwise, for the CLI and the app alike: ``~/NoiseDA/runs``
    (``$NOISEDA_DATA_DIR/runs`` when that is set), so the app's Runs page lists CLI runs."""
    data = os.environ.get("NOISEDA_DATA_DIR")
    if home is None and data:
        return Path(data).expanduser() / "runs"
    return (home or Path.home()) / "NoiseDA" / "runs"


def new_run_dir(root: Path, stem: str) -> Path:
    """A run folder name not yet taken in ``root``: ``<stem>-<date-time>``, then ``-2``,
    ``-3``… (the one naming scheme of the CLI and the app; nothing is created)."""
    base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = root / base, 2
    while path.exists():
        path, n = root / f"{base}-{n}", n + 1
    return path


def default_run_dir(config_path: Path | None) -> Path:
    """``<default_runs_root()>/<config name>-<date-time>`` (``noiseda train`` without
    ``--run-dir``)."""
    return new_run_dir(default_runs_root(), config_path.stem if config_path else "run")


def checkpoint_path(root: Path) -> Path:
    """Where the run folder ``root`` keeps its resume state (written by ``checkpoint.py``)."""
    return RunFolder(root).checkpoint_path
