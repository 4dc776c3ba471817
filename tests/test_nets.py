"""Restorer registry, our U-Net, and the spandrel-built architectures."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from noiseda_core.errors import UserError
from noiseda_core.nets import RESTORERS, Restorer, build_restorer, pad_to_multiple

# Tiny settings per architecture (fast on CPU) and the name of each net's last conv.
TINY = {
    "unet-tiny": ({}, "out"),
    "dncnn": ({"nc": 8, "nb": 5}, "model.11"),
    "nafnet": (
        {"width": 8, "middle_blk_num": 1, "enc_blk_nums": [1, 1], "dec_blk_nums": [1, 1]},
        "ending",
    ),
    "swinir": ({"embed_dim": 12, "depths": [2], "num_heads": [2], "img_size": 32}, "conv_last"),
    "uformer": (
        {"embed_dim": 8, "depths": [1] * 9, "num_heads": [1] * 9, "win_size": 4},
        "output_proj.proj.0",
    ),
}


def _conv_macs(restorer: Restorer, size: int) -> int:
    """Multiply-accumulates of all convs for one (1, 3, size, size) input (meta tensors)."""
    macs = 0

    def hook(module: nn.Conv2d, _inp, out) -> None:
        nonlocal macs
        k = module.kernel_size[0] * module.kernel_size[1]
        macs += out[0].numel() * module.in_channels // module.groups * k

    restorer = restorer.to("meta")
    for m in restorer.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(hook)
    restorer(torch.zeros(1, 3, size, size, device="meta"))
    return macs


def test_unet_s_matches_paper_size() -> None:
    r = build_restorer("unet-s")
    assert abs(r.num_parameters() - 8.56e6) / 8.56e6 < 0.01
    assert abs(_conv_macs(r, 128) - 12.5e9) / 12.5e9 < 0.01
    assert r.pad_multiple == 8 and r.arch == "unet-s" and r.arch_args["base"] == 64


@pytest.mark.parametrize(
    "name", ["unet-tiny", "unet-t", "unet-s", "unet-b", "dncnn", "nafnet", "swinir", "uformer"]
)
def test_registry_param_counts_are_measured(name: str) -> None:
    assert build_restorer(name).num_parameters() == RESTORERS[name].params


def test_unet_sizes_grow() -> None:
    sizes = [RESTORERS[n].params for n in ("unet-tiny", "unet-t", "unet-s", "unet-b")]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4


def test_fresh_unet_is_near_identity() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        y = build_restorer("unet-tiny")(x)
    assert (y - x).abs().max() < 0.02


@pytest.mark.parametrize("name", list(TINY))
def test_arch_forward_shape_and_residual_semantics(name: str) -> None:
    args, last = TINY[name]
    torch.manual_seed(0)
    r = build_restorer(name, **args).eval()
    assert r.arch == name and r.arch_args == {**RESTORERS[name].args, **args}
    x = torch.rand(2, 3, 13, 21)  # odd size, not a multiple of anything
    with torch.no_grad():
        y = r(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    # Zeroing the last conv zeroes the residual: restored must be exactly the input
    # (a wrapper that added the input twice, or not at all, would fail here).
    conv = r.net.get_submodule(last)
    assert isinstance(conv, nn.Conv2d)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        assert torch.allclose(r(x), x, atol=1e-5)


def test_pad_multiples() -> None:
    assert build_restorer("swinir", **TINY["swinir"][0]).pad_multiple == 8
    assert build_restorer("nafnet", **TINY["nafnet"][0]).pad_multiple == 4
    u = build_restorer("uformer", **TINY["uformer"][0])
    assert u.pad_multiple == 64 and u.square


def test_pad_to_multiple_reflects_and_replicates() -> None:
    x = torch.arange(6.0).view(1, 1, 2, 3)
    p = pad_to_multiple(x, 8)
    assert p.shape[-2:] == (8, 8)
    assert torch.equal(p[..., :2, :3], x)
    assert p[0, 0, 0, 3] == x[0, 0, 0, 1]  # reflected
    assert p[0, 0, 0, 7] == p[0, 0, 0, 4]  # then replicated
    assert pad_to_multiple(x, 4, square=True).shape[-2:] == (4, 4)
    assert pad_to_multiple(x, 1) is x


def test_unknown_name_and_setting_are_user_errors() -> None:
    with pytest.raises(UserError, match="unet-s"):
        build_restorer("unet-xl")
    with pytest.raises(UserError, match="nb"):
        build_restorer("dncnn", depth=3)


def test_restormer_missing_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in [m for m in sys.modules if m.startswith("spandrel_extra_arches")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "spandrel_extra_arches", None)  # import fails
    with pytest.raises(UserError, match=r"noiseda-studio\[restormer\].*non-commercial"):
        build_restorer("restormer")
    assert "NON-COMMERCIAL" in RESTORERS["restormer"].licence
