"""Files the app writes get the user's usual mode (0o666 less the umask), not 0o600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from app.export_dialog import ExportDialog
from noiseda_core.train import train
from tests.helpers import tiny_config, write_project

WAIT = 30_000


@pytest.fixture
def umask_002():
    old = os.umask(0o002)
    yield 0o002
    os.umask(old)


def test_an_exported_model_and_the_run_files_follow_the_umask(
    qtbot, tmp_path: Path, umask_002: int
) -> None:
    project = write_project(tmp_path / "data", n_syn=2, n_real=2, n_val=1, size=32)
    cfg = tiny_config(
        project,
        "train.mode=baseline",
        "train.steps=2",
        "train.checkpoint_every=2",
        "train.val_every=100",
        "train.preview_every=100",
    )
    list(train(cfg, tmp_path / "run"))
    dialog = ExportDialog(None, tmp_path / "run")
    qtbot.addWidget(dialog)
    dialog.show()
    out = tmp_path / "shared.safetensors"
    dialog.set_output(out)
    with qtbot.waitSignal(dialog.exported, timeout=WAIT):
        dialog.export()
    expected = 0o666 & ~umask_002  # 0o664: the group may read and write, as the user wants
    for path in (
        out,
        tmp_path / "run" / "config.toml",
        tmp_path / "run" / "model.safetensors",
        tmp_path / "run" / "checkpoints" / "last.pt",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
