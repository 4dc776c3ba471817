"""Distributed training context from ``torchrun``'s environment (or a single process).

``torchrun --nproc_per_node N -m noiseda_core train CONFIG.toml`` sets RANK,
LOCAL_RANK and WORLD_SIZE; we start the process group (NCCL on GPUs, gloo on the
CPU) and wrap the objective in DistributedDataParallel. Rank 0 alone writes files.
"""

from __future__ import annotations

import os
from datetime import timedelta
from dataclasses import dataclass

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
    use_cuda = torch.cuda.is_available() and (device_spec == "auto" or device_spec.startswith("cuda"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        # Rank 0 validates and writes previews while the others wait in the next collective:
        # allow that an hour rather than the default 10 minutes.
        dist.init_process_group(backend="nccl" if use_cuda else "gloo",
                                timeout=timedelta(hours=1))
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
