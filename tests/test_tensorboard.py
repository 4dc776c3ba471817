"""TensorBoard events in the run folder: every loss term, λ, lr, images/s, validation, previews."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import tiny_config, write_project

from noiseda_core.run_folder import RunFolder
from noiseda_core.train import train

pytest.importorskip("tensorboard", reason="runs where the test extra is installed (CI)")


def _read(log_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def test_a_run_writes_tensorboard_events_that_read_back(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", size=32)
    list(
        train(
            tiny_config(project, "train.steps=4", "train.val_every=2", "train.preview_every=4"),
            tmp_path / "run",
        )
    )
    acc = _read(RunFolder(tmp_path / "run").tensorboard_path)
    tags = acc.Tags()
    for tag in (
        "train/loss_total",
        "train/loss_res",
        "train/loss_dif",
        "train/lambda",
        "train/lr",
        "train/images_per_s",
        "val/psnr",
        "val/ssim",
    ):
        assert tag in tags["scalars"], tag
    assert [e.step for e in acc.Scalars("train/loss_res")] == [1, 2, 3, 4]
    assert [e.step for e in acc.Scalars("val/psnr")] == [2, 4]
    assert any(tag.startswith("preview/real_") for tag in tags["images"])
    assert "preview/synthetic" in tags["images"]


def test_tensorboard_can_be_switched_off(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NOISEDA_TENSORBOARD", "0")
    from noiseda_core.config import Config

    folder = RunFolder.create(tmp_path / "run", Config())
    folder.close()
    assert folder.sinks == [] and not (RunFolder(tmp_path / "run").tensorboard_path).exists()
