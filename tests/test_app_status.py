"""Status that tells the truth: pause/resume headings, a running clock, no stale ETA or messages."""

from __future__ import annotations

import re

from app_helpers import FAKE_WORKER, isolate_settings, tiny_config, tiny_project


def elapsed(text: str) -> str:
    match = re.search(r"elapsed (\S+)", text)
    return match.group(1) if match else ""


def test_empty_training_view_shows_no_step_count(qtbot, tmp_path):
    isolate_settings(tmp_path)
    from app.views.training_view import TrainingView

    view = TrainingView()
    qtbot.addWidget(view)
    view.show()
    assert not view.progress.isTextVisible() or "/ 1 steps" not in view.progress.text()


def test_status_follows_pause_resume_and_stop(qtbot, tmp_path):
    isolate_settings(tmp_path)
    from app.main_window import MainWindow

    window = MainWindow(
        worker=FAKE_WORKER,
        extra_env={"FAKE_STEPS": "1000", "FAKE_DELAY": "2.5"},
        confirm_close=False,
    )
    window.setup_view.runs.set_path(tmp_path / "runs")
    qtbot.addWidget(window)
    window.show()
    view = window.training_view
    window.start_training(tiny_config(tiny_project(tmp_path / "data")))
    qtbot.waitUntil(
        lambda: window.job.last_progress is not None and "ETA" in view.stats.text(), timeout=20000
    )
    first, event = elapsed(view.stats.text()), window.job.last_progress
    qtbot.waitUntil(lambda: elapsed(view.stats.text()) != first, timeout=1800)
    assert window.job.last_progress is event  # the clock moved between events
    running_title = view.title.text()

    view.pause_button.click()
    assert "Paused" in view.title.text() and "ETA" not in view.stats.text()
    # the step under way still ends (and reports) after Pause; then nothing moves
    qtbot.waitUntil(lambda: window.job.last_progress is not event, timeout=4000)
    qtbot.wait(300)  # the numbers are redrawn at most every 100 ms
    frozen = view.stats.text()
    assert "ETA" not in frozen
    qtbot.wait(1300)
    assert view.stats.text() == frozen  # the clock stops while paused
    view.pause_button.click()  # Resume
    assert "Paused" not in view.title.text() and view.title.text() == running_title
    assert "ETA" in view.stats.text()

    with qtbot.waitSignal(window.training_done, timeout=20000):
        view.stop_button.click()
    assert "ETA" not in view.stats.text()
    assert "Training in" not in window.setup_view.status.text()
    assert "stopped" in window.setup_view.status.text()
    window.tabs.setCurrentWidget(window.restore_view)
    assert window.statusBar().currentMessage() == ""  # training news stays off the Restore page


def test_failed_run_shows_no_eta(qtbot, tmp_path):
    isolate_settings(tmp_path)
    from app.main_window import MainWindow

    window = MainWindow(
        worker=FAKE_WORKER,
        extra_env={"FAKE_STEPS": "100", "FAKE_DELAY": "0.01", "FAKE_CRASH_AT": "30"},
        confirm_close=False,
    )
    window.setup_view.runs.set_path(tmp_path / "runs")
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.training_failed, timeout=20000):
        window.start_training(tiny_config(tiny_project(tmp_path / "data")))
    assert (
        "img/s" in window.training_view.stats.text()
        and "ETA" not in window.training_view.stats.text()
    )
    assert "failed" in window.setup_view.status.text()
