"""Models given by name: ``builtin:NAME`` wherever a model is taken, and export formats
that follow the file name (``m.onnx`` is ONNX, never a safetensors file named .onnx)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from helpers import fake_run, smooth_image
from PIL import Image

from noiseda_core.cli import main
from noiseda_core.export import read_metadata


def _image(path: Path, seed: int = 0, size: int = 16) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(smooth_image(np.random.default_rng(seed), size)).save(path)
    return path


def test_export_to_a_onnx_name_writes_onnx(tmp_path: Path, monkeypatch) -> None:
    """The exporter itself is checked against onnxruntime in test_onnx.py and, from the
    app's dialog, in test_app_export.py; here only the choice of format is."""
    from noiseda_core import onnx_export

    written = []

    def fake_export_onnx(restorer, out: Path, **_: object) -> Path:
        written.append((restorer.arch, Path(out)))
        Path(out).write_bytes(b"onnx")
        return Path(out)

    monkeypatch.setattr(onnx_export, "export_onnx", fake_export_onnx)
    run = fake_run(tmp_path / "run")
    assert main(["export", str(run), "--out", str(tmp_path / "m.onnx")]) == 0
    assert written == [("unet-tiny", tmp_path / "m.onnx")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "run"]


def test_export_refuses_a_format_the_name_contradicts(tmp_path: Path, capsys) -> None:
    run = fake_run(tmp_path / "run")
    assert (
        main(["export", str(run), "--out", str(tmp_path / "m.onnx"), "--format", "safetensors"])
        == 2
    )
    err = capsys.readouterr().err
    assert "m.onnx" in err and "onnx" in err and "safetensors" in err and "Traceback" not in err
    assert (
        main(["export", str(run), "--out", str(tmp_path / "m.safetensors"), "--format", "onnx"])
        == 2
    )
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "m.safetensors").exists()
    assert main(["export", str(run), "--out", str(tmp_path / "m.safetensors")]) == 0
    assert read_metadata(tmp_path / "m.safetensors")["arch"] == "unet-tiny"


def test_evaluate_and_restore_take_a_builtin_model(tmp_path: Path, capsys) -> None:
    for i in range(2):
        _image(tmp_path / "in" / f"{i}.png", seed=i)
        _image(tmp_path / "gt" / f"{i}.png", seed=i + 10)
    assert (
        main(
            [
                "evaluate",
                "--model",
                "builtin:unet-t",
                "--input",
                str(tmp_path / "in"),
                "--target",
                str(tmp_path / "gt"),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["count"] == 2
    assert (
        main(
            [
                "restore",
                "--model",
                "builtin:unet-t",
                str(tmp_path / "in"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "1.png"]
    assert (
        main(
            [
                "evaluate",
                "--model",
                "builtin:nope",
                "--input",
                str(tmp_path / "in"),
                "--target",
                str(tmp_path / "gt"),
            ]
        )
        == 2
    )
    assert "builtin:unet-t" in capsys.readouterr().err, "a wrong name lists the ones there are"


def test_export_writes_a_builtin_model(tmp_path: Path) -> None:
    assert main(["export", "builtin:unet-t", "--out", str(tmp_path)]) == 0
    assert read_metadata(tmp_path / "unet-t.safetensors")["arch"] == "unet-t"
