"""What the training device is, asked from the core: ``python -m noiseda_core devices --json``.

The question runs in a child process: importing torch in a thread of the GUI process
would hold the GIL for long stretches (loading its shared libraries) and stall the
window. ``DeviceInfoLabel`` shows the answer with the core's plan for a first run
(``noiseda_core.policy.first_run_plan``), and ``default_sizes`` reads from it the sizes
the app preselects: exactly the plan's, nothing decided here.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, fields

from PySide6.QtCore import QProcess, QProcessEnvironment, Signal
from PySide6.QtWidgets import QLabel, QWidget

from noiseda_core.device_report import DeviceReport

FALLBACK_RESTORERS = [
    "unet-tiny",
    "unet-t",
    "unet-s",
    "unet-b",
    "dncnn",
    "nafnet",
    "swinir",
    "uformer",
]
FALLBACK_DENOISERS = ["tiny", "small", "paper"]


DeviceSummary = DeviceReport  # the core's report, as ``noiseda devices --json`` prints it


def fallback_summary() -> DeviceSummary:
    """What the app assumes when the device query fails: the CPU and every known network."""
    return DeviceSummary(
        "cpu", "CPU", restorers=list(FALLBACK_RESTORERS), denoisers=list(FALLBACK_DENOISERS)
    )


@dataclass(frozen=True)
class Sizes:
    """A first run's plan (``noiseda_core.policy.Plan.to_dict``), as the app reads it."""

    restorer: str
    denoiser: str
    patch: int
    batch: int
    steps: int
    workers: int = 0
    precision: str = "fp32"


def parse_devices(text: str) -> DeviceSummary:
    """The last line of ``noiseda devices --json`` as a ``DeviceSummary`` (unknown keys ignored)."""
    data = json.loads(text.strip().splitlines()[-1])
    names = {f.name for f in fields(DeviceSummary)}
    return DeviceSummary(**{k: v for k, v in data.items() if k in names})


def plan_of(info: DeviceSummary) -> dict:
    """The core's plan for a first run on this device: the query's ``plan``, the very one
    ``noiseda devices --json`` prints (a summary made without the query asks the core)."""
    if info.plan:
        return info.plan
    from noiseda_core.policy import first_run_plan  # after a failed query: torch loads here

    return first_run_plan(info.machine()).to_dict()


def default_sizes(info: DeviceSummary) -> Sizes:
    """The sizes the app preselects: the plan's."""
    plan = plan_of(info)
    names = {f.name for f in fields(Sizes)}
    return Sizes(**{k: v for k, v in plan.items() if k in names})


def describe(info: DeviceSummary) -> tuple[str, bool]:
    """A one-line description and whether it is fit for real training."""
    if info.kind == "cuda":
        many = f" ×{info.count}" if info.count > 1 else ""
        return f"GPU: {info.name}{many}, {info.total_gib:.0f} GiB", True
    if info.kind == "mps":
        return "GPU: Apple MPS", True
    return f"{info.name}: no GPU found; training will be slow (small sizes preselected)", False


def describe_plan(info: DeviceSummary) -> str:
    """The plan the app preselects, in one line (the label's tooltip)."""
    s = default_sizes(info)
    workers = f"{s.workers} data workers" if s.workers else "data in the training process"
    return (
        f"Planned for this device: {s.restorer} + {s.denoiser} denoiser, batch {s.batch} "
        f"of {s.patch}×{s.patch}, {s.precision}, {workers}, {s.steps:,} steps"
    )


def status_colour(ok: bool) -> str:
    from ..theme import status_colour as colour

    return colour(ok)


class DeviceInfoLabel(QLabel):
    """Shows the device; emits ``ready(DeviceSummary)`` once the query is back."""

    ready = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Looking for a GPU…", parent)
        self.setWordWrap(True)
        self.info: DeviceSummary | None = None

    def start_query(self) -> None:
        """Ask a child process; the answer arrives through ``ready``."""
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONIOENCODING", "utf-8")
        proc.setProcessEnvironment(env)
        proc.finished.connect(lambda code, status: self._finished(proc, code))
        proc.errorOccurred.connect(lambda error: self._failed(proc, error))
        self._proc = proc
        proc.start(sys.executable, ["-m", "noiseda_core", "devices", "--json"])

    def _finished(self, proc: QProcess, code: int) -> None:
        try:
            out = bytes(proc.readAllStandardOutput().data()).decode("utf-8", "replace").strip()
        except RuntimeError:  # the window closed first
            return
        try:
            info = parse_devices(out)
        except (ValueError, TypeError, IndexError):
            err = bytes(proc.readAllStandardError().data()).decode("utf-8", "replace").strip()
            self._error(RuntimeError((err.splitlines() or [f"exit code {code}"])[-1]), err)
            return
        self._done(info)

    def stop_query(self) -> None:
        """Closing: end a query still running (it only reads device properties)."""
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.state() != QProcess.ProcessState.NotRunning:
            proc.finished.disconnect()
            proc.kill()
            proc.waitForFinished(2000)

    def _failed(self, proc: QProcess, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._error(RuntimeError(proc.errorString()), "")

    def _done(self, info: DeviceSummary) -> None:
        self.info = info
        text, good = describe(info)
        self.setText(text if good else f"⚠ {text}")
        self.setToolTip(describe_plan(info))
        self.setStyleSheet(f"color: {status_colour(bool(good))}")
        self.ready.emit(info)

    def _error(self, exc: BaseException, tb: str) -> None:
        self.info = fallback_summary()
        self.setText(f"⚠ Could not query devices ({exc}); assuming the CPU")
        self.setStyleSheet(f"color: {status_colour(False)}")
        self.ready.emit(self.info)
