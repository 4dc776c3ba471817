"""Exporting restorers to safetensors and loading them back (ours and spandrel's loader)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from noiseda_core import __version__
from noiseda_core.errors import UserError
from noiseda_core.export import export_restorer, load_restorer, read_metadata
from noiseda_core.nets import build_restorer

TINY = {
    "unet-tiny": {},
    "dncnn": {"nc": 8, "nb": 5},
    "nafnet": {"width": 8, "middle_blk_num": 1, "enc_blk_nums": [1, 1], "dec_blk_nums": [1, 1]},
    "swinir": {"embed_dim": 12, "depths": [2], "num_heads": [2], "img_size": 32},
    "uformer": {"embed_dim": 8, "depths": [1] * 9, "num_heads": [1] * 9, "win_size": 4},
}
SPANDREL_ID = {"dncnn": "DnCNN", "nafnet": "NAFNet", "swinir": "SwinIR", "uformer": "Uformer"}


def _perturbed(name: str):
    """A tiny restorer with non-default weights (so a round trip proves the weights travel)."""
    torch.manual_seed(1)
    r = build_restorer(name, **TINY[name])
    with torch.no_grad():
        for p in r.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return r.eval()


@pytest.mark.parametrize("name", list(TINY))
def test_round_trip_gives_identical_outputs(name: str, tmp_path: Path) -> None:
    r = _perturbed(name)
    path = tmp_path / "m.safetensors"
    export_restorer(r, path, extra_metadata={"config": "[train]\nsteps = 3\n", "task": "derain"})
    loaded = load_restorer(path)
    assert loaded.arch == name and loaded.arch_args == r.arch_args
    assert loaded.pad_multiple == r.pad_multiple and not loaded.training
    x = torch.rand(1, 3, 16, 24)
    with torch.no_grad():
        assert torch.equal(loaded(x), r(x))
    meta = read_metadata(path)
    assert meta["arch"] == name and json.loads(meta["arch_args"]) == r.arch_args
    assert meta["value_range"] == "0-1" and meta["version"] == __version__
    assert meta["task"] == "derain" and meta["config"].startswith("[train]")
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp files left


@pytest.mark.parametrize("name", list(SPANDREL_ID))
def test_spandrel_recognises_exported_file(name: str, tmp_path: Path) -> None:
    import spandrel

    r = _perturbed(name)
    path = tmp_path / "m.safetensors"
    export_restorer(r, path)
    desc = spandrel.ModelLoader().load_from_state_dict(load_file(path))
    assert desc.architecture.id == SPANDREL_ID[name]
    assert desc.scale == 1 and desc.input_channels == 3 and desc.output_channels == 3
    model = desc.model.eval()
    x = torch.rand(1, 3, 32, 32) if name != "uformer" else torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), r(x), atol=1e-6)


def test_unet_keys_are_our_own(tmp_path: Path) -> None:
    path = tmp_path / "u.safetensors"
    export_restorer(build_restorer("unet-tiny"), path)
    keys = set(load_file(path))
    assert "out.weight" in keys and "encoders.0.0.weight" in keys
    assert not any(k.startswith("net.") for k in keys)


def _expect_user_error(path: Path, match: str) -> None:
    with pytest.raises(UserError, match=match) as info:
        load_restorer(path)
    assert str(path) in str(info.value)


def test_missing_and_foreign_files(tmp_path: Path) -> None:
    _expect_user_error(tmp_path / "nope.safetensors", "not found")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"PK\x03\x04 this is a zip, not safetensors" * 10)
    _expect_user_error(junk, "not a readable safetensors")
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    _expect_user_error(plain, "no Noise-DA Studio metadata")


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "t.safetensors"
    export_restorer(build_restorer("unet-tiny"), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_user_error(path, "safetensors|cannot be read")


def test_wrong_shapes_and_unknown_arch(tmp_path: Path) -> None:
    src = tmp_path / "src.safetensors"
    export_restorer(build_restorer("unet-tiny"), src)
    meta = read_metadata(src)
    tensors = load_file(src)
    wrong = tmp_path / "wrong.safetensors"
    save_file(tensors, str(wrong), metadata={**meta, "arch_args": json.dumps({"base": 16})})
    _expect_user_error(wrong, "do not match architecture 'unet-tiny'")
    unknown = tmp_path / "unknown.safetensors"
    save_file(tensors, str(unknown), metadata={**meta, "arch": "megaformer"})
    _expect_user_error(unknown, "unknown architecture 'megaformer'")
    missing = tmp_path / "missing.safetensors"
    save_file({k: v for k, v in tensors.items() if k != "out.bias"}, str(missing), metadata=meta)
    _expect_user_error(missing, "do not match")


def test_reserved_metadata_keys_cannot_be_overridden(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved"):
        export_restorer(
            build_restorer("unet-tiny"),
            tmp_path / "x.safetensors",
            extra_metadata={"arch": "dncnn"},
        )
    assert not list(tmp_path.iterdir())
