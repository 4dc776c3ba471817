"""What the training device is, found in a short child process (it imports torch).

``query_devices()`` runs in ``python -m app.widgets.device_info``, which prints it as JSON:
importing torch in a thread of the GUI process would hold the GIL for long stretches
(loading its shared libraries) and stall the window. ``DeviceInfoLabel`` shows the
result and ``default_sizes`` turns it into sizes the device can carry.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PySide6.QtCore import QProcess, QProcessEnvironment, Signal
from PySide6.QtWidgets import QLabel, QWidget


FALLBACK_RESTORERS = ["unet-tiny", "unet-t", "unet-s", "unet-b", "dncnn", "nafnet", "swinir", "uformer"]
FALLBACK_DENOISERS = ["tiny", "small", "paper"]


@dataclass(frozen=True)
class DeviceSummary:
    """The best local device and what the library offers on this machine."""

    kind: str  # cuda | mps | cpu
    name: str
    total_gib: float = 0.0
    count: int = 1
    restorers: list[str] = field(default_factory=lambda: list(FALLBACK_RESTORERS))
    restorer_notes: dict[str, str] = field(default_factory=dict)
    denoisers: list[str] = field(default_factory=lambda: list(FALLBACK_DENOISERS))


@dataclass(frozen=True)
class Sizes:
    restorer: str
    denoiser: str
    patch: int
    batch: int
    steps: int = 20000  # a CPU gets fewer, so a first run ends the same afternoon


def query_devices() -> DeviceSummary:
    """Import torch and the registries; call this off the GUI thread only."""
    import torch

    restorers, notes, denoisers = list(FALLBACK_RESTORERS), {}, list(FALLBACK_DENOISERS)
    try:
        from noiseda_core.nets import RESTORERS

        restorers = list(RESTORERS)
        notes = {name: str(getattr(spec, "description", "")) for name, spec in RESTORERS.items()}
    except ImportError:
        pass  # the registry is optional here: the fallback names still work with the CLI
    try:
        from noiseda_core.diffusion import DENOISER_SIZES

        denoisers = list(DENOISER_SIZES)
    except ImportError:
        pass
    extra = {"restorers": restorers, "restorer_notes": notes, "denoisers": denoisers}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return DeviceSummary("cuda", props.name, props.total_memory / 2**30, torch.cuda.device_count(), **extra)
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return DeviceSummary("mps", "Apple MPS", 0.0, 1, **extra)
    threads = torch.get_num_threads()
    return DeviceSummary("cpu", f"CPU ({threads} thread{'s' if threads != 1 else ''})", 0.0, 1, **extra)


def default_sizes(info: DeviceSummary) -> Sizes:
    """Sizes the device can carry: small on a CPU, the paper's on a GPU."""
    if info.kind == "cuda":
        batch = 24 if info.total_gib >= 20 else 16
        if info.total_gib < 10:
            return Sizes("unet-t", "small", 128, 8)
        return Sizes("unet-s", "paper", 128, batch)
    if info.kind == "mps":
        return Sizes("unet-t", "small", 96, 8, steps=5000)
    return Sizes("unet-t", "small", 64, 4, steps=1000)


def describe(info: DeviceSummary) -> tuple[str, bool]:
    """A one-line description and whether it is fit for real training."""
    if info.kind == "cuda":
        many = f" ×{info.count}" if info.count > 1 else ""
        return f"GPU: {info.name}{many}, {info.total_gib:.0f} GiB", True
    if info.kind == "mps":
        return "GPU: Apple MPS", True
    return f"{info.name}: no GPU found; training will be slow (small sizes preselected)", False


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
        root = str(Path(__file__).resolve().parent.parent.parent)
        env.insert("PYTHONPATH", root + (os.pathsep + env.value("PYTHONPATH") if env.value("PYTHONPATH") else ""))
        env.insert("QT_QPA_PLATFORM", "offscreen")
        proc.setProcessEnvironment(env)
        proc.finished.connect(lambda code, status: self._finished(proc, code))
        proc.errorOccurred.connect(lambda error: self._failed(proc, error))
        self._proc = proc
        proc.start(sys.executable, ["-m", "app.widgets.device_info"])

    def _finished(self, proc: QProcess, code: int) -> None:
        try:
            out = bytes(proc.readAllStandardOutput().data()).decode("utf-8", "replace").strip()
        except RuntimeError:  # the window closed first
            return
        try:
            info = DeviceSummary(**json.loads(out.splitlines()[-1]))
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
        self.setStyleSheet(f"color: {status_colour(True if good else False)}")
        self.ready.emit(info)

    def _error(self, exc: BaseException, tb: str) -> None:
        self.info = DeviceSummary("cpu", "CPU")
        self.setText(f"⚠ Could not query devices ({exc}); assuming the CPU")
        self.setStyleSheet(f"color: {status_colour(False)}")
        self.ready.emit(self.info)


if __name__ == "__main__":  # the child process of DeviceInfoLabel.start_query
    print(json.dumps(asdict(query_devices())))
