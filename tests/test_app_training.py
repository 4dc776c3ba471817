"""Training view and runner: events reach the plot, pause/stop, crashes and kills, closing."""

from __future__ import annotations

import os
import signal

import pytest
from app_helpers import FAKE_WORKER, isolate_settings, tiny_config, tiny_project


def make_window(qtbot, tmp_path, worker=FAKE_WORKER, **env: str):
    isolate_settings(tmp_path)
    from app.main_window import MainWindow

    window = MainWindow(
        worker=worker, extra_env={k: str(v) for k, v in env.items()}, confirm_close=False
    )
    window.setup_view.runs.set_path(tmp_path / "runs")
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.fixture
def project(tmp_path):
    return tiny_project(tmp_path / "data")


def test_progress_reaches_the_plot_and_previews(qtbot, tmp_path, project):
    window = make_window(qtbot, tmp_path, FAKE_STEPS=40, FAKE_DELAY=0.005)
    with qtbot.waitSignal(window.training_done, timeout=30000) as done:
        window.start_training(tiny_config(project))
    assert not done.args[0].stopped
    view = window.training_view
    assert view.plot.point_count() >= 40 * 3  # restoration, diffusion, triplet
    assert len(view.plot.psnr) == 2
    assert view.progress.value() == view.progress.maximum() == 40
    assert [h[0] for h in view.previews.history] == [10, 20, 30, 40]
    assert not view.previews.syn_image.source().isNull()
    view.previews.slider.setValue(0)  # scrub back
    assert view.previews.shown_step == 10


def test_start_leaves_nothing_beside_the_run_folder(qtbot, tmp_path, project):
    """The worker is given the run folder's own config.toml: no stray ``<run>.toml``."""
    from noiseda_core.config import load_config
    from noiseda_core.run_folder import RunFolder

    window = make_window(qtbot, tmp_path, FAKE_STEPS=5, FAKE_DELAY=0.001)
    cfg = tiny_config(project)
    with qtbot.waitSignal(window.training_done, timeout=30000):
        run_dir = window.start_training(cfg)
    assert list((tmp_path / "runs").iterdir()) == [run_dir]
    assert run_dir.name.startswith(f"{cfg.train.mode.value}-")  # the CLI's <stem>-<date-time>
    config = RunFolder(run_dir).config_path
    assert load_config(config) == cfg
    assert window.job.log[0].split()[-5] == str(config)  # `... train CONFIG --run-dir DIR ...`


def test_pause_resume_and_stop_keep_a_checkpoint(qtbot, tmp_path, project):
    from app.jobs import JobState

    window = make_window(qtbot, tmp_path, FAKE_STEPS=100000, FAKE_DELAY=0.02)
    run_dir = window.start_training(tiny_config(project))
    job = window.job
    qtbot.waitUntil(lambda: job.last_progress is not None, timeout=15000)
    window.training_view.pause_button.click()
    assert job.state == JobState.PAUSED and window.training_view.pause_button.text() == "Resume"
    window.training_view.pause_button.click()
    assert job.state == JobState.RUNNING
    with qtbot.waitSignal(window.training_done, timeout=15000) as done:
        window.training_view.stop_button.click()
    assert done.args[0].stopped
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    assert "checkpoint was kept" in window.training_view.title.text()
    assert window.training_view.continue_button.isVisibleTo(window)


def test_crash_shows_traceback_and_resumes(qtbot, tmp_path, project):
    window = make_window(qtbot, tmp_path, FAKE_STEPS=40, FAKE_DELAY=0.002, FAKE_CRASH_AT=25)
    with qtbot.waitSignal(window.training_failed, timeout=30000) as failed:
        window.start_training(tiny_config(project))
    failure = failed.args[0]
    assert "fake crash" in failure.message and "Traceback" in failure.traceback
    panel = window.training_view.error_panel
    assert panel.isVisibleTo(window) and "fake crash" in panel.details.toPlainText()
    assert "step 24" in panel.details.toPlainText()  # the last log lines
    assert panel.resume_button.isVisibleTo(window)  # a checkpoint exists (step 20)
    window.job.extra_env["FAKE_CRASH_AT"] = "-1"
    with qtbot.waitSignal(window.training_done, timeout=30000):
        panel.resume_button.click()
    assert window.training_view.progress.value() == 40
    assert window.isVisible()


def test_killed_worker_shows_an_error_and_the_window_survives(qtbot, tmp_path, project):
    window = make_window(qtbot, tmp_path, FAKE_STEPS=100, FAKE_DELAY=0.002, FAKE_HANG_AT=3)
    window.start_training(tiny_config(project))
    qtbot.waitUntil(lambda: any("hanging now" in line for line in window.job.log), timeout=15000)
    with qtbot.waitSignal(window.training_failed, timeout=15000) as failed:
        os.kill(window.job.pid(), getattr(signal, "SIGKILL", signal.SIGTERM))
    assert "killed or crashed" in failed.args[0].message
    assert window.training_view.error_panel.isVisibleTo(window)
    assert "hanging now" in window.training_view.error_panel.details.toPlainText()
    assert window.isVisible() and window.setup_view.start_button.isEnabled()


def test_out_of_memory_and_user_errors_are_explained(qtbot, tmp_path, project):
    window = make_window(qtbot, tmp_path, FAKE_STEPS=40, FAKE_DELAY=0.002, FAKE_OOM_AT=3)
    with qtbot.waitSignal(window.training_failed, timeout=30000) as failed:
        window.start_training(tiny_config(project))
    from noiseda_core.errors import OUT_OF_MEMORY_ADVICE

    assert "ran out of memory" in failed.args[0].message
    assert failed.args[0].message.count(OUT_OF_MEMORY_ADVICE) == 1  # the core's advice, once
    window.job.extra_env = {"FAKE_USER_ERROR": "1"}
    with qtbot.waitSignal(window.training_failed, timeout=30000) as failed:
        window.start_training(tiny_config(project))
    assert failed.args[0].exit_code == 2 and "/nowhere" in failed.args[0].message


def test_a_start_the_worker_refuses_leaves_no_run_folder(qtbot, tmp_path, project):
    """The config the window wrote for the worker goes when the worker refuses it before
    writing anything: the runs folder is as before (nothing stray)."""
    window = make_window(qtbot, tmp_path, FAKE_USER_ERROR=1)
    with qtbot.waitSignal(window.training_failed, timeout=30000):
        run_dir = window.start_training(tiny_config(project))
    assert run_dir is not None and list((tmp_path / "runs").iterdir()) == []


def test_closing_while_training_stops_the_worker(qtbot, tmp_path, project):
    window = make_window(qtbot, tmp_path, FAKE_STEPS=100000, FAKE_DELAY=0.02)
    run_dir = window.start_training(tiny_config(project))
    qtbot.waitUntil(lambda: window.job.last_progress is not None, timeout=15000)
    assert not window.close()  # refused for now: it waits for the worker
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=15000)
    assert not window.job.active
    assert (run_dir / "checkpoints" / "last.pt").is_file()


def test_real_worker_trains_stops_with_checkpoint_and_resumes(qtbot, tmp_path, project):
    from app.jobs import JobState

    window = make_window(qtbot, tmp_path, worker=None)
    run_dir = window.start_training(tiny_config(project, steps=100000))
    job = window.job
    qtbot.waitUntil(lambda: job.last_progress is not None, timeout=60000)
    qtbot.waitUntil(lambda: window.training_view.plot.point_count() >= 2, timeout=30000)
    with qtbot.waitSignal(window.training_done, timeout=60000) as done:
        job.stop()
    assert done.args[0].stopped, list(job.log)
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    view = window.training_view
    # the real worker also exports model.safetensors on stop; the run can still continue
    assert view.continue_button.isVisibleTo(window) and view.restore_button.isEnabled()
    assert "ETA" not in view.stats.text()
    stopped_at = done.args[0].step
    resumed: list[object] = []
    job.started.connect(resumed.append)
    window.training_view.continue_button.click()
    qtbot.waitUntil(lambda: bool(resumed), timeout=60000)
    assert resumed[0].resumed and resumed[0].step == stopped_at
    with qtbot.waitSignal(window.training_done, timeout=60000):
        job.stop()
    assert job.state == JobState.FINISHED


def test_export_action_opens_the_export_dialog(qtbot, tmp_path, project):
    window = make_window(qtbot, tmp_path, FAKE_STEPS=20, FAKE_DELAY=0.002)
    with qtbot.waitSignal(window.training_done, timeout=30000):
        window.start_training(tiny_config(project))
    dialog = window.open_export()
    assert dialog is not None and dialog.isVisible()
    dialog.close()
