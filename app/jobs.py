"""The training runner: a child process streaming JSON events, turned into Qt signals.

The child is the CLI itself (``python -m noiseda_core train CONFIG --run-dir DIR --jsonl
--control-stdin``), or ``torch.distributed.run`` around it for several local GPUs. It runs
in a ``QProcess``: non-blocking, cross-platform, and a crash, an OOM or a kill in training
can never take the window down. Stdout carries one event per line; stderr is kept as log
lines (the last ``LOG_LINES``). Control goes the other way as ``pause``/``resume``/``stop``
lines on the child's stdin.
"""

from __future__ import annotations

import enum
import json
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from noiseda_core.errors import with_out_of_memory_advice
from noiseda_core.events import (
    Checkpoint,
    Diagnostics,
    Event,
    Failed,
    Finished,
    Preview,
    Progress,
    Resized,
    Started,
    StrengthChosen,
    Validation,
    event_from_json,
)
from noiseda_core.run_folder import RunFolder

LOG_LINES = 200


class JobState(str, enum.Enum):
    IDLE = "idle"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"  # ended normally or stopped on request
    FAILED = "failed"


@dataclass(frozen=True)
class Failure:
    """What the window shows when the worker dies."""

    message: str
    traceback: str
    log_tail: str
    exit_code: int | None
    checkpoint: str  # last good checkpoint ("" when none)


def worker_command(
    config: Path | None,
    run_dir: Path,
    *,
    resume: bool = False,
    nproc: int = 1,
    worker: list[str] | None = None,
    overrides: list[str] | None = None,
) -> list[str]:
    """The child's argv: ``[python, -m, noiseda_core, train, ...]`` (torchrun when nproc > 1);
    ``overrides`` become ``--set KEY=VALUE`` (a resume may change only ``train.steps``)."""
    if worker is not None:
        head = list(worker)
    elif nproc > 1:
        head = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            str(nproc),
            "-m",
            "noiseda_core",
        ]
    else:
        head = [sys.executable, "-m", "noiseda_core"]
    args = ["train"]
    if resume:
        args += ["--resume", str(run_dir)]
    else:
        if config is None:
            raise ValueError("a new run needs a config file")
        args += [str(config), "--run-dir", str(run_dir)]
    for override in overrides or []:
        args += ["--set", override]
    return head + args + ["--jsonl", "--control-stdin"]


class TrainingJob(QObject):
    """One training child process; emits the events it prints."""

    started = Signal(object)  # Started
    progress = Signal(object)  # Progress
    resized = Signal(object)  # Resized: a time budget set (or cut) the run's length
    validation = Signal(object)  # Validation
    diagnostics = Signal(object)  # Diagnostics
    preview = Signal(object)  # Preview
    checkpoint = Signal(object)  # Checkpoint
    strength = Signal(object)  # StrengthChosen: a λ trial chose the run's strength
    finished = Signal(object)  # Finished
    failed = Signal(object)  # Failure
    log_line = Signal(str)
    state_changed = Signal(str)  # JobState value

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        worker: list[str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.worker = worker
        self.extra_env = dict(extra_env or {})
        self.run_dir: Path | None = None
        self.state = JobState.IDLE
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.last_progress: Progress | None = None
        self.last_checkpoint = ""
        self._failed_event: Failed | None = None
        self._finished_event: Finished | None = None
        self._stdout_buf = b""
        self._stderr_buf = b""
        self._proc: QProcess | None = None
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self.kill)

    # ------------------------------------------------------------------ control
    @property
    def active(self) -> bool:
        return self.state in {
            JobState.STARTING,
            JobState.RUNNING,
            JobState.PAUSED,
            JobState.STOPPING,
        }

    def start(
        self,
        config: Path | None,
        run_dir: Path,
        *,
        resume: bool = False,
        nproc: int = 1,
        overrides: list[str] | None = None,
    ) -> None:
        """Start the child (a new run from ``config`` or ``resume`` of ``run_dir``)."""
        if self.active:
            raise RuntimeError("a training job is already running")
        self.run_dir = Path(run_dir)
        self.log.clear()
        self.last_progress = None
        self._failed_event = None
        self._finished_event = None
        self._stdout_buf = self._stderr_buf = b""
        argv = worker_command(
            config,
            self.run_dir,
            resume=resume,
            nproc=nproc,
            worker=self.worker,
            overrides=overrides,
        )
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        env.insert("PYTHONIOENCODING", "utf-8")
        for key, value in self.extra_env.items():
            env.insert(key, value)
        proc.setProcessEnvironment(env)
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.finished.connect(self._on_exit)
        proc.errorOccurred.connect(self._on_error)
        self._proc = proc
        self._set_state(JobState.STARTING)
        self._append_log("$ " + " ".join(argv))
        proc.start(argv[0], argv[1:])

    def pause(self) -> None:
        if self.state == JobState.RUNNING and self._send("pause"):
            self._set_state(JobState.PAUSED)

    def resume(self) -> None:
        if self.state == JobState.PAUSED and self._send("resume"):
            self._set_state(JobState.RUNNING)

    def stop(self, kill_after_s: float | None = None) -> None:
        """Ask for a checkpoint and a clean exit; optionally kill if it takes too long."""
        if not self.active:
            return
        self._send("stop")
        self._set_state(JobState.STOPPING)
        if kill_after_s is not None:
            self._kill_timer.start(int(kill_after_s * 1000))

    def kill(self) -> None:
        if self._proc is not None and self._proc.state() != QProcess.ProcessState.NotRunning:
            self._append_log("worker did not answer; killing it")
            self._proc.kill()

    def wait(self, timeout_ms: int) -> bool:
        """Block until the child exits (only for shutdown paths)."""
        if self._proc is None or self._proc.state() == QProcess.ProcessState.NotRunning:
            return True
        return self._proc.waitForFinished(timeout_ms)

    def pid(self) -> int:
        return int(self._proc.processId()) if self._proc is not None else 0

    # ------------------------------------------------------------------ internals
    def _send(self, command: str) -> bool:
        if self._proc is None or self._proc.state() != QProcess.ProcessState.Running:
            return False
        self._proc.write((command + "\n").encode())
        return True

    def _set_state(self, state: JobState) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state.value)

    def _append_log(self, line: str) -> None:
        self.log.append(line)
        self.log_line.emit(line)

    def _read_stdout(self) -> None:
        assert self._proc is not None
        self._stdout_buf += bytes(self._proc.readAllStandardOutput().data())
        *lines, self._stdout_buf = self._stdout_buf.split(b"\n")
        for raw in lines:
            self._handle_line(raw.decode("utf-8", "replace").strip())

    def _read_stderr(self) -> None:
        assert self._proc is not None
        self._stderr_buf += bytes(self._proc.readAllStandardError().data())
        *lines, self._stderr_buf = self._stderr_buf.split(b"\n")
        for raw in lines:
            self._append_log(raw.decode("utf-8", "replace").rstrip())

    def _handle_line(self, line: str) -> None:
        if not line:
            return
        try:
            event = event_from_json(line)
        except (ValueError, TypeError):  # json.JSONDecodeError is a ValueError
            self._append_log(line)  # a stray print: keep it as a log line
            return
        self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Started):
            if self.state == JobState.STARTING:
                self._set_state(JobState.RUNNING)
            self.started.emit(event)
        elif isinstance(event, Progress):
            self.last_progress = event
            self.progress.emit(event)
        elif isinstance(event, Resized):
            self.resized.emit(event)
        elif isinstance(event, Validation):
            self.validation.emit(event)
        elif isinstance(event, Diagnostics):
            self.diagnostics.emit(event)
        elif isinstance(event, Preview):
            self.preview.emit(event)
        elif isinstance(event, Checkpoint):
            self.last_checkpoint = event.path
            self.checkpoint.emit(event)
        elif isinstance(event, StrengthChosen):
            self.strength.emit(event)
        elif isinstance(event, Finished):
            self._finished_event = event
        elif isinstance(event, Failed):
            self._failed_event = event

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._append_log(
                f"could not start the worker: {self._proc.errorString() if self._proc else ''}"
            )
            self._fail(None, "The training worker could not be started.")

    def _on_exit(self, code: int, status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        if self._proc is not None:  # drain what is left
            self._read_stdout()
            self._read_stderr()
            for rest in (self._stdout_buf, self._stderr_buf):
                if rest.strip():
                    self._handle_line(rest.decode("utf-8", "replace").strip())
            self._stdout_buf = self._stderr_buf = b""
        crashed = status == QProcess.ExitStatus.CrashExit
        if code == 0 and not crashed:
            done = self._finished_event or Finished(
                step=self.last_progress.step if self.last_progress else 0,
                stopped=self.state == JobState.STOPPING,
            )
            self._set_state(JobState.FINISHED)
            self.finished.emit(done)
            return
        if crashed:
            reason = "The training worker was killed or crashed"
            self._fail(None, f"{reason} (signal or abnormal exit).")
        elif code == 2:
            self._fail(code, self._last_meaningful_log() or "The configuration was refused.")
        else:
            self._fail(code, f"The training worker exited with code {code}.")

    def _last_meaningful_log(self) -> str:
        for line in reversed(self.log):
            if line.strip() and not line.startswith("$ "):
                return line.strip()
        return ""

    def _fail(self, code: int | None, fallback: str) -> None:
        if self.state == JobState.FAILED:
            return
        event = self._failed_event
        message = event.message if event is not None and event.message else fallback
        if event is not None and event.traceback:
            trace = event.traceback
        else:
            trace = _traceback_from_log(list(self.log))
        message = with_out_of_memory_advice(message, trace)
        checkpoint = (
            event.checkpoint if event is not None and event.checkpoint else ""
        ) or self._find_checkpoint()
        failure = Failure(
            message=message,
            traceback=trace,
            log_tail="\n".join(list(self.log)[-40:]),
            exit_code=code,
            checkpoint=checkpoint,
        )
        self._set_state(JobState.FAILED)
        self.failed.emit(failure)

    def _find_checkpoint(self) -> str:
        if self.run_dir is None:
            return ""
        last = RunFolder(self.run_dir).checkpoint_path
        return str(last) if last.is_file() else (self.last_checkpoint or "")


def _traceback_from_log(lines: list[str]) -> str:
    """The last Python traceback in the log lines, if there is one."""
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("Traceback (most recent call last)"):
            return "\n".join(lines[i:])
    return ""


def parse_event_line(line: str) -> Event | None:
    """One stdout line → event, or None when it is not an event (tests, tools)."""
    try:
        return event_from_json(line)
    except (ValueError, TypeError, json.JSONDecodeError):
        return None
