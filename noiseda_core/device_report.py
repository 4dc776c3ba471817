"""What this machine offers for training: ``noiseda devices [--json]``.

The app asks this command (in a child process, so the window never waits for
torch to import) instead of probing devices itself; the device choice is the
same ``resolve_device("auto")`` the trainer and ``restore`` use.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from .policy import Machine


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
    bf16: bool = False  # the GPU computes in bf16
    cpus: int = 1  # CPU cores for data workers
    # policy.first_run_plan: what a first run starts with
    plan: dict[str, Any] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # restorer → how to install its extra

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def machine(self) -> Machine:
        """What ``policy.plan`` reads of this report."""
        from .policy import Machine

        return Machine(self.kind, self.total_gib, self.bf16, self.cpus)


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


def machine_of(device: torch.device) -> Machine:
    """The ``policy.Machine`` of ``device`` (a run's resolved device)."""
    return _describe(device).machine()


def _describe(device: torch.device, **extra: Any) -> DeviceReport:
    import torch

    from .device import has_bf16

    cpus = os.cpu_count() or 1
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device.index or 0)
        bf16 = has_bf16(device)  # the rule autocast_dtype("auto") follows too
        gib = props.total_memory / 2**30
        count = torch.cuda.device_count()
        return DeviceReport("cuda", props.name, gib, count, bf16=bf16, cpus=cpus, **extra)
    if device.type == "mps":
        return DeviceReport("mps", "Apple MPS", 0.0, 1, cpus=cpus, **extra)
    threads = torch.get_num_threads()
    name = f"CPU ({threads} thread{'s' if threads != 1 else ''})"
    return DeviceReport("cpu", name, 0.0, 1, cpus=cpus, **extra)


def device_report() -> DeviceReport:
    """The device ``auto`` picks, the networks installed and the plan of a first run there."""
    from .device import resolve_device
    from .diffusion import DENOISER_SIZES
    from .nets import RESTORERS
    from .policy import first_run_plan

    missing = missing_restorers()
    names = [name for name in RESTORERS if name not in missing]
    notes = {name: str(getattr(RESTORERS[name], "description", "")) for name in names}
    extra = {
        "restorers": names,
        "restorer_notes": notes,
        "denoisers": list(DENOISER_SIZES),
        "missing": missing,
    }
    report = _describe(resolve_device("auto"), **extra)
    return replace(report, plan=first_run_plan(report.machine()).to_dict())


def format_report(report: DeviceReport) -> str:
    """A few lines for people."""
    size = f", {report.total_gib:.0f} GiB" if report.total_gib else ""
    many = f" ×{report.count}" if report.count > 1 else ""
    lines = [
        f"device:    {report.kind} — {report.name}{many}{size}",
        f"restorers: {', '.join(report.restorers)}",
        f"denoisers: {', '.join(report.denoisers)}",
    ]
    if plan := report.plan:
        lines.append(
            f"plan:      {plan['restorer']} + {plan['denoiser']} denoiser, batch {plan['batch']} "
            f"of {plan['patch']}², {plan['precision']}, {plan['workers']} data workers, "
            f"{plan['steps']} steps"
        )
    lines += [f"not installed: {name} ({hint})" for name, hint in report.missing.items()]
    return "\n".join(lines)
