"""A made-up memory curve for the CPU, so the size policies run end to end without a GPU.

``CurveMeasure`` replaces ``noiseda_core.measure``'s object (below the policies): it
claims ``free`` bytes, and a probe's peak is ``held + base + per_pixel · N·H·W`` of the
first 4-D tensor the probe's outermost module receives (``held``: what the process had
allocated before, which a policy must not count) (the batch of a training step, the
image of a restoration). The probe itself really runs, on the CPU.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class CurveMeasure:
    def __init__(
        self,
        free: float,
        base: float = 0.0,
        per_pixel: float = 1.0,
        oom_above: int | None = None,
        held: int = 0,
    ) -> None:
        self.free, self.base, self.per_pixel, self.oom_above = int(free), base, per_pixel, oom_above
        self.held = held
        self.probes: list[tuple[int, ...]] = []  # shapes the probes ran with
        self.released = 0

    def free_bytes(self, device: torch.device) -> int | None:
        return self.free

    def allocated_bytes(self, device: torch.device) -> int:
        return self.held

    def peak_bytes(self, device: torch.device, probe: Callable[[], object]) -> float:
        seen: list[tuple[int, ...]] = []

        def first_input(module: torch.nn.Module, args: tuple) -> None:
            if not seen and args and isinstance(args[0], torch.Tensor) and args[0].ndim == 4:
                seen.append(tuple(args[0].shape))
                n, _, h, w = seen[0]
                if self.oom_above is not None and n * h * w > self.oom_above:
                    raise torch.OutOfMemoryError("out of memory (faked curve)")

        handle = torch.nn.modules.module.register_module_forward_pre_hook(first_input)
        try:
            probe()
        finally:
            handle.remove()
        self.probes.append(seen[0])
        n, _, h, w = seen[0]
        return self.held + self.base + self.per_pixel * n * h * w

    def is_oom(self, exc: BaseException) -> bool:
        return isinstance(exc, torch.OutOfMemoryError)

    def release(self, device: torch.device) -> None:
        self.released += 1


class Unmeasured:
    """A measure that must not be consulted (``restore_image`` decides nothing)."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"measure.{name} was consulted")


def install(monkeypatch, fake: object) -> object:
    """Make ``fake`` what every policy measures with (commands included)."""
    from noiseda_core import measure

    monkeypatch.setattr(measure, "_DEFAULT", fake)
    return fake
