"""Runs you can come back to: the runs panel, replaying a run, the offer to resume after a kill."""

from __future__ import annotations

from pathlib import Path

from app_helpers import FAKE_WORKER, isolate_settings, tiny_config, tiny_project
from fake_trainer import write_png

from noiseda_core.config import save_config
from noiseda_core.events import Checkpoint, Preview, Progress, Started, Validation


def interrupted_run(runs: Path, project: dict) -> Path:
    """What a killed app leaves: a log that starts and never ends, a checkpoint at step 20."""
    run = runs / "20260101-120000-noise-da"
    run.mkdir(parents=True)
    save_config(tiny_config(project), run / "config.toml")
    events = [Started(step=0, total_steps=40, run_dir=str(run), device="cpu", mode="noise-da")]
    events += [
        Progress(step=s, total_steps=40, loss_res=0.1 / s, loss_dif=0.3, lam=0.01 * s)
        for s in range(1, 21)
    ]
    write_png(run / "previews" / "step_000010_synthetic.png", 96, 32, 40)
    events += [
        Preview(step=10, synthetic="previews/step_000010_synthetic.png", real=[]),
        Validation(step=20, psnr=22.5, ssim=0.6, psnr_input=18.0, count=2),
        Checkpoint(step=20, path=str(run / "checkpoints" / "last.pt")),
    ]
    (run / "events.jsonl").write_text(
        "".join(e.to_json() + "\n" for e in events) + '{"type": "progr'
    )
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "last.pt").write_text("20")  # the fake worker resumes from this step
    return run


def test_after_a_kill_the_app_offers_the_run_and_continues_it(qtbot, tmp_path):
    isolate_settings(tmp_path)
    from app import settings
    from app.main_window import MainWindow

    runs = tmp_path / "runs"
    settings.put("setup/runs", str(runs))
    run = interrupted_run(runs, tiny_project(tmp_path / "data"))
    window = MainWindow(
        worker=FAKE_WORKER,
        extra_env={"FAKE_STEPS": "40", "FAKE_DELAY": "0.002"},
        confirm_close=False,
    )
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.resume_offered, timeout=15000) as offered:
        window.show()
    assert offered.args[0] == run and window.resume_offer.isVisible()
    assert "step 20" in window.resume_offer.label.text()
    panel = window.runs_view
    assert panel.folder_label.text().startswith(str(runs))
    row = panel.table.topLevelItem(0)
    assert [row.text(i) for i in range(4)] == [
        run.name,
        "interrupted (app closed or crashed)",
        "20 / 40",
        "last validation: 22.50 dB (no model yet)",
    ]
    assert row.text(4).startswith("20")  # a date

    window.resume_offer.show_button.click()  # curves and previews of the past run
    view = window.training_view
    assert window.tabs.currentWidget() is view
    assert view.plot.point_count() >= 20 and view.plot.psnr == [22.5]
    assert [h[0] for h in view.previews.history] == [10]
    assert "interrupted" in view.title.text() and view.continue_button.isVisibleTo(window)
    with qtbot.waitSignal(window.training_done, timeout=30000):
        view.continue_button.click()
    assert view.progress.value() == 40


def test_runs_panel_buttons_and_folder(qtbot, tmp_path):
    isolate_settings(tmp_path)
    from app import settings
    from app.main_window import MainWindow

    runs = tmp_path / "runs"
    settings.put("setup/runs", str(runs))
    run = interrupted_run(runs, tiny_project(tmp_path / "data"))
    settings.put("runs/declined", str(run))  # "Not now" last time: no offer again
    window = MainWindow(
        worker=FAKE_WORKER,
        extra_env={"FAKE_STEPS": "30", "FAKE_DELAY": "0.002"},
        confirm_close=False,
    )
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.runs_view.refreshed, timeout=15000):
        window.show()
    assert not window.resume_offer.isVisible()
    panel = window.runs_view
    panel.select(run)
    assert panel.continue_button.isEnabled() and panel.export_button.isEnabled()
    assert not panel.restore_button.isEnabled()  # no model.safetensors yet
    with qtbot.waitSignal(window.training_done, timeout=30000):
        panel.continue_button.click()
    assert window.training_view.progress.value() == 30
    other = tmp_path / "elsewhere"
    cli_run = interrupted_run(other, tiny_project(tmp_path / "data2"))
    with qtbot.waitSignal(panel.refreshed, timeout=15000):
        panel.add_folder(other)
    assert window.setup_view.runs_root() == runs, "listing a folder does not move new runs"
    assert settings.runs_dir() == runs
    listed = {
        Path(panel.table.topLevelItem(i).data(0, 256))
        for i in range(panel.table.topLevelItemCount())
    }
    assert listed == {run, cli_run}, "both folders are listed"
    assert str(other) in panel.folder_label.text() and not panel.forget_button.isHidden()
    with qtbot.waitSignal(panel.refreshed, timeout=15000):
        panel.forget_added_folders()
    assert panel.table.topLevelItemCount() == 1


def test_default_runs_folder_is_visible_and_has_no_spaces(tmp_path):
    from app import settings

    path = settings.default_runs_dir(home=Path("/home/someone"))
    assert path == Path("/home/someone/NoiseDA/runs")
    assert " " not in str(path) and not any(part.startswith(".") for part in path.parts)


def test_the_run_the_app_died_in_is_offered_even_when_its_worker_stopped_cleanly(qtbot, tmp_path):
    """A worker that notices its app is gone ends the run as 'stopped'; the app still offers it."""
    isolate_settings(tmp_path)
    from app import settings
    from app.main_window import MainWindow
    from noiseda_core.events import Finished

    runs = tmp_path / "runs"
    settings.put("setup/runs", str(runs))
    run = interrupted_run(runs, tiny_project(tmp_path / "data"))
    with open(run / "events.jsonl", "a") as log:
        log.write("\n" + Finished(step=20, stopped=True).to_json() + "\n")
    settings.put("runs/active", str(run))  # what a killed app leaves behind
    window = MainWindow(worker=FAKE_WORKER, confirm_close=False)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.resume_offered, timeout=15000) as offered:
        window.show()
    assert offered.args[0] == run
    assert window.runs_view.table.topLevelItem(0).text(1) == "stopped"
    assert settings.get("runs/active") == ""  # offered once, not at every start


def test_the_runs_panel_shows_the_cores_run_status(tmp_path):
    from app.run_index import summarize
    from noiseda_core.events import Failed
    from noiseda_core.run_status import read_run_status

    run = interrupted_run(tmp_path / "runs", tiny_project(tmp_path / "data"))
    for expected in ("interrupted", "failed"):
        core, panel = read_run_status(run), summarize(run)
        assert (
            panel.state,
            panel.step,
            panel.total_steps,
            panel.best_psnr,
            panel.date,
            panel.message,
        ) == (
            core.status.value,
            core.step,
            core.total_steps,
            core.best_psnr,
            core.started,
            core.message,
        )
        assert (panel.state, panel.step, panel.best_psnr, panel.checkpoint) == (
            expected,
            20,
            22.5,
            True,
        )
        with open(run / "events.jsonl", "a") as log:
            log.write("\n" + Failed(step=20, message="out of memory").to_json() + "\n")
    assert summarize(run).message == "out of memory"


def test_one_damaged_event_log_keeps_every_row(qtbot, tmp_path):
    isolate_settings(tmp_path)
    from app import settings
    from app.views.runs_view import RunsView

    runs = tmp_path / "runs"
    settings.put("setup/runs", str(runs))
    good = interrupted_run(runs, tiny_project(tmp_path / "data"))
    bad = runs / "hand-edited"
    bad.mkdir()
    save_config(tiny_config(tiny_project(tmp_path / "data2")), bad / "config.toml")
    (bad / "events.jsonl").write_text(
        Started(step=0, total_steps=40).to_json() + '\n{"type": "progress", "step": "abc"}\n'
        '{"type": "progress", "step": 1e400}\n' + Progress(step=3, total_steps=40).to_json() + "\n"
    )
    panel = RunsView()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.refreshed, timeout=15000):
        panel.refresh()
    rows = {
        panel.table.topLevelItem(i).text(0): panel.table.topLevelItem(i)
        for i in range(panel.table.topLevelItemCount())
    }
    assert set(rows) == {good.name, bad.name} and not panel.empty.isVisible()
    assert rows[bad.name].text(1) == "interrupted (app closed or crashed) (log damaged)"
    assert rows[bad.name].text(2) == "3 / 40"
    assert "2 damaged line(s)" in rows[bad.name].toolTip(1)


def test_runs_of_the_command_line_are_listed_beside_setups_folder(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NOISEDA_DATA_DIR", str(tmp_path / "data"))
    isolate_settings(tmp_path)
    from app import settings
    from app.views.runs_view import RunsView
    from noiseda_core.run_folder import default_run_dir

    cli_default = default_run_dir(Path("demo.toml")).parent  # `noiseda train` without --run-dir
    assert cli_default == settings.default_runs_dir() == tmp_path / "data" / "runs"
    cli_run = interrupted_run(cli_default, tiny_project(tmp_path / "p"))
    settings.put("setup/runs", str(tmp_path / "mine"))  # Setup saves new runs elsewhere
    panel = RunsView()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.refreshed, timeout=15000):
        panel.refresh()
    assert panel.roots() == [tmp_path / "mine", cli_default]
    assert [r.path for r in panel.runs] == [cli_run]


def test_the_runs_page_scores_the_exported_model_as_evaluate_does_and_keeps_the_start_date(
    qtbot, tmp_path
):
    """Stopped between validations: the page shows the exported weights' score (what
    ``noiseda evaluate`` measures), not the best validation; "Started" is the first start."""
    import os
    import re
    import time
    from datetime import datetime

    import helpers

    from app.views.runs_view import RunsView
    from noiseda_core.control import RunControl
    from noiseda_core.evaluate import evaluate_folders
    from noiseda_core.train import train

    isolate_settings(tmp_path)
    from app import settings

    runs = tmp_path / "runs"
    settings.put("setup/runs", str(runs))
    project = helpers.write_project(tmp_path / "p", n_syn=2, n_real=1, n_val=2, size=32)
    cfg = helpers.tiny_config(
        project,
        "train.steps=4",
        "train.val_every=2",
        "train.lr=0.002",
        "train.checkpoint_every=2",
        "train.preview_every=1000",
        "train.preview_count=1",
    )
    control, events = RunControl(), []
    for event in train(cfg, runs / "r1", control=control):
        events.append(event)
        if isinstance(event, Progress) and event.step == 3:
            control.request_stop()
    later = time.time() + 2 * 86400  # config.toml rewritten by a resume two days later
    os.utime(runs / "r1" / "config.toml", (later, later))
    view = RunsView()
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.refreshed, timeout=15000):
        view.refresh()
    row = view.table.topLevelItem(0)
    shown = re.fullmatch(r"kept weights(?: \(the best, step 2\))?: (\d+\.\d\d) dB", row.text(3))
    assert shown is not None, row.text(3)
    report = evaluate_folders(
        runs / "r1" / "model.safetensors",
        project / "val" / "input",
        project / "val" / "target",
        device="cpu",
    )
    assert abs(float(shown.group(1)) - report.summary()["psnr"]) <= 0.01
    began = datetime.fromtimestamp(events[0].wall_time)
    assert row.text(4) == began.strftime("%Y-%m-%d %H:%M")
