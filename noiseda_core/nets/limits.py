"""Bounds on a model file's ``arch_args`` before anything is built from them.

A model's metadata is user input: ``base: 200000`` would try to allocate terabytes,
``depth: 60`` grows for minutes before failing. So every number is bounded first,
then the network is built on PyTorch's ``meta`` device (shapes only, no memory) to
count its parameters; nets that cannot be built there get a size estimate instead.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import torch

from ..errors import UserError

MAX_PARAMS = 300_000_000  # far above any restorer we register (the largest is 19 M)
MAX_INT = 4096  # a width, a block count, a window, a crop size
MAX_LIST = 32  # stages of a network
MAX_FLOAT = 64.0  # ratios such as mlp_ratio


def _check_value(key: str, value: Any) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        if isinstance(value, str) and len(value) > 64:
            raise ValueError(f"{key} is a {len(value)}-character string")
        return
    if isinstance(value, int):
        if not 0 <= value <= MAX_INT:
            raise ValueError(f"{key} = {value} is outside 0..{MAX_INT}")
        return
    if isinstance(value, float):
        if not math.isfinite(value) or not 0.0 <= value <= MAX_FLOAT:
            raise ValueError(f"{key} = {value} is outside 0..{MAX_FLOAT:g}")
        return
    if isinstance(value, list):
        if len(value) > MAX_LIST:
            raise ValueError(f"{key} has {len(value)} entries (at most {MAX_LIST})")
        for i, item in enumerate(value):
            if isinstance(item, list):
                raise ValueError(f"{key}[{i}] is a nested list")
            _check_value(f"{key}[{i}]", item)
        return
    raise ValueError(f"{key} has an unexpected type ({type(value).__name__})")


GROWTH = {"swinir": 1, "uformer": 16, "restormer": 8}  # widest stage ÷ first stage


def _estimate_transformer(name: str, args: dict[str, Any]) -> float:
    """A rough size of a transformer restorer from its widths and depths."""
    dim = max(int(args.get(k, 0) or 0) for k in ("embed_dim", "dim", "width")) or 64
    blocks = sum(int(v) for k in ("depths", "num_blocks") for v in (args.get(k) or []))
    blocks += int(args.get("num_refinement_blocks", 0) or 0)
    ratio = max(float(args.get(k, 4.0) or 4.0) for k in ("mlp_ratio", "ffn_expansion_factor"))
    growth = GROWTH.get(name, 16)
    return (4 + 2 * ratio) * (dim * growth) ** 2 * max(blocks, 1)


def check_finite_weights(state: Mapping[str, object], path: object) -> None:
    """Refuse weights holding NaN or infinity: they would restore every image to black."""
    for key, tensor in state.items():
        if (
            isinstance(tensor, torch.Tensor)
            and tensor.is_floating_point()
            and not bool(torch.isfinite(tensor).all())
        ):
            raise UserError(
                f"{path}: the weight {key} holds NaN or infinite values (the "
                "training diverged or the file is damaged); use an earlier model, "
                "or export the run again"
            )


def check_arch_args(name: str, build: Any, args: dict[str, Any]) -> None:
    """Raise ``UserError`` when ``args`` would build an impossible or enormous network."""
    try:
        for key, value in args.items():
            _check_value(str(key), value)
    except ValueError as exc:
        raise UserError(f"impossible architecture settings for {name}: {exc}") from None
    try:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")
            net = build(**args)
        params = float(sum(p.numel() for p in net.parameters()))
    except (TypeError, ValueError) as exc:  # a setting the network rejects by itself
        raise UserError(f"impossible architecture settings for {name}: {exc}") from None
    except RuntimeError as exc:
        if "meta" not in str(exc):  # e.g. sizes that overflow: far too large
            raise UserError(
                f"impossible architecture settings for {name}: the network would "
                f"be far too large ({str(exc).splitlines()[0][:120]})"
            ) from None
        params = _estimate_transformer(name, args)  # this net cannot be built on 'meta'
    if params > MAX_PARAMS:
        raise UserError(
            f"impossible architecture settings for {name}: about {params:,.0f} "
            f"parameters (at most {MAX_PARAMS:,}); the file is damaged or hostile"
        )
