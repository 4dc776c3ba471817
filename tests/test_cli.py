"""The ``noiseda`` command as a user meets it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers import smooth_image, write_project
from PIL import Image

from noiseda_core.cli import main
from noiseda_core.export import export_restorer
from noiseda_core.nets import build_restorer


def _cli(*args: str, cwd: Path | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "noiseda_core", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        **kw,
    )


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "fresh.safetensors"
    export_restorer(build_restorer("unet-tiny"), path)
    return path


def _png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims a huge size (a decompression bomb), with no real data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )


def _odd_folder(root: Path) -> tuple[list[str], list[str]]:
    """Every kind of file a user throws at us; returns (good stems, bad names)."""
    rng = np.random.default_rng(0)
    root.mkdir()
    rgb = smooth_image(rng, 24)
    Image.fromarray(rgb).save(root / "plain.png")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(root / "deep16.png")
    Image.fromarray(rgb[..., 1]).save(root / "grey.png")
    Image.fromarray(rgb).convert("CMYK").save(root / "cmyk.jpg")
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])).save(
        root / "alpha.png"
    )
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise
    Image.fromarray(rgb[:, :12]).save(root / "rotated.jpg", exif=exif)
    (root / "empty.png").write_bytes(b"")
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (root / "huge.png").write_bytes(_png_header_claiming(40000, 40000))
    (root / "notes.txt").write_text("not an image")
    return ["plain", "deep16", "grey", "cmyk", "alpha", "rotated"], [
        "empty.png",
        "corrupt.jpg",
        "huge.png",
    ]


def test_restore_handles_every_good_file_and_names_every_bad_one(
    model: Path, tmp_path: Path
) -> None:
    good, bad = _odd_folder(tmp_path / "in")
    result = _cli(
        "restore", "--model", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "o")
    )
    assert result.returncode == 1, result.stderr  # every good file written; the bad ones named
    assert sorted(p.stem for p in (tmp_path / "o").iterdir()) == sorted(good)
    for name in bad + ["notes.txt"]:
        assert name in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    rotated = Image.open(tmp_path / "o" / "rotated.png")
    assert rotated.size == (24, 12)  # EXIF orientation applied: 12×24 stored, shown 24×12


def test_restore_exits_non_zero_only_when_nothing_was_restored(model: Path, tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"")
    result = _cli(
        "restore", "--model", str(model), str(tmp_path / "bad"), "--out", str(tmp_path / "o")
    )
    assert result.returncode == 2 and "no image could be restored" in result.stderr
    assert "x.png" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (["restore", "--model", "missing.safetensors", ".", "--out", "o"], "missing.safetensors"),
        (["train", "nothere.toml"], "config file not found"),
        (["train", "--resume", "no_run"], "run folder no_run does not exist"),
        (["export", "no_run", "--out", "m.safetensors"], "run folder not found"),
    ],
)
def test_user_errors_are_one_line_without_traceback(
    tmp_path: Path,
    args: list[str],
    needle: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and err.count("\n") == 1


def test_a_wrong_model_file_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "model.safetensors"
    fake.write_bytes(b"PK\x03\x04 a zip, maybe a pickle")
    Image.fromarray(smooth_image(np.random.default_rng(0), 16)).save(tmp_path / "a.png")
    assert (
        main(
            ["restore", "--model", str(fake), str(tmp_path / "a.png"), "--out", str(tmp_path / "o")]
        )
        == 2
    )
    assert "model.safetensors" in capsys.readouterr().err


def test_demo_data_restore_evaluate_round(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-data", str(tmp_path / "d")]) == 0
    assert (
        main(
            [
                "restore",
                "--model",
                str(model),
                str(tmp_path / "d" / "real"),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 0
    )
    assert len(list((tmp_path / "o").glob("*.png"))) == len(
        list((tmp_path / "d" / "real").iterdir())
    )
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(model),
                "--input",
                str(tmp_path / "d/real_val/input"),
                "--target",
                str(tmp_path / "d/real_val/target"),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["count"] == 6 and 10 < summary["psnr"] < 60 and 0 < summary["ssim"] <= 1


def test_ctrl_c_stops_training_cleanly_with_a_checkpoint(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p")
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\nsynthetic = "{root / "clean"}"\ndegradation = "awgn:0-50"\n'
        f'real = "{root / "real"}"\n'
        '[model]\nrestorer = "unet-tiny"\ndiffusion = "tiny"\n'
        '[train]\nsteps = 100000\nbatch = 2\npatch = 32\nlog_every = 1\ndevice = "cpu"\n'
        "preview_every = 100000\nval_every = 100000\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "noiseda_core",
            "train",
            str(config),
            "--run-dir",
            str(tmp_path / "run"),
            "--jsonl",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line)["type"] == "progress":
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    last = json.loads(out.strip().splitlines()[-1])
    assert last["type"] == "finished" and last["stopped"] is True
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
    assert (tmp_path / "run" / "model.safetensors").is_file()
    resumed = _cli("train", "--resume", str(tmp_path / "run"), "--set", "train.lr=1")
    assert resumed.returncode == 2 and "can only change train.steps" in resumed.stderr


def test_a_missing_synthetic_folder_is_the_one_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The folder is what is wrong; no note about proxy pairs before it, no run folder."""
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\nsynthetic = "{tmp_path / "nope"}"\nreal = "{tmp_path}"\n'
        '[model]\ndiffusion = "tiny"\nrestorer = "unet-tiny"\n'
        '[train]\nbatch = 2\npatch = 32\nsteps = 2\ndevice = "cpu"\n'
    )
    assert main(["train", str(config), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "proxy" not in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()
