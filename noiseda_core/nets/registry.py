"""The restorer registry: name → constructor, default args, description, licence."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..errors import UserError
from . import spandrel_archs as sa
from .base import Restorer
from .unet import UNet


@dataclass(frozen=True)
class RestorerSpec:
    """How to build one registered restorer.

    ``build(**args) -> nn.Module`` makes the inner net; ``args`` are the
    defaults (overridable); ``adds_input`` says the inner net already returns
    ``x + residual``; ``multiple(args)`` gives the size multiple it needs;
    ``params`` is the parameter count at the default args (as measured).
    """

    name: str
    build: Callable[..., nn.Module]
    args: dict[str, Any]
    description: str
    params: int
    licence: str
    adds_input: bool
    multiple: Callable[[dict[str, Any]], int] = field(default=lambda args: 8)
    square: bool = False
    optional: bool = False  # needs an optional extra to be installed


def _unet_multiple(args: dict[str, Any]) -> int:
    return 2 ** (int(args.get("depth", 4)) - 1)


_OURS = "MIT (our own implementation)"

RESTORERS: dict[str, RestorerSpec] = {
    "unet-tiny": RestorerSpec(
        "unet-tiny",
        UNet,
        {"base": 8, "depth": 4},
        "Very small U-Net (widths 8..64) for tests and quick CPU runs.",
        134_475,
        _OURS,
        False,
        _unet_multiple,
    ),
    "unet-t": RestorerSpec(
        "unet-t",
        UNet,
        {"base": 32, "depth": 4},
        "Paper U-Net, tiny (widths 32/64/128/256).",
        2_141_475,
        _OURS,
        False,
        _unet_multiple,
    ),
    "unet-s": RestorerSpec(
        "unet-s",
        UNet,
        {"base": 64, "depth": 4},
        "Paper U-Net, small: the default (widths 64/128/256/512, 8.56 M, 12.5 GMACs at 128²).",
        8_559_171,
        _OURS,
        False,
        _unet_multiple,
    ),
    "unet-b": RestorerSpec(
        "unet-b",
        UNet,
        {"base": 96, "depth": 4},
        "Paper U-Net, bigger (widths 96/192/384/768).",
        19_253_091,
        _OURS,
        False,
        _unet_multiple,
    ),
    "dncnn": RestorerSpec(
        "dncnn",
        sa.build_dncnn,
        {"nc": 64, "nb": 17, "act_mode": "BR"},
        "DnCNN (17 conv layers, BN) via spandrel.",
        559_363,
        "spandrel: MIT; DnCNN (KAIR): MIT",
        True,
    ),
    "nafnet": RestorerSpec(
        "nafnet",
        sa.build_nafnet,
        {
            "width": 16,
            "middle_blk_num": 2,
            "enc_blk_nums": [1, 1, 1, 4],
            "dec_blk_nums": [1, 1, 1, 1],
        },
        "NAFNet via spandrel, reduced size (width 16).",
        1_961_139,
        "spandrel: MIT; NAFNet: MIT",
        True,
        sa.nafnet_multiple,
    ),
    "swinir": RestorerSpec(
        "swinir",
        sa.build_swinir,
        {
            "embed_dim": 60,
            "depths": [4, 4, 4, 4],
            "num_heads": [6, 6, 6, 6],
            "window_size": 8,
            "mlp_ratio": 2.0,
            "img_size": 128,
            "resi_connection": "1conv",
        },
        "SwinIR via spandrel, lightweight size (embed 60).",
        658_803,
        "spandrel: MIT; SwinIR: Apache-2.0",
        True,
        sa.swinir_multiple,
    ),
    "uformer": RestorerSpec(
        "uformer",
        sa.build_uformer,
        {
            "embed_dim": 16,
            "depths": [2] * 9,
            "num_heads": [1, 2, 4, 8, 16, 16, 8, 4, 2],
            "win_size": 8,
            "mlp_ratio": 4.0,
            "token_mlp": "leff",
            "modulator": False,
        },
        "Uformer-T via spandrel (square inputs, multiple of 128).",
        5_230_413,
        "spandrel: MIT; Uformer: MIT",
        True,
        sa.uformer_multiple,
        square=True,
    ),
    "restormer": RestorerSpec(
        "restormer",
        sa.build_restormer,
        {
            "dim": 24,
            "num_blocks": [2, 3, 3, 4],
            "num_refinement_blocks": 2,
            "heads": [1, 2, 4, 8],
            "ffn_expansion_factor": 2.66,
            "layer_norm_type": "WithBias",
        },
        "Restormer via spandrel-extra-arches (optional extra), reduced size (dim 24).",
        3_813_230,
        "Restormer: NON-COMMERCIAL use only (optional extra pip install noiseda-studio[restormer])",
        True,
        optional=True,
    ),
}


def build_restorer(name: str, **overrides: Any) -> Restorer:
    """Build the registered restorer ``name`` with its default args updated by ``overrides``."""
    spec = RESTORERS.get(name)
    if spec is None:
        raise UserError(f"unknown restorer {name!r}; choose one of: {', '.join(sorted(RESTORERS))}")
    allowed = set(inspect.signature(spec.build).parameters)
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise UserError(
            f"restorer {name!r} has no setting {', '.join(unknown)}; "
            f"its settings are: {', '.join(sorted(allowed))}"
        )
    args = {**spec.args, **overrides}
    with warnings.catch_warnings():
        # spandrel's transformer archs call torch.meshgrid without ``indexing``.
        warnings.filterwarnings("ignore", message=r".*torch\.meshgrid.*")
        net = spec.build(**args)
    return Restorer(
        net,
        arch=name,
        arch_args=args,
        pad_multiple=spec.multiple(args),
        adds_input=spec.adds_input,
        square=spec.square,
    )
