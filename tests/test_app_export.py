"""The export dialog: EMA or raw weights to a .safetensors file that `noiseda restore` can use."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.export_dialog import ExportDialog
from noiseda_core.checkpoint import load_resume_state
from noiseda_core.cli import main as noiseda
from noiseda_core.export import load_restorer, read_metadata
from noiseda_core.train import train
from tests.helpers import tiny_config, write_project

WAIT = 30_000


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished three-step baseline run of unet-tiny (about a second on the CPU)."""
    root = tmp_path_factory.mktemp("export")
    project = write_project(root / "data", n_syn=2, n_real=2, n_val=1, size=40)
    cfg = tiny_config(
        project,
        "train.mode=baseline",
        "train.steps=3",
        "train.checkpoint_every=3",
        "train.val_every=100",
        "train.preview_every=100",
    )
    for _event in train(cfg, root / "run"):
        pass
    return root / "run"


def make(qtbot, run_dir: Path, **kwargs) -> ExportDialog:
    dialog = ExportDialog(None, run_dir, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_raw_weights_go_to_the_chosen_file_through_export_run(qtbot, tmp_path) -> None:
    run = tmp_path / "myrun"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"x")
    calls = []

    def fake_export(
        run_dir: Path, out: Path, weights: str = "ema", fmt: str = "safetensors"
    ) -> Path:
        calls.append((run_dir, out, weights, fmt))
        out.write_bytes(b"model")
        return out

    dialog = make(qtbot, run, export_fn=fake_export)
    assert dialog.output() == tmp_path / "myrun-ema.safetensors"
    dialog.set_weights("raw")
    assert dialog.output() == tmp_path / "myrun-raw.safetensors", (
        "the default name follows the weights"
    )
    dialog.set_output(tmp_path / "picked")
    dialog.set_weights("ema")
    dialog.set_weights("raw")
    assert dialog.output() == tmp_path / "picked.safetensors", "a chosen name is kept, suffix added"
    with qtbot.waitSignal(dialog.exported, timeout=WAIT) as blocker:
        assert dialog.export()
    assert calls == [(run, tmp_path / "picked.safetensors", "raw", "safetensors")]
    assert blocker.args == [str(tmp_path / "picked.safetensors")]
    assert "Wrote" in dialog.banner.text() and dialog.isVisible()


def test_a_failed_export_is_shown_in_the_dialog(qtbot, tmp_path) -> None:
    from noiseda_core.errors import UserError

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"x")

    def broken(*_args, **_kwargs) -> Path:
        raise UserError(f"checkpoint {run}/checkpoints/last.pt cannot be read")

    dialog = make(qtbot, run, export_fn=broken)
    with qtbot.waitSignal(dialog.failed, timeout=WAIT) as blocker:
        dialog.export()
    assert "cannot be read" in blocker.args[0] and "cannot be read" in dialog.banner.text()
    assert dialog.export_button.isEnabled(), "the user can try again"


def test_a_run_without_checkpoint_cannot_be_exported(qtbot, tmp_path) -> None:
    dialog = make(qtbot, tmp_path, export_fn=lambda *a, **k: pytest.fail("must not export"))
    assert not dialog.export_button.isEnabled() and "no checkpoint" in dialog.note.text()
    with qtbot.waitSignal(dialog.failed, timeout=WAIT):
        assert not dialog.export()


def test_the_exported_file_loads_and_restores_with_the_cli(
    qtbot, run_dir, tmp_path, capsys
) -> None:
    out = tmp_path / "exported.safetensors"
    dialog = make(qtbot, run_dir)
    dialog.set_weights("raw")
    dialog.set_output(out)
    with qtbot.waitSignal(dialog.exported, timeout=WAIT):
        dialog.export()
    model = load_restorer(out)
    assert model.arch == "unet-tiny"
    meta = read_metadata(out)
    assert meta["weights"] == "raw" and meta["step"] == str(load_resume_state(run_dir)["step"])
    image = next((run_dir.parent / "data" / "real").iterdir())
    assert noiseda(["restore", "--model", str(out), str(image), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / f"{image.stem}.png").is_file()


def test_typing_a_onnx_name_writes_onnx_that_onnxruntime_runs(qtbot, run_dir, tmp_path) -> None:
    ort = pytest.importorskip("onnxruntime", reason="runs where the test extra is installed (CI)")
    pytest.importorskip("onnxscript", reason="runs where the test extra is installed (CI)")
    import numpy as np

    dialog = make(qtbot, run_dir)
    assert dialog.onnx_radio.isEnabled() and not dialog.onnx_hint.isVisible()
    dialog.out_edit.clear()
    qtbot.keyClicks(dialog.out_edit, str(tmp_path / "adapted.onnx"))
    assert dialog.onnx_radio.isChecked(), "the typed name chooses the format"
    with qtbot.waitSignal(dialog.exported, timeout=120_000) as blocker:
        assert dialog.export()
    assert blocker.args == [str(tmp_path / "adapted.onnx")]
    assert [p.name for p in tmp_path.iterdir()] == ["adapted.onnx"]
    session = ort.InferenceSession(str(tmp_path / "adapted.onnx"))
    out = session.run(None, {"input": np.random.rand(1, 3, 24, 40).astype(np.float32)})[0]
    assert out.shape == (1, 3, 24, 40)


def test_the_format_choice_sets_the_suffix(qtbot, tmp_path, monkeypatch) -> None:
    from app import export_dialog

    monkeypatch.setattr(export_dialog, "onnx_available", lambda: True)
    run = tmp_path / "myrun"
    dialog = make(qtbot, run, export_fn=lambda *a, **k: pytest.fail("must not export"))
    dialog.set_format("onnx")
    assert dialog.output() == tmp_path / "myrun-ema.onnx"
    dialog.set_weights("raw")
    assert dialog.output() == tmp_path / "myrun-raw.onnx"
    dialog.set_output(tmp_path / "picked")
    assert dialog.output() == tmp_path / "picked.onnx"
    dialog.set_format("safetensors")
    assert dialog.output() == tmp_path / "picked.safetensors"


def test_without_the_onnx_extra_the_dialog_says_how_to_get_it(qtbot, tmp_path, monkeypatch) -> None:
    from app import export_dialog

    monkeypatch.setattr(export_dialog, "onnx_available", lambda: False)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"x")
    dialog = make(qtbot, run, export_fn=lambda *a, **k: pytest.fail("must not export"))
    assert not dialog.onnx_radio.isEnabled()
    assert dialog.onnx_hint.isVisible()
    assert 'pip install "noiseda-studio[onnx]"' in dialog.onnx_hint.text()
    dialog.set_output(tmp_path / "adapted.onnx")
    assert not dialog.export_button.isEnabled()
    assert "noiseda-studio[onnx]" in dialog.note.text()
