"""What this machine offers for training: ``noiseda devices [--json]``.

The app asks this command (in a child process, so the window never waits for
torch to import) instead of probing devices itself; the device choice is the
same ``resolve_device("auto")`` the trainer and ``restore`` use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class DeviceReport:
    """The device ``auto`` picks, and the networks this install can build."""

    kind: str  # cuda | mps | cpu
    name: str
    total_gib: float = 0.0
    count: int = 1
    restorers: list[str] = field(default_factory=list)
    restorer_notes: dict[str, str] = field(default_factory=dict)
    denoisers: list[str] = field(default_factory=list)
    # policy.start_sizes: what a first run starts with
    plan: dict[str, Any] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # restorer → how to install its extra

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


OPTIONAL_MODULES = {"restormer": "spandrel_extra_arches"}  # restorer → the extra's module


def missing_restorers() -> dict[str, str]:
    """Restorers whose optional extra is not installed, with how to get it."""
    import importlib.util

    from .nets.spandrel_archs import RESTORMER_HINT

    hints = {"restormer": RESTORMER_HINT}
    return {
        name: hints[name]
        for name, module in OPTIONAL_MODULES.items()
        if importlib.util.find_spec(module) is None
    }


def device_report() -> DeviceReport:
    import torch

    from .device import resolve_device
    from .diffusion import DENOISER_SIZES
    from .nets import RESTORERS
    from .policy import start_sizes

    missing = missing_restorers()
    names = [name for name in RESTORERS if name not in missing]
    notes = {name: str(getattr(RESTORERS[name], "description", "")) for name in names}
    device = resolve_device("auto")
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(0)
        report = DeviceReport(
            "cuda", props.name, props.total_memory / 2**30, torch.cuda.device_count()
        )
    elif device.type == "mps":
        report = DeviceReport("mps", "Apple MPS", 0.0, 1)
    else:
        threads = torch.get_num_threads()
        report = DeviceReport("cpu", f"CPU ({threads} thread{'s' if threads != 1 else ''})", 0.0, 1)
    return replace(
        report,
        restorers=names,
        restorer_notes=notes,
        denoisers=list(DENOISER_SIZES),
        missing=missing,
        plan=asdict(start_sizes(report.kind, report.total_gib)),
    )


def format_report(report: DeviceReport) -> str:
    """A few lines for people."""
    size = f", {report.total_gib:.0f} GiB" if report.total_gib else ""
    many = f" ×{report.count}" if report.count > 1 else ""
    lines = [
        f"device:    {report.kind} — {report.name}{many}{size}",
        f"restorers: {', '.join(report.restorers)}",
        f"denoisers: {', '.join(report.denoisers)}",
    ]
    lines += [f"not installed: {name} ({hint})" for name, hint in report.missing.items()]
    return "\n".join(lines)
