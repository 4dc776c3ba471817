"""Measuring device memory: the only place the size policies touch the hardware.

    m = measure.default()
    m.free_bytes(device)                 # free bytes, or None where memory is not measured
    m.peak_bytes(device, probe)          # bytes a call of ``probe()`` needed at its peak
    m.is_oom(exc)                        # whether an exception means "out of memory"
    m.release(device)                    # give cached blocks back after an OOM

``policy.py`` decides tile and batch sizes from these figures. Tests replace the
measuring object (``default``) with one that reports a made-up memory curve on the
CPU, so the real decision code runs end to end without a GPU.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Protocol

import torch


class Measure(Protocol):
    """What the size policies need to know about a device's memory."""

    def free_bytes(self, device: torch.device) -> int | None: ...

    def peak_bytes(self, device: torch.device, probe: Callable[[], object]) -> float: ...

    def is_oom(self, exc: BaseException) -> bool: ...

    def release(self, device: torch.device) -> None: ...


class TorchMeasure:
    """PyTorch's own figures: CUDA's allocator; other devices are not measured."""

    def free_bytes(self, device: torch.device) -> int | None:
        """Free memory on a CUDA device after emptying PyTorch's cache; None elsewhere."""
        if device.type != "cuda":
            return None
        self.release(device)
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)

    def peak_bytes(self, device: torch.device, probe: Callable[[], object]) -> float:
        """Peak bytes allocated while ``probe()`` ran, above what was held before (CUDA)."""
        if device.type != "cuda":
            raise ValueError(f"memory of {device} is not measured (free_bytes is None there)")
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        probe()
        torch.cuda.synchronize(device)
        return float(torch.cuda.max_memory_allocated(device) - before)

    def is_oom(self, exc: BaseException) -> bool:
        if isinstance(exc, torch.OutOfMemoryError):
            return True
        return isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)  # CPU

    def release(self, device: torch.device) -> None:
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


_DEFAULT: Measure = TorchMeasure()


def default() -> Measure:
    """The measuring object the policies use unless they are given one."""
    return _DEFAULT


__all__ = ["Measure", "TorchMeasure", "default"]
