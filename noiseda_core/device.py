"""Choosing the device and the arithmetic: CUDA, Apple's MPS or the CPU.

device = resolve_device("auto")          # cuda if present, else mps, else cpu
dtype = autocast_dtype(Precision.AUTO, device)   # bf16 on capable GPUs, else None
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .config import Precision
from .errors import UserError


def resolve_device(spec: str) -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` | ``mps`` → a usable ``torch.device``."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise UserError(
            f"device {spec!r} is not known (use auto, cpu, cuda, cuda:N or mps)"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(
            f"device {spec!r} was asked for but no CUDA GPU is available (use auto or cpu)"
        )
    if (
        device.type == "cuda"
        # None for a bare "cuda", though torch's stub types ``index`` as int
        and device.index is not None  # pyright: ignore[reportUnnecessaryComparison]
        and device.index >= torch.cuda.device_count()
    ):
        raise UserError(f"device {spec!r}: only {torch.cuda.device_count()} CUDA device(s) present")
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise UserError(
            "device 'mps' was asked for but Apple's MPS is not available (use auto or cpu)"
        )
    return device


def autocast_dtype(precision: Precision, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for the training step, or None for plain fp32."""
    if precision == Precision.FP32:
        return None
    if precision == Precision.BF16:
        return torch.bfloat16
    if precision == Precision.FP16:
        return torch.float16
    # AUTO: bf16 where the hardware has it, fp32 elsewhere (CPU bf16 is slow on most CPUs).
    if device.type == "cuda" and has_bf16(device):
        return torch.bfloat16
    return None


def has_bf16(device: torch.device) -> bool:
    """Whether a CUDA device computes in bf16 in hardware (compute capability 8, Ampere, or
    later; ``torch.cuda.is_bf16_supported`` also says yes where bf16 is only emulated)."""
    return getattr(torch.cuda.get_device_properties(device), "major", 0) >= 8


def precision_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


@dataclass(frozen=True)
class DeviceInfo:
    """What the GUI and ``bench`` show about a device."""

    name: str  # "NVIDIA H200" or "CPU (8 threads)"
    kind: str  # cuda | mps | cpu
    total_gib: float  # device memory (0 when unknown)
    free_gib: float
    count: int  # number of such devices (local GPUs)


def describe_device(device: torch.device) -> DeviceInfo:
    if device.type == "cuda":
        index = device.index
        # None for a bare "cuda", though torch's stub types ``index`` as int
        if index is None:  # pyright: ignore[reportUnnecessaryComparison]
            index = torch.cuda.current_device()
        free, total = torch.cuda.mem_get_info(index)
        return DeviceInfo(
            name=torch.cuda.get_device_name(index),
            kind="cuda",
            total_gib=total / 2**30,
            free_gib=free / 2**30,
            count=torch.cuda.device_count(),
        )
    if device.type == "mps":
        return DeviceInfo(name="Apple MPS", kind="mps", total_gib=0.0, free_gib=0.0, count=1)
    return DeviceInfo(
        name=f"CPU ({torch.get_num_threads()} threads)",
        kind="cpu",
        total_gib=0.0,
        free_gib=0.0,
        count=1,
    )


def synchronize(device: torch.device) -> None:
    """Wait for queued work (for honest timings)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
