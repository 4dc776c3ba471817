"""Measuring device memory: the only place the size policies touch the hardware.

    m = measure.default()
    m.free_bytes(device)                 # free bytes, or None where memory is not measured
    m.allocated_bytes(device)            # bytes this process holds on the device now
    m.peak_bytes(device, probe)          # the most it held while ``probe()`` ran
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

    def allocated_bytes(self, device: torch.device) -> int: ...

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

    def allocated_bytes(self, device: torch.device) -> int:
        """Bytes PyTorch's allocator holds for tensors on a CUDA device (0 elsewhere)."""
        if device.type != "cuda":
            return 0
        torch.cuda.synchronize(device)
        return int(torch.cuda.memory_allocated(device))

    def peak_bytes(self, device: torch.device, probe: Callable[[], object]) -> float:
        """The allocator's peak while ``probe()`` ran (CUDA), everything held included."""
        if device.type != "cuda":
            raise ValueError(f"memory of {device} is not measured (free_bytes is None there)")
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        probe()
        torch.cuda.synchronize(device)
        return float(torch.cuda.max_memory_allocated(device))

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
