"""When a warm-started run ends: Restore compares "before adaptation" ↔ "after adaptation"
on a real image; the Training page shows input / starting-model / adapted PSNR."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import isolate_settings, tiny_project

from noiseda_core.config import Config, DataConfig, ModelConfig, save_config
from noiseda_core.events import Finished, Validation


def _finished_run(tmp_path: Path, init: str) -> Path:
    """A run folder as a warm-started run leaves it: config, exported model, data."""
    from noiseda_core.export import export_restorer
    from noiseda_core.nets import build_restorer

    project = tiny_project(tmp_path / "p")
    export_restorer(build_restorer("unet-tiny"), tmp_path / "start.safetensors")
    run = tmp_path / "run"
    run.mkdir()
    cfg = Config(
        data=DataConfig(
            synthetic=str(project["synthetic"]), real=str(project["real"]), val=str(project["val"])
        ),
        model=ModelConfig(restorer="unet-tiny", init_restorer=init),
    )
    save_config(cfg, run / "config.toml")
    export_restorer(build_restorer("unet-tiny"), run / "model.safetensors")
    return run


def test_the_plan_names_the_adapted_model_the_start_and_a_real_image(tmp_path: Path) -> None:
    from app.before_after import before_after

    run = _finished_run(tmp_path, str(tmp_path / "start.safetensors"))
    plan = before_after(run)
    assert plan is not None
    assert (
        plan.adapted == run / "model.safetensors" and plan.start == tmp_path / "start.safetensors"
    )
    assert plan.image == tmp_path / "p" / "val" / "input" / "000.png"
    scratch = _finished_run(tmp_path / "s", "")
    assert before_after(scratch) is None  # from scratch: nothing to compare with
    assert before_after(tmp_path / "nowhere") is None
    assert (
        before_after(_finished_run(tmp_path / "b", "builtin:unet-t")).start.name
        == "unet-t.safetensors"
    )


def test_a_finished_warm_run_opens_the_before_after_compare(qtbot, tmp_path: Path) -> None:
    isolate_settings(tmp_path)
    from app.main_window import MainWindow

    window = MainWindow(confirm_close=False)
    qtbot.addWidget(window)
    window.run_dir = _finished_run(tmp_path, str(tmp_path / "start.safetensors"))
    view = window.restore_view
    with qtbot.waitSignal(view.restored, timeout=60000):
        window._job_finished(Finished(step=5, model=str(window.run_dir / "model.safetensors")))
    qtbot.waitUntil(
        lambda: len(view._models()) == 2 and view.compare.labels()[1] != "", timeout=60000
    )
    assert window.tabs.currentWidget() is view
    qtbot.waitUntil(
        lambda: view.compare.labels() == ("B: before adaptation", "A: after adaptation"),
        timeout=60000,
    )
    assert view.model().path == window.run_dir / "model.safetensors"  # Save / Restore all use it
    assert view.current_source().name == "000.png"


def test_a_run_that_kept_its_start_says_both_sides_are_the_same_weights(
    qtbot, tmp_path: Path
) -> None:
    from app.before_after import AFTER_KEPT_START, before_after
    from noiseda_core.run_folder import RunFolder

    isolate_settings(tmp_path)
    run = _finished_run(tmp_path, str(tmp_path / "start.safetensors"))
    assert before_after(run).after_caption == "after adaptation"  # no end logged yet
    folder = RunFolder(run)
    folder.append_event(Finished(step=6, kept="start", kept_step=0, kept_psnr=27.5))
    folder.close()
    plan = before_after(run)
    assert plan.kept_start and plan.after_caption == AFTER_KEPT_START
    from app.main_window import MainWindow

    window = MainWindow(confirm_close=False)
    qtbot.addWidget(window)
    assert window.open_before_after(run)
    view = window.restore_view
    qtbot.waitUntil(
        lambda: view.compare.labels() == ("B: before adaptation", f"A: {AFTER_KEPT_START}"),
        timeout=60000,
    )


@pytest.mark.parametrize("start", [23.1, None])
def test_the_score_line_shows_the_three_numbers(qtbot, start: float | None) -> None:
    from app.widgets.score_line import ScoreLine

    line = ScoreLine()
    qtbot.addWidget(line)
    assert not line.isVisibleTo(line.parentWidget() or line) or line.text() == ""
    line.add_validation(
        Validation(
            step=300,
            psnr=24.0,
            ssim=0.7,
            psnr_input=21.7,
            count=6,
            psnr_start=start,
            ssim_start=0.6 if start else None,
        )
    )
    text = line.text()
    assert "21.70 dB" in text and "24.00 dB" in text and "6 real validation pairs" in text
    if start is None:
        assert "starting model" not in text
    else:
        assert "starting model <b>23.10 dB</b>" in text and "+0.90 dB" in text


def test_runs_open_in_restore_gives_the_same_before_after(qtbot, tmp_path: Path) -> None:
    isolate_settings(tmp_path)
    from app import settings
    from app.main_window import MainWindow

    run = _finished_run(tmp_path, str(tmp_path / "start.safetensors"))
    settings.put("setup/runs", str(tmp_path))
    window = MainWindow(confirm_close=False)
    qtbot.addWidget(window)
    window.show()
    runs = window.runs_view
    with qtbot.waitSignal(runs.refreshed, timeout=30000):
        window.tabs.setCurrentWidget(runs)
    runs.select(run)
    assert runs.restore_button.isEnabled()
    view = window.restore_view
    with qtbot.waitSignal(view.restored, timeout=60000):
        runs.restore_button.click()
    assert window.tabs.currentWidget() is view
    qtbot.waitUntil(
        lambda: view.compare.labels() == ("B: before adaptation", "A: after adaptation"),
        timeout=60000,
    )
    assert view.model().path == run / "model.safetensors"
    assert view.second_model().path == tmp_path / "start.safetensors"
    assert view.current_source().path == tmp_path / "p" / "val" / "input" / "000.png"
