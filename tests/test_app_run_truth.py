"""The app tells the truth about a run: Stop answers at once, a run cut short by its
time budget says so and trains longer, a run of minutes has no made-up length, plots
that read cleanly."""

from __future__ import annotations

import re
from dataclasses import replace
from itertools import pairwise

from app_helpers import FAKE_WORKER, isolate_settings, tiny_config, tiny_project

from noiseda_core.events import Finished, Progress, Started, Validation


def make_window(qtbot, tmp_path, **env: object):
    isolate_settings(tmp_path)
    from app.main_window import MainWindow

    window = MainWindow(
        worker=FAKE_WORKER, extra_env={k: str(v) for k, v in env.items()}, confirm_close=False
    )
    window.setup_view.runs.set_path(tmp_path / "runs")
    qtbot.addWidget(window)
    window.show()
    return window


def test_stop_says_what_it_is_doing_at_once(qtbot, tmp_path):
    from app.views.training_view import STOPPING_TEXT

    window = make_window(qtbot, tmp_path, FAKE_STEPS=100000, FAKE_DELAY=0.02)
    window.start_training(tiny_config(tiny_project(tmp_path / "data")))
    qtbot.waitUntil(lambda: window.job.last_progress is not None, timeout=15000)
    view = window.training_view
    with qtbot.waitSignal(window.training_done, timeout=15000):
        view.stop_button.click()
        assert view.title.text() == STOPPING_TEXT  # before the worker has answered
        assert not view.stop_button.isEnabled()
    assert "checkpoint was kept" in view.title.text()


def test_a_run_cut_short_says_so_and_trains_longer(qtbot, tmp_path):
    from PySide6.QtWidgets import QInputDialog

    window = make_window(qtbot, tmp_path, FAKE_STEPS=20, FAKE_DELAY=0.002, FAKE_PLANNED=30)
    view = window.training_view
    with qtbot.waitSignal(window.training_done, timeout=30000):
        run_dir = window.start_training(tiny_config(tiny_project(tmp_path / "data")))
    assert (view.progress.value(), view.progress.maximum()) == (20, 30)  # not "20 / 20"
    assert "time ran out" in view.title.text() and "30 planned steps" in view.title.text()
    assert view.longer_button.isVisibleTo(window) and not view.continue_button.isVisibleTo(window)
    view.longer_button.click()
    dialog = window.findChild(QInputDialog)
    assert dialog is not None and dialog.isVisible() and dialog.intValue() == 10  # to the plan
    with qtbot.waitSignal(window.training_done, timeout=30000) as done:
        dialog.setIntValue(15)
        dialog.accept()
    assert done.args[0].step == 35 and view.progress.value() == 35
    assert "--set train.steps=35" in "\n".join(window.job.log)  # only the step count changes
    assert window.job.run_dir == run_dir


def test_a_finished_run_on_the_runs_page_offers_train_longer(qtbot, tmp_path):
    from PySide6.QtWidgets import QInputDialog

    from app import settings
    from noiseda_core.config import save_config

    window = make_window(qtbot, tmp_path)
    run = tmp_path / "runs" / "20260101-120000-noise-da"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_text("20")
    save_config(tiny_config(tiny_project(tmp_path / "data")), run / "config.toml")
    events = [
        Started(step=0, total_steps=20),
        Progress(step=20, total_steps=20),
        Finished(step=20, model=str(run / "model.safetensors")),
    ]
    (run / "events.jsonl").write_text("".join(e.to_json() + "\n" for e in events))
    settings.put("setup/runs", str(tmp_path / "runs"))
    panel = window.runs_view
    with qtbot.waitSignal(panel.refreshed, timeout=15000):
        window.tabs.setCurrentWidget(panel)
    panel.select(run)
    assert panel.continue_button.text() == "Train longer…" and panel.continue_button.isEnabled()
    panel.continue_button.click()
    dialog = window.findChild(QInputDialog)
    assert dialog is not None and dialog.isVisible() and "step 20" in dialog.labelText()
    assert window.training_view.longer_button.isVisibleTo(window)
    dialog.reject()


def test_no_flag_is_named_in_the_apps_advice() -> None:
    from app.widgets.score_line import score_text
    from noiseda_core.train_cli import summary

    worse = Validation(step=600, psnr=24.19, psnr_input=22.67, count=66, psnr_start=24.58)
    for text in (score_text(worse), summary(worse, in_app=True)):
        assert "Train longer" in text and not re.search(r"--\w", text)
    assert "--minutes" in summary(worse)  # the terminal keeps its flags


def test_a_run_of_minutes_shows_no_step_count_before_it_is_sized(qtbot):
    from app.views.setup_view import SetupView
    from app.views.training_view import TrainingView

    view = TrainingView()
    qtbot.addWidget(view)
    view.on_started(Started(step=0, total_steps=0, minutes=8.0, device="cpu"))
    view.on_progress(Progress(step=3, total_steps=0))
    view._show_latest()
    assert view.progress.maximum() == 0 and not view.progress.isTextVisible()  # busy, no "0 / 2000"
    assert "8 min" in view.stats.text() or "img/s" in view.stats.text()
    view.on_progress(Progress(step=7, total_steps=88))
    view._show_latest()
    assert (view.progress.value(), view.progress.maximum()) == (7, 88)
    view.on_finished(Finished(step=49, out_of_time=True, planned_steps=88))
    assert (view.progress.value(), view.progress.maximum()) == (49, 88)

    setup = SetupView()
    qtbot.addWidget(setup)
    options = setup.options
    options.minutes.setValue(8)
    assert not options._basic.isRowVisible(options.steps)  # no greyed "Steps 2000"
    assert options._basic.isRowVisible(options.steps_sized)
    options.minutes.setValue(0)
    assert options._basic.isRowVisible(options.steps) and options.steps.isEnabled()


def make_plot(qtbot):
    from app.widgets.loss_plot import LossPlot

    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(700, 500)
    plot.show()
    return plot


def test_log_axis_labels_never_overlap(qtbot):
    from app.widgets.series_plot import LABEL_GAP_PX

    axis = make_plot(qtbot).loss_plot.item.getAxis("left")
    for lo, hi, pixels in (
        (-2.0, 0.0, 150),
        (-1.3, -0.9, 120),
        (-8.0, 1.0, 60),
        (-1.05, -0.95, 400),
    ):
        levels = axis.logTickValues(lo, hi, pixels, [])
        values = sorted(v for _, vs in levels for v in vs)
        assert values, (lo, hi)
        gaps = [(b - a) * pixels / (hi - lo) for a, b in pairwise(values)]
        assert all(gap >= LABEL_GAP_PX for gap in gaps), (lo, hi, values)


def test_legend_entries_do_not_break_and_the_validation_axis_follows_training(qtbot):
    plot = make_plot(qtbot)
    plot.add_validation(Validation(step=0, psnr=25.0, psnr_input=21.0, psnr_start=25.0, count=2))
    header = plot.psnr_plot.header.text()
    for name in ("noisy input", "starting model"):
        assert re.search(r"white-space:nowrap'><span[^>]*>[^<]*</span>&nbsp;" + name, header), name
    plot.clear()
    for step in range(1, 41):
        plot.add_progress(Progress(step=step, loss_res=0.1, lam=0.0))
    plot.flush()
    (x0, x1), _ = plot.psnr_plot.item.viewRange()
    assert x0 <= 0 and x1 >= 40  # the steps trained so far, not 0–1


def test_a_resized_event_sets_the_progress_total(qtbot, tmp_path):
    """The budget's resize, as the worker prints it, reaches the bar, the run's status
    and the terminal: the total becomes the sized length (the planned one once cut)."""
    from app.jobs import TrainingJob
    from app.views.training_view import TrainingView
    from noiseda_core.events import Resized
    from noiseda_core.run_folder import RunFolder
    from noiseda_core.run_status import read_run_status
    from noiseda_core.train_cli import _describe

    job, view = TrainingJob(), TrainingView()
    qtbot.addWidget(view)
    view.attach(job)
    view.on_started(Started(step=0, total_steps=0, minutes=8.0, device="cpu"))
    sized = Resized(
        step=4, steps=88, val_every=18, preview_every=9, checkpoint_every=29, log_every=1
    )
    job._handle_line(sized.to_json())
    assert (view.progress.value(), view.progress.maximum()) == (4, 88)
    cut = replace(sized, step=49, steps=49, out_of_time=True, planned_steps=88)  # deadline first
    job._handle_line(cut.to_json())
    assert (view.progress.value(), view.progress.maximum()) == (49, 88)
    assert "sized to the time budget: 88 steps" in _describe(sized)
    assert "before the 88 planned" in _describe(cut)

    folder = RunFolder.create(tmp_path / "run", tiny_config(tiny_project(tmp_path / "data")))
    folder.append_event(Started(step=0, total_steps=0, minutes=8.0))
    folder.append_event(sized)
    folder.close()
    assert read_run_status(tmp_path / "run").total_steps == 88
