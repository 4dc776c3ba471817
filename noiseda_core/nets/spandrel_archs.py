"""Third-party restorers, constructed from the ``spandrel`` package's classes.

Each factory takes the keyword arguments stored in ``Restorer.arch_args`` and
returns the spandrel module configured for denoising (3 in, 3 out, upscale 1).
The module's own ``state_dict`` keys are exported unchanged, so
``spandrel.ModelLoader`` recognises our exported files.

What each net returns (checked in spandrel 0.4.2's sources):
- DnCNN (mode "DnCNN") returns ``x - noise``: the restored image.
- NAFNet, SwinIR (``upsampler=""``), Uformer (``dd_in=3``) and Restormer add
  the input internally: the restored image.
So all of them are wrapped with ``adds_input=True``.

Imports are lazy: importing spandrel loads every architecture it knows.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from ..errors import UserError

RESTORMER_HINT = (
    "Restormer needs the optional extra: pip install noiseda-studio[restormer] "
    "(installs spandrel-extra-arches). Note: Restormer is licensed for non-commercial use only."
)


def build_dncnn(*, nc: int = 64, nb: int = 17, act_mode: str = "BR") -> nn.Module:
    """Colour DnCNN (3 in/3 out, ``nb`` conv layers of ``nc`` channels, BN+ReLU)."""
    from spandrel.architectures.DnCNN import DnCNN  # pyright: ignore[reportMissingTypeStubs]

    return DnCNN(in_nc=3, out_nc=3, nc=nc, nb=nb, act_mode=act_mode, mode="DnCNN")


def build_nafnet(
    *,
    width: int = 16,
    middle_blk_num: int = 2,
    enc_blk_nums: list[int] | None = None,
    dec_blk_nums: list[int] | None = None,
) -> nn.Module:
    """NAFNet; our default is a small variant (the SIDD model uses width 32, 28 middle blocks)."""
    from spandrel.architectures.NAFNet import NAFNet  # pyright: ignore[reportMissingTypeStubs]

    return NAFNet(
        img_channel=3,
        width=width,
        middle_blk_num=middle_blk_num,
        enc_blk_nums=list(enc_blk_nums if enc_blk_nums is not None else [1, 1, 1, 4]),
        dec_blk_nums=list(dec_blk_nums if dec_blk_nums is not None else [1, 1, 1, 1]),
    )


def nafnet_multiple(args: dict[str, Any]) -> int:
    """NAFNet halves the size once per encoder level."""
    return 2 ** len(args.get("enc_blk_nums") or [1, 1, 1, 4])


def build_swinir(
    *,
    embed_dim: int = 60,
    depths: list[int] | None = None,
    num_heads: list[int] | None = None,
    window_size: int = 8,
    mlp_ratio: float = 2.0,
    img_size: int = 128,
    resi_connection: str = "1conv",
) -> nn.Module:
    """SwinIR for denoising (``upscale=1``, no upsampler, ``img_range=1``).

    Default is the "lightweight" size (embed 60, 4×4 blocks); the paper's colour
    denoiser uses embed 180, depths and heads ``[6]*6``. ``img_size`` only sets
    the precomputed attention mask (other sizes work, computing it on the fly);
    keep ``window_size != 7`` so spandrel infers ``img_range=1`` on load.
    """
    from spandrel.architectures.SwinIR import SwinIR  # pyright: ignore[reportMissingTypeStubs]

    depths = list(depths if depths is not None else [4, 4, 4, 4])
    num_heads = list(num_heads if num_heads is not None else [6] * len(depths))
    return SwinIR(
        img_size=img_size,
        patch_size=1,
        in_chans=3,
        embed_dim=embed_dim,
        depths=depths,
        num_heads=num_heads,
        window_size=window_size,
        mlp_ratio=mlp_ratio,
        upscale=1,
        img_range=1.0,
        upsampler="",
        resi_connection=resi_connection,
    )


def swinir_multiple(args: dict[str, Any]) -> int:
    return int(args.get("window_size", 8))


def build_uformer(
    *,
    embed_dim: int = 16,
    depths: list[int] | None = None,
    num_heads: list[int] | None = None,
    win_size: int = 8,
    mlp_ratio: float = 4.0,
    token_mlp: str = "leff",
    modulator: bool = False,
) -> nn.Module:
    """Uformer (default: the paper's Uformer-T size, embed 16, depths ``[2]*9``).

    ``img_size`` is fixed at 256, the value spandrel assumes on load, so that
    window/shift choices match after a round trip through spandrel.
    """
    from spandrel.architectures.Uformer import Uformer  # pyright: ignore[reportMissingTypeStubs]

    depths = list(depths if depths is not None else [2] * 9)
    num_heads = list(num_heads if num_heads is not None else [1, 2, 4, 8, 16, 16, 8, 4, 2])
    if len(depths) != 9 or len(num_heads) != 9:
        raise UserError(
            "Uformer needs 9 entries in depths and num_heads (4 down, bottleneck, 4 up)"
        )
    return Uformer(
        img_size=256,
        in_chans=3,
        dd_in=3,
        embed_dim=embed_dim,
        depths=depths,
        num_heads=num_heads,
        win_size=win_size,
        mlp_ratio=mlp_ratio,
        token_projection="linear",
        token_mlp=token_mlp,
        modulator=modulator,
    )


def uformer_multiple(args: dict[str, Any]) -> int:
    """Four 2× downsamples, and the bottleneck must hold whole windows."""
    return int(args.get("win_size", 8)) * 16


def build_restormer(
    *,
    dim: int = 24,
    num_blocks: list[int] | None = None,
    num_refinement_blocks: int = 2,
    heads: list[int] | None = None,
    ffn_expansion_factor: float = 2.66,
    layer_norm_type: str = "WithBias",
) -> nn.Module:
    """Restormer from ``spandrel_extra_arches`` (optional extra; non-commercial licence).

    Default is a reduced size (dim 24, blocks ``[2, 3, 3, 4]``); the paper's
    model uses dim 48, blocks ``[4, 6, 6, 8]``, 4 refinement blocks (and
    ``layer_norm_type="BiasFree"`` for denoising).
    """
    try:
        from spandrel_extra_arches.architectures.Restormer import Restormer  # pyright: ignore[reportMissingImports]
    except ImportError as exc:
        raise UserError(RESTORMER_HINT) from exc

    return Restormer(
        inp_channels=3,
        out_channels=3,
        dim=dim,
        num_blocks=list(num_blocks if num_blocks is not None else [2, 3, 3, 4]),
        num_refinement_blocks=num_refinement_blocks,
        heads=list(heads if heads is not None else [1, 2, 4, 8]),
        ffn_expansion_factor=ffn_expansion_factor,
        bias=False,
        LayerNorm_type=layer_norm_type,
        dual_pixel_task=False,
    )


def install_extra_arches() -> None:
    """Register spandrel_extra_arches with spandrel's loader, if installed."""
    try:
        import spandrel_extra_arches  # pyright: ignore[reportMissingImports]
    except ImportError:
        return
    spandrel_extra_arches.install(ignore_duplicates=True)
