"""Hostile model metadata: impossible arch_args are refused before anything is built."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from noiseda_core.cli import main
from noiseda_core.errors import UserError
from noiseda_core.export import export_restorer, load_restorer, read_metadata
from noiseda_core.nets import build_restorer


def _with_args(tmp_path: Path, arch: str, args: dict) -> Path:
    """An exported unet-tiny whose metadata claims ``arch`` with ``args``."""
    good = tmp_path / "good.safetensors"
    export_restorer(build_restorer("unet-tiny"), good)
    meta = read_metadata(good)
    meta.update(arch=arch, arch_args=json.dumps(args))
    bad = tmp_path / "hostile.safetensors"
    save_file(load_file(str(good)), str(bad), metadata=meta)
    return bad


@pytest.mark.parametrize(
    "arch, args, needle",
    [
        ("unet-s", {"base": -1, "depth": 4}, "outside"),
        ("unet-s", {"base": 200000, "depth": 4}, "outside"),
        ("unet-s", {"base": 64, "depth": 60}, "far too large"),
        ("unet-s", {"base": 4000, "depth": 8}, "parameters"),
        ("unet-s", {"base": 64, "depth": [4] * 1000}, "entries"),
        ("unet-s", {"base": float("nan"), "depth": 4}, "outside"),
        ("swinir", {"embed_dim": 4000, "depths": [30] * 30, "num_heads": [6] * 30}, "parameters"),
        ("dncnn", {"nc": 4096, "nb": 100}, "parameters"),
    ],
)
def test_impossible_arch_args_are_refused_quickly(
    tmp_path: Path, arch: str, args: dict, needle: str
) -> None:
    path = _with_args(tmp_path, arch, args)
    began = time.perf_counter()
    with pytest.raises(UserError, match=needle) as info:
        load_restorer(path)
    assert str(path) in str(info.value) and time.perf_counter() - began < 30
    assert len(str(info.value)) < 600  # one readable line


def test_weights_of_another_architecture_give_a_short_message(tmp_path: Path) -> None:
    path = _with_args(tmp_path, "dncnn", {"nc": 8, "nb": 200})
    with pytest.raises(UserError, match="weights do not match") as info:
        load_restorer(path)
    assert len(str(info.value)) < 600


def test_restore_with_a_hostile_model_is_one_line(tmp_path: Path, capsys) -> None:
    path = _with_args(tmp_path, "unet-s", {"base": 200000, "depth": 4})
    (tmp_path / "in").mkdir()
    assert (
        main(["restore", "--model", str(path), str(tmp_path / "in"), "--out", str(tmp_path / "o")])
        == 2
    )
    err = capsys.readouterr().err
    assert "hostile.safetensors" in err and err.count("\n") == 1
