"""Each input that used to print a traceback, hang or mislead now gets one clear line:
exit status 2 and no traceback, or a note where training can go on (issue 20)."""

from __future__ import annotations

import json
import math
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import fake_run, smooth_image, write_project
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from noiseda_core import bench
from noiseda_core.cli import main
from noiseda_core.config import Config, DataConfig, apply_overrides, load_config
from noiseda_core.data import TrainData
from noiseda_core.errors import UserError
from noiseda_core.evaluate import EvaluationReport, PairScore
from noiseda_core.export import export_restorer, load_restorer
from noiseda_core.nets import build_restorer
from noiseda_core.nets.foreign import read_weights
from noiseda_core.run_folder import RunFolder


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "fresh.safetensors"
    export_restorer(build_restorer("unet-tiny"), path)
    return path


def _rewrite(
    model: Path, out: Path, *, metadata: dict | None = None, poison: float | None = None
) -> Path:
    """A copy of ``model`` with changed metadata, or one weight filled with ``poison``."""
    with safe_open(str(model), framework="pt") as handle:
        meta = dict(handle.metadata())
    state = load_file(str(model))
    if poison is not None:
        key = next(k for k, v in state.items() if v.is_floating_point())
        state[key] = torch.full_like(state[key], poison)
    save_file(state, str(out), metadata={**meta, **(metadata or {})})
    return out


def _images(folder: Path, n: int = 1, size: int = 16) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(smooth_image(np.random.default_rng(i), size)).save(folder / f"{i}.png")
    return folder


def _refused(capsys, args: list[str], *words: str) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


# ------------------------------------------------------------------ item 10


def test_deeply_nested_arch_args_are_refused(model: Path, tmp_path: Path, capsys) -> None:
    deep = _rewrite(
        model,
        tmp_path / "deep.safetensors",
        metadata={"arch_args": '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"},
    )
    _refused(
        capsys,
        [
            "restore",
            "--model",
            str(deep),
            str(_images(tmp_path / "in")),
            "--out",
            str(tmp_path / "out"),
        ],
        "arch_args",
        "nested too deeply",
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("seed", ["99999999999999999999999", "4294967296", "-1"])
def test_a_seed_out_of_range_is_refused_before_training(seed: str) -> None:
    with pytest.raises(UserError, match=f"train.seed: must be 0 to 4294967295, got {seed}$"):
        apply_overrides(Config(), [f"train.seed={seed}"])


def test_export_under_a_regular_file_is_refused(tmp_path: Path, capsys) -> None:
    run = fake_run(tmp_path / "run")
    (tmp_path / "plain").write_text("a file")
    _refused(
        capsys,
        ["export", str(run), "--out", str(tmp_path / "plain" / "m.safetensors")],
        "plain is a file, not a folder",
    )
    _refused(
        capsys,
        ["export", str(run), "--out", str(tmp_path / "plain" / "a" / "m.safetensors")],
        "plain is a file, not a folder",
    )
    assert (tmp_path / "plain").read_text() == "a file"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux, as in CI)")
def test_export_into_proc_is_refused(tmp_path: Path, capsys) -> None:
    run = fake_run(tmp_path / "run")
    _refused(
        capsys,
        ["export", str(run), "--out", "/proc/noiseda-model.safetensors"],
        "cannot write /proc/noiseda-model.safetensors",
        "choose another place",
    )


def test_bench_refuses_restore_sizes_before_allocating(monkeypatch, capsys) -> None:
    def never(*args, **kwargs):
        raise AssertionError("bench timed something it should have refused")

    monkeypatch.setattr(bench, "time_restore", never)
    monkeypatch.setattr(bench, "time_train_step", never)
    _refused(
        capsys,
        ["bench", "--device", "cpu", "--skip-train", "--restore-sizes=100000"],
        "--restore-sizes",
        "100000",
        "megapixels",
    )


# --------------------------------------------------------------- small ones


@pytest.mark.parametrize("flag", ["--batch", "--steps"])
def test_bench_refuses_a_zero_batch_or_steps(flag: str, monkeypatch, capsys) -> None:
    def never(*args, **kwargs):
        raise AssertionError("bench ran with a value it should have refused")

    monkeypatch.setattr(bench, "time_restore", never)
    monkeypatch.setattr(bench, "time_train_step", never)
    _refused(capsys, ["bench", "--device", "cpu", flag, "0"], f"{flag} 0", "at least 1")


def test_evaluate_json_is_strict_json(monkeypatch, capsys) -> None:
    report = EvaluationReport(model="m", scores=[PairScore("a", math.inf, 1.0, math.nan, 0.5)])
    monkeypatch.setattr("noiseda_core.evaluate.evaluate_folders", lambda *a, **k: report)
    assert main(["evaluate", "--model", "m", "--input", "i", "--target", "t", "--json"]) == 0

    def no_constants(name: str):
        raise AssertionError(f"{name} is not JSON")

    summary = json.loads(capsys.readouterr().out, parse_constant=no_constants)
    assert summary["psnr"] is None and summary["psnr_input"] is None
    assert summary["ssim"] == 1.0 and summary["count"] == 1


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_model_with_non_finite_weights_is_refused(
    model: Path, tmp_path: Path, capsys, value: float
) -> None:
    bad = _rewrite(model, tmp_path / "bad.safetensors", poison=value)
    with pytest.raises(UserError, match="NaN or infinite"):
        load_restorer(bad)
    _refused(
        capsys,
        [
            "restore",
            "--model",
            str(bad),
            str(_images(tmp_path / "in")),
            "--out",
            str(tmp_path / "out"),
        ],
        "bad.safetensors",
        "NaN or infinite",
    )
    assert not (tmp_path / "out").exists()


class _Payload:
    def __reduce__(self):
        return (os.getcwd, ())


def test_a_refused_pickle_leaks_no_torch_warning(tmp_path: Path) -> None:
    plain_pickle = tmp_path / "plain.pth"
    plain_pickle.write_bytes(pickle.dumps({"w": _Payload()}, protocol=4))
    script = tmp_path / "script.pth"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(torch.nn.Linear(2, 2)).save(str(script))
    for path in (plain_pickle, script):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(UserError, match="refused to load"):
                read_weights(path)
        assert [str(w.message) for w in caught] == []


def test_a_run_folder_holding_only_desktop_junk_counts_as_empty(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / ".DS_Store").write_bytes(b"\0Bud1")
    (run / "Thumbs.db").write_bytes(b"junk")
    folder = RunFolder.create(run, Config())
    folder.close()
    assert (run / "config.toml").is_file() and (run / ".DS_Store").read_bytes() == b"\0Bud1"


def test_a_fifo_config_or_model_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        load_config(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        load_restorer(fifo)


def test_the_small_image_note_never_asks_for_a_patch_below_16(tmp_path: Path) -> None:
    root = write_project(tmp_path, n_syn=2, n_real=2, n_val=1, size=12)
    cfg = DataConfig(
        synthetic=str(root / "clean"), degradation="awgn:0-50", real=str(root / "real")
    )
    notes = " ".join(TrainData(cfg, patch=32, seed=0).notes)
    assert "smaller than train.patch 32" in notes
    assert "at most 12" not in notes and "at least 16 px" in notes


def test_a_real_folder_that_is_the_validation_folder_gets_a_warning(tmp_path: Path) -> None:
    root = write_project(tmp_path, n_syn=2, n_real=2, n_val=1, size=32)
    base = {"synthetic": str(root / "clean"), "degradation": "awgn:0-50"}
    apart = TrainData(
        DataConfig(**base, real=str(root / "real"), val=str(root / "val")), patch=16, seed=0
    )
    assert not any("validation" in note for note in apart.notes)
    for real in (root / "val", root / "val" / "input"):
        same = TrainData(
            DataConfig(**base, real=str(real), val=str(root / "val")), patch=16, seed=0
        )
        assert any("data.val" in note and "held-out" in note for note in same.notes), same.notes
