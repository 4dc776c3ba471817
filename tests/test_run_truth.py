"""What a run says about itself is so: a budget that survives a pause, a run the deadline
cut short says so, the score of the exported weights, the start time across resumes."""

from __future__ import annotations

import gc
import os
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers import tiny_config, write_project

from noiseda_core import budget as budget_module
from noiseda_core import monitor as monitor_module
from noiseda_core import progress as progress_module
from noiseda_core import train as train_module
from noiseda_core.budget import Schedule, TimeBudget
from noiseda_core.config import Config
from noiseda_core.control import RunControl
from noiseda_core.evaluate import evaluate_folders
from noiseda_core.events import Finished, Progress, Resized, Started, Validation
from noiseda_core.run_status import read_run_status
from noiseda_core.step import TrainStep
from noiseda_core.train import train


class FakeClock:
    """``time.perf_counter`` of the loop: each training step takes ``step_s`` seconds."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.step_s = 1.0

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    namespace = SimpleNamespace(perf_counter=fake.perf_counter, time=time.time)
    monkeypatch.setattr(train_module, "time", namespace)
    monkeypatch.setattr(progress_module, "time", namespace)
    monkeypatch.setattr(monitor_module, "time", namespace)
    step = TrainStep.__call__

    def timed_step(self, *args, **kwargs):
        fake.now += fake.step_s
        return step(self, *args, **kwargs)

    monkeypatch.setattr(TrainStep, "__call__", timed_step)
    # few steps: timed over steps 2-3, one validation and preview, no bookkeeping time
    for name, value in (
        ("SKIP_STEPS", 1),
        ("MIN_MEASURE_STEPS", 2),
        ("MIN_MEASURE_S", 2.0),
        ("VALIDATIONS", 1),
        ("PREVIEWS", 1),
        ("CHECKPOINTS", 0),
        ("CHECKPOINT_S", 0.0),
        ("EXPORT_S", 0.0),
    ):
        monkeypatch.setattr(budget_module, name, value)
    return fake


def budgeted_run(
    tmp_path: Path,
    clock: FakeClock,
    *,
    pause_at: int | None = None,
    slow_from: int | None = None,
    stop_at: int | None = None,
    minutes: float = 0.15,
    fast_from: int | None = None,
) -> list:
    """A run of 9 (fake) seconds: sized after step 3 at 1 s a step, it plans 9 steps; a
    10-minute pause or a slowdown to 5 s a step after step 4 on request."""
    project = write_project(tmp_path / "p", n_syn=2, n_real=1, n_val=1, size=32)
    cfg = tiny_config(
        project,
        f"train.minutes={minutes}",
        "train.steps=2000",
        "train.log_every=1",
        "train.preview_count=1",
    )
    control = RunControl()

    def pause_for_ten_minutes(timeout: float = 0.2) -> None:
        clock.now += 600.0
        control.resume()

    control.wait_while_paused = pause_for_ten_minutes  # type: ignore[method-assign]
    events = []
    for event in train(cfg, tmp_path / "run", control=control):
        events.append(event)
        if isinstance(event, Progress) and event.step == pause_at:
            control.pause()
        if isinstance(event, Progress) and event.step == slow_from:
            clock.step_s = 5.0
        if isinstance(event, Progress) and event.step == fast_from:
            clock.step_s = 1.0
        if isinstance(event, Progress) and event.step == stop_at:
            control.request_stop()
    return events


def test_a_paused_budget_run_trains_all_its_planned_steps(tmp_path: Path, clock: FakeClock) -> None:
    events = budgeted_run(tmp_path, clock, pause_at=4)
    started, finished = events[0], events[-1]
    assert isinstance(started, Started) and started.total_steps == 0 and started.minutes == 0.15
    totals = [e.total_steps for e in events if isinstance(e, Progress)]
    planned = totals[-1]
    assert planned == 9 and set(totals) == {0, planned}  # unknown until sized, then one length
    assert isinstance(finished, Finished) and finished.step == planned
    assert not finished.stopped and not finished.out_of_time
    assert finished.elapsed_s < 600  # the pause is not training time
    assert all(e.elapsed_s < 600 for e in events if isinstance(e, Progress))  # no jump after it


def test_a_run_the_deadline_cuts_short_says_so(tmp_path: Path, clock: FakeClock) -> None:
    events = budgeted_run(tmp_path, clock, slow_from=4)
    finished = events[-1]
    totals = [e.total_steps for e in events if isinstance(e, Progress)]
    assert isinstance(finished, Finished) and finished.out_of_time and not finished.stopped
    assert finished.planned_steps == totals[-1] == 9 and finished.step == 5  # not "5 / 5"
    cut = [e for e in events if isinstance(e, Resized)][-1]
    assert (cut.step, cut.steps, cut.out_of_time, cut.total_steps) == (5, 5, True, 9)
    state = read_run_status(tmp_path / "run")
    assert state.total_steps == finished.planned_steps and state.can_resume


def test_a_run_sized_on_a_slow_start_resizes_once_and_uses_its_budget(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first steps take 3 s (another run starting beside it), the rest 1 s: sized on
    the slow steps the run would end after 10 steps with 14 s of its 30 unused; the second
    look at the rate makes it 24 steps, ending within the budget."""
    monkeypatch.setattr(budget_module, "REFINE_AFTER_S", 2.0)
    monkeypatch.setattr(budget_module, "REFINE_AFTER_SHARE", 0.0)
    clock.step_s = 3.0
    events = budgeted_run(tmp_path, clock, minutes=0.5, fast_from=3)
    resized = [(e.step, e.steps) for e in events if isinstance(e, Resized)]
    assert resized == [(3, 10), (5, 24)]
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.step == 24 and not finished.out_of_time
    assert finished.elapsed_s <= 30.0
    totals = {e.total_steps for e in events if isinstance(e, Progress)}
    assert totals == {0, 10, 24}


def test_time_budget_leaves_monitoring_out_of_the_refined_rate() -> None:
    budget = TimeBudget(minutes=10.0, began=0.0)
    for done, now in enumerate((3.0, 6.0, 8.0, 10.0, 12.0, 14.0), start=1):
        budget.step_done(done, now)
    schedule = budget.sized(Schedule.of(Config().train), 6, 14.0)
    assert budget.plan is not None and budget.plan.step_s == pytest.approx(2.0)
    now = 14.0
    for done in range(7, 200):  # 1 s a step, and a 20 s validation every 50 steps
        now += 1.0
        budget.step_done(done, now)
        if done % 50 == 0:
            now += 20.0
            budget.monitored(20.0)
        if budget.refine_due(done, now):
            refined = budget.refine(schedule, done, now)
            break
    else:
        raise AssertionError("never refined")
    assert budget.plan.step_s == pytest.approx(1.0)  # the validations are not training time
    assert done - 6 >= budget_module.REFINE_AFTER_S  # not before it had trained a while
    assert refined.steps > schedule.steps and refined.val_every == round(refined.steps / 5)
    assert not budget.refine_due(done + 50, now + 100)  # once


def test_a_budget_resizes_the_run_without_changing_its_config(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The config seen at set-up is the one the run ends with, config.toml is written
    once; the resize is a ``Resized`` event, and a resume keeps the resized length."""
    from noiseda_core import config as config_module

    runs, written = [], []
    setup_run, to_toml = train_module.setup_run, config_module.config_to_toml
    monkeypatch.setattr(
        train_module, "setup_run", lambda *a: runs.append(setup_run(*a)) or runs[-1]
    )
    monkeypatch.setattr(config_module, "config_to_toml", lambda c: written.append(c) or to_toml(c))
    events = budgeted_run(tmp_path, clock, stop_at=5)
    (run,) = runs
    resized = [e for e in events if isinstance(e, Resized)]
    assert [(e.step, e.steps, e.out_of_time) for e in resized] == [(3, 9, False)]
    assert run.cfg is run.plan.config and run.cfg.train.steps == 2000  # as planned, untouched
    assert written == [run.cfg]  # config.toml: written once, at set-up
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.stopped and finished.step == 5
    del run, runs[:]  # the run's folder lock goes with it
    gc.collect()

    resumed = list(train(None, tmp_path / "run", resume=True))
    progress = [e for e in resumed if isinstance(e, Progress)]
    assert {e.total_steps for e in progress} == {9} and resumed[-1].step == 9  # the resized length
    assert not resumed[-1].stopped


def test_time_budget_leaves_paused_time_out() -> None:
    budget = TimeBudget(minutes=1.0, began=0.0)
    for done, now in enumerate((3.0, 6.0, 7.0, 8.0, 9.0, 10.0), start=1):
        budget.step_done(done, now)
    budget.sized(Schedule.of(Config().train), 6, 10.0)
    budget.paused_for(300.0)
    budget.step_done(7, 311.0)
    assert budget.last_step_s == pytest.approx(1.0) and not budget.out_of_time(311.0)
    assert budget.eta_s(311.0) == pytest.approx(49.0)


def test_finished_scores_the_exported_weights_and_the_start_time_survives_a_resume(
    tmp_path: Path,
) -> None:
    """Stopped between validations: the exported EMA is scored afresh (what ``noiseda
    evaluate`` says of the file); a resume days later keeps the first start's time."""
    project = write_project(tmp_path / "p", n_syn=2, n_real=1, n_val=2, size=32)
    cfg = tiny_config(
        project,
        "train.steps=4",
        "train.val_every=2",
        "train.checkpoint_every=2",
        "train.preview_every=1000",
        "train.lr=0.002",
        "train.preview_count=1",
        "train.keep_best=off",
    )  # the last weights (keep-best: test_keep_best.py)
    control = RunControl()
    events, run = [], tmp_path / "run"
    for event in train(cfg, run, control=control):
        events.append(event)
        if isinstance(event, Progress) and event.step == 3:
            control.request_stop()
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.stopped and finished.step == 3
    assert finished.kept == "final" and finished.kept_step == 3
    report = evaluate_folders(
        Path(finished.model), project / "val" / "input", project / "val" / "target", device="cpu"
    )
    assert finished.kept_psnr == pytest.approx(report.summary()["psnr"], abs=0.01)
    validations = [e for e in events if isinstance(e, Validation)]
    assert validations[-1].step == 3 and validations[-1].psnr == finished.kept_psnr
    state = read_run_status(run)
    assert (state.kept, state.kept_step, state.kept_psnr) == ("final", 3, finished.kept_psnr)

    began = events[0].wall_time
    assert isinstance(events[0], Started) and abs(began - time.time()) < 3600
    list(train(None, run, resume=True, overrides=["train.steps=4"]))
    later = time.time() + 3 * 86400  # as if resumed days later: config.toml rewritten then
    os.utime(run / "config.toml", (later, later))
    assert read_run_status(run).started == datetime.fromtimestamp(began)


def test_the_cli_says_when_the_run_is_not_sized_yet_and_when_time_ran_out() -> None:
    from noiseda_core.train_cli import _describe

    assert "/0" not in _describe(Progress(step=3, total_steps=0))
    assert "step 12/33" in _describe(Progress(step=12, total_steps=33))
    line = _describe(
        Finished(
            step=13,
            model="/runs/a/model.safetensors",
            out_of_time=True,
            planned_steps=33,
            kept_psnr=25.07,
        )
    )
    assert "13 of the 33 planned" in line and "25.07 dB" in line
    assert "noiseda train --resume /runs/a --set train.steps=33" in line


def test_devices_lists_a_restorer_only_with_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from noiseda_core import device_report

    real = importlib.util.find_spec
    for installed in (False, True):
        monkeypatch.setattr(
            importlib.util,
            "find_spec",
            lambda name, *a, _on=installed: (
                object()
                if _on and name == "spandrel_extra_arches"
                else None
                if name == "spandrel_extra_arches"
                else real(name, *a)
            ),
        )
        report = device_report.device_report()
        assert ("restormer" in report.restorers) is installed
        text = device_report.format_report(report)
        assert ("noiseda-studio[restormer]" in text) is not installed
