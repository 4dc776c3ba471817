"""Bring your own model: other tools' restorer files are adapted and exported in their own layout.

Each file is built here, from spandrel's own classes at a tiny size, in the layout the
architecture's authors publish (no downloads): load → adapt a few steps → export →
spandrel's ``ModelLoader`` opens the export and it restores.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
import spandrel
import torch
from helpers import tiny_config, write_project
from safetensors.torch import load_file, save_file
from torch import nn

from noiseda_core.errors import UserError
from noiseda_core.events import Finished
from noiseda_core.export import load_restorer
from noiseda_core.nets.foreign import load_foreign_restorer
from noiseda_core.train import train


def _dncnn() -> nn.Module:
    from spandrel.architectures.DnCNN import DnCNN

    return DnCNN(in_nc=3, out_nc=3, nc=8, nb=4, act_mode="BR", mode="DnCNN")


def _drunet() -> nn.Module:
    from spandrel.architectures.DRUNet import DRUNet

    return DRUNet(in_nc=4, out_nc=3, nc=[8, 16, 32, 64], nb=2)  # RGB + noise-level map


def _nafnet() -> nn.Module:
    from spandrel.architectures.NAFNet import NAFNet

    return NAFNet(
        img_channel=3, width=8, middle_blk_num=1, enc_blk_nums=[1, 1], dec_blk_nums=[1, 1]
    )


def _swinir() -> nn.Module:
    from spandrel.architectures.SwinIR import SwinIR

    return SwinIR(
        img_size=32,
        patch_size=1,
        in_chans=3,
        embed_dim=12,
        depths=[1],
        num_heads=[2],
        window_size=8,
        mlp_ratio=2.0,
        upscale=1,
        img_range=1.0,
        upsampler="",
        resi_connection="1conv",
    )


def _scunet() -> nn.Module:
    from spandrel.architectures.SCUNet import SCUNet

    return SCUNet(in_nc=3, config=[1, 1, 1, 1, 1, 1, 1], dim=64)  # head_dim 32 = dim / 2


ARCHS: dict[str, tuple[Callable[[], nn.Module], str, str]] = {
    # name: (factory, spandrel id, how its authors ship it)
    "DnCNN": (_dncnn, "DnCNN", "pth"),
    "DRUNet": (_drunet, "DRUNet", "pth"),
    "NAFNet": (_nafnet, "NAFNet", "pth-params"),  # BasicSR: {"params": state_dict}
    "SwinIR": (_swinir, "SwinIR", "pth-params_ema"),
    "SCUNet": (_scunet, "SCUNet", "safetensors"),
}


def _write_native(net: nn.Module, layout: str, path: Path) -> Path:
    state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    if layout == "safetensors":
        path = path.with_suffix(".safetensors")
        save_file(state, str(path))
        return path
    path = path.with_suffix(".pth")
    if layout.startswith("pth-"):
        state = {layout[4:]: state}
    torch.save(state, path)
    return path


@pytest.mark.parametrize("name", list(ARCHS))
def test_a_community_model_adapts_and_exports_in_its_own_layout(name: str, tmp_path: Path) -> None:
    factory, arch_id, layout = ARCHS[name]
    torch.manual_seed(0)
    source = factory()
    original = {k: v.clone() for k, v in source.state_dict().items()}
    path = _write_native(source, layout, tmp_path / name.lower())

    project = write_project(tmp_path / "p", size=64)
    cfg = tiny_config(
        project,
        "train.steps=2",
        "train.patch=64",
        "train.batch=1",
        "train.val_every=100",
        "train.preview_every=100",
        "train.lr=1e-3",
        f"model.init_restorer={path}",
        "train.keep_best=off",
    )  # the trained weights, not a kept start
    events = list(train(cfg, tmp_path / "run"))
    assert isinstance(events[-1], Finished) and not events[-1].stopped

    exported = tmp_path / "run" / "model.safetensors"
    state = load_file(exported)
    assert set(state) == set(original)  # the architecture's own key layout
    assert any(
        not torch.equal(state[k], original[k]) for k in original if original[k].is_floating_point()
    )
    desc = spandrel.ModelLoader().load_from_file(exported)  # what chaiNNer / ComfyUI do
    assert desc.architecture.id == arch_id and desc.scale == 1
    x = torch.rand(1, 3, 64, 64)
    out = desc(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    # and it opens in our restore view / CLI as well
    assert load_restorer(exported).arch == f"spandrel:{arch_id}"


def test_our_restorer_from_a_run_is_a_starting_point_too(tmp_path: Path) -> None:
    from noiseda_core.export import export_restorer
    from noiseda_core.nets import build_restorer

    export_restorer(build_restorer("unet-tiny"), tmp_path / "ours.safetensors")
    restorer = load_restorer(tmp_path / "ours.safetensors")
    assert restorer.arch == "unet-tiny"


class _Payload:
    def __reduce__(self):  # what a malicious file would do
        return (print, ("pwned",))


def test_pickled_code_is_refused_not_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as handle:
        pickle.dump({"weight": _Payload()}, handle)
    with pytest.raises(UserError, match="never unpickles") as info:
        load_foreign_restorer(evil)
    assert str(evil) in str(info.value)
    assert "pwned" not in capsys.readouterr().out


def test_models_that_are_not_colour_restorers_are_refused(tmp_path: Path) -> None:
    from spandrel.architectures.DnCNN import DnCNN
    from spandrel.architectures.SwinIR import SwinIR

    grey = tmp_path / "grey.safetensors"
    save_file(DnCNN(in_nc=1, out_nc=1, nc=8, nb=4).state_dict(), str(grey))
    with pytest.raises(UserError, match="colour"):
        load_foreign_restorer(grey)
    upscaler = SwinIR(
        img_size=32,
        embed_dim=12,
        depths=[1],
        num_heads=[2],
        window_size=8,
        upscale=2,
        upsampler="pixelshuffledirect",
    )
    up = tmp_path / "x2.safetensors"
    save_file({k: v.contiguous() for k, v in upscaler.state_dict().items()}, str(up))
    with pytest.raises(UserError, match="upscaling"):
        load_foreign_restorer(up)
    unknown = tmp_path / "unknown.safetensors"
    save_file({"w": torch.zeros(2)}, str(unknown))
    with pytest.raises(UserError, match="spandrel"):
        load_foreign_restorer(unknown)
