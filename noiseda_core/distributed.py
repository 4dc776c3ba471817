"""Distributed training context from ``torchrun``'s environment (or a single process).

``torchrun --nproc_per_node N -m noiseda_core train CONFIG.toml`` sets RANK,
LOCAL_RANK and WORLD_SIZE; we start the process group (NCCL on GPUs, gloo on the
CPU) and wrap the objective in DistributedDataParallel. Rank 0 alone writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_spec: str) -> DistContext:
    """Join the process group when launched by torchrun; a no-op otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and (
        device_spec == "auto" or device_spec.startswith("cuda")
    )
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        # Rank 0 validates and writes previews while the others wait in the next collective:
        # allow that an hour rather than the default 10 minutes.
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", timeout=timedelta(hours=1))
    return DistContext(rank=rank, local_rank=local_rank, world_size=world)


def device_for_rank(ctx: DistContext, device: torch.device) -> torch.device:
    """Each rank gets its own GPU (LOCAL_RANK); CPU ranks share the CPU."""
    if ctx.enabled and device.type == "cuda":
        return torch.device("cuda", ctx.local_rank)
    return device


def all_reduce_mean(value: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Mean of a tensor over ranks (for logging the same loss on every rank)."""
    if not ctx.enabled:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / ctx.world_size


def shutdown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def any_rank(*flags: bool, ctx: DistContext, device: torch.device) -> tuple[bool, ...]:
    """Each flag OR-ed over all ranks (so every rank takes the same branch)."""
    if not ctx.enabled:
        return flags
    value = torch.tensor([1.0 if f else 0.0 for f in flags], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return tuple(bool(v > 0) for v in value.tolist())


def gather(own: object, ctx: DistContext) -> list[object]:
    """Every rank's ``own`` (sampler or RNG state), so a distributed resume is exact too."""
    if not ctx.enabled:
        return [own]
    gathered: list[object] = [None] * ctx.world_size
    dist.all_gather_object(gathered, own)
    return gathered


def for_rank(saved: list[dict[str, Any]] | dict[str, Any], ctx: DistContext) -> dict[str, Any]:
    """This rank's saved state (a run resumed on fewer or more ranks reuses rank 0's)."""
    if isinstance(saved, dict):
        return saved
    return saved[ctx.rank] if ctx.rank < len(saved) else saved[0]
