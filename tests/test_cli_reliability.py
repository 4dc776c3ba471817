"""The command line under an unkind user and machine: nothing of the user's replaced,
honest exit codes, clean stops on SIGTERM/SIGHUP and when the app goes away."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import fake_run, smooth_image, write_project
from PIL import Image

from noiseda_core.cli import main
from noiseda_core.config import Config
from noiseda_core.cpu_advice import cpu_advice
from noiseda_core.events import Started
from noiseda_core.export import export_restorer
from noiseda_core.nets import build_restorer


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "fresh.safetensors"
    export_restorer(build_restorer("unet-tiny"), path)
    return path


def _image(path: Path, seed: int = 0, size: int = 16) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(smooth_image(np.random.default_rng(seed), size)).save(path)
    return path


# ----------------------------------------------------------------------------- restore


def test_restore_never_replaces_a_users_file_without_overwrite(
    model: Path, tmp_path: Path, capsys
) -> None:
    _image(tmp_path / "in" / "a.jpg")
    user = tmp_path / "out" / "a.png"
    _image(user, seed=5)
    before = user.read_bytes()
    args = ["restore", "--model", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already exist" in err and "a.png" in err and "--overwrite" in err
    assert user.read_bytes() == before
    assert main([*args, "--overwrite"]) == 0
    assert user.read_bytes() != before


def test_restore_keeps_a_file_another_writer_made_while_it_ran(
    model: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    from noiseda_core import policy

    for name in "abc":
        _image(tmp_path / "in" / f"{name}.jpg", seed=ord(name))
    theirs = tmp_path / "out" / "b.png"
    real_restore = policy.restore

    def restore_while_another_writes(*args, **kwargs):
        if not theirs.exists():  # a second restore into the same folder got there first
            theirs.parent.mkdir(parents=True, exist_ok=True)
            theirs.write_bytes(b"the other restore's b.png")
        return real_restore(*args, **kwargs)

    monkeypatch.setattr(policy, "restore", restore_while_another_writes)
    args = ["restore", "--model", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "out")]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert theirs.read_bytes() == b"the other restore's b.png"
    assert "b.png appeared while restoring" in captured.err and "kept" in captured.err
    assert "restored 2 image(s)" in captured.out and "1 failed" in captured.out
    assert (tmp_path / "out" / "a.png").is_file() and (tmp_path / "out" / "c.png").is_file()


def test_restore_names_colliding_stems_after_their_files(model: Path, tmp_path: Path) -> None:
    _image(tmp_path / "in" / "a.jpg")
    _image(tmp_path / "in" / "a.png", seed=1)
    assert (
        main(
            ["restore", "--model", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "out")]
        )
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg.png", "a.png"]


def test_restore_exits_non_zero_when_any_file_failed(model: Path, tmp_path: Path, capsys) -> None:
    _image(tmp_path / "in" / "good.png")
    (tmp_path / "in" / "bad.png").write_bytes(b"not a png")
    assert (
        main(
            ["restore", "--model", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "out")]
        )
        == 1
    )
    assert "bad.png" in capsys.readouterr().err
    assert (tmp_path / "out" / "good.png").is_file()


def test_restore_into_a_full_disk_fails_and_names_the_disk_not_the_images(
    model: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    import noiseda_core.atomic as atomic

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    _image(tmp_path / "in" / "a.png")
    _image(tmp_path / "in" / "b.png")
    monkeypatch.setattr(atomic.tempfile, "mkstemp", full)
    assert (
        main(
            ["restore", "--model", str(model), str(tmp_path / "in"), "--out", str(tmp_path / "out")]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "disk is full" in err and "unreadable" not in err and err.count("\n") == 1


# ----------------------------------------------------------------------------- evaluate


def test_evaluate_pairs_by_relative_path_never_across_subfolders(
    model: Path, tmp_path: Path, capsys
) -> None:
    _image(tmp_path / "input" / "a.png")
    _image(tmp_path / "input" / "sub" / "b.png", seed=2)
    _image(tmp_path / "target" / "sub" / "a.png", seed=3)  # not a's target
    _image(tmp_path / "target" / "sub" / "b.jpg", seed=2)
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(model),
                "--input",
                str(tmp_path / "input"),
                "--target",
                str(tmp_path / "target"),
                "--json",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    summary = json.loads(captured.out)  # stdout is the JSON object alone
    assert summary["count"] == 1
    assert sorted(Path(p).relative_to(tmp_path).as_posix() for p in summary["unmatched"]) == [
        "input/a.png",
        "target/sub/a.png",
    ]
    assert "PSNR" in captured.err  # the table went to stderr


def test_evaluate_refuses_ambiguous_pairs(model: Path, tmp_path: Path, capsys) -> None:
    _image(tmp_path / "input" / "a.png")
    _image(tmp_path / "target" / "a.png")
    _image(tmp_path / "target" / "a.jpg")
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(model),
                "--input",
                str(tmp_path / "input"),
                "--target",
                str(tmp_path / "target"),
            ]
        )
        == 2
    )
    assert "ambiguous" in capsys.readouterr().err


# ----------------------------------------------------------------------------- train


def test_a_gpu_sized_config_on_a_cpu_gets_advice() -> None:
    from noiseda_core.policy import Machine, first_run_config

    advice = cpu_advice(Config(), cores=2, device_type="cpu")
    cpu = first_run_config(Machine("cpu"))  # what it advises is the plan's CPU sizes
    for flag in (
        f"model.diffusion={cpu.model.diffusion}",
        f"train.patch={cpu.train.patch}",
        f"train.batch={cpu.train.batch}",
    ):
        assert advice and flag in advice
    assert "days" in advice
    tiny = cpu_advice(
        Config().__class__(train=Config().train.__class__(batch=2, patch=32, steps=100)),
        cores=2,
        device_type="cpu",
    )
    assert tiny is None or "paper" in tiny
    assert cpu_advice(Config(), cores=2, device_type="cuda") is None


def test_the_progress_bar_shows_from_the_start_and_is_cleared_at_the_end(capsys) -> None:
    from noiseda_core.train_cli import _Display

    display = _Display(jsonl=False)
    display.tty = True
    display.show(Started(step=0, total_steps=50))
    assert display.bar is not None and display.bar.total == 50 and not display.bar.leave
    display.close()
    assert display.bar is None


def _config(tmp_path: Path, steps: int = 100000) -> Path:
    root = write_project(tmp_path / "p", size=32)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[data]\nsynthetic = "{root / "clean"}"\ndegradation = "awgn:0-50"\n'
        f'real = "{root / "real"}"\n'
        '[model]\nrestorer = "unet-tiny"\ndiffusion = "tiny"\n'
        f'[train]\nsteps = {steps}\nbatch = 2\npatch = 32\nlog_every = 1\ndevice = "cpu"\n'
        "preview_every = 100000\nval_every = 100000\ncheckpoint_every = 100000\n"
    )
    return config


def _start(config: Path, run: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "noiseda_core",
            "train",
            str(config),
            "--run-dir",
            str(run),
            "--jsonl",
            *extra,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for_progress(proc: subprocess.Popen) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line)["type"] == "progress":
            return
    raise AssertionError(proc.stderr.read() if proc.stderr else "no progress")


def _last_event(run: Path) -> dict:
    return json.loads((run / "events.jsonl").read_text().strip().splitlines()[-1])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_like_ctrl_c(tmp_path: Path, signum: int) -> None:
    run = tmp_path / "run"
    proc = _start(_config(tmp_path), run)
    _wait_for_progress(proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    last = _last_event(run)
    assert last["type"] == "finished" and last["stopped"] is True
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "model.safetensors").is_file()


def test_the_worker_finishes_cleanly_when_the_app_dies(tmp_path: Path) -> None:
    """The app's end of the pipes closes (the app was killed): no BrokenPipe, no 'failed'."""
    run = tmp_path / "run"
    proc = _start(_config(tmp_path), run, "--control-stdin")
    _wait_for_progress(proc)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone: the next event write breaks the pipe
    proc.stdin.close()  # and stdin reaches its end
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert "BrokenPipe" not in err and "Traceback" not in err
    last = _last_event(run)
    assert last["type"] == "finished" and last["stopped"] is True, last
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "model.safetensors").is_file()


# ----------------------------------------------------------------------------- export


class _FakeOnnxProgram:
    """Stands in for ``torch.onnx.export``'s result: ``save`` writes a small file."""

    @staticmethod
    def export(*_args: object, **_kwargs: object) -> _FakeOnnxProgram:
        return _FakeOnnxProgram()

    def save(self, path: str) -> None:
        Path(path).write_bytes(b"onnx graph")


@pytest.mark.parametrize("fmt", ["safetensors", "onnx"])
def test_export_never_replaces_a_file_silently(
    tmp_path: Path, capsys, monkeypatch, fmt: str
) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnxscript", reason="runs where the test extra is installed (CI)")
        # the file handling is the point here; the graph is checked against onnxruntime
        # in test_onnx.py, and tracing it costs about 10 s of CPU per export
        monkeypatch.setattr("torch.onnx.export", _FakeOnnxProgram.export)
    run = fake_run(tmp_path / "run")
    photo = _image(tmp_path / "photo.png")
    before = photo.read_bytes()
    assert main(["export", str(run), "--out", str(photo), "--format", fmt]) == 2
    assert "already exists" in capsys.readouterr().err and photo.read_bytes() == before
    assert main(["export", str(run), "--out", str(run / "config.toml"), "--overwrite"]) == 2
    assert "part of the run folder" in capsys.readouterr().err
    folder = tmp_path / "models"
    folder.mkdir()
    assert main(["export", str(run), "--out", str(folder), "--format", fmt]) == 0
    assert [p.name for p in folder.iterdir()] == [f"run.{fmt}"]
    assert main(["export", str(run), "--out", str(photo), "--format", fmt, "--overwrite"]) == 0
    assert photo.read_bytes() != before
