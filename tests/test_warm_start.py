"""Warm start: built-in restorers by name, the starting model's score, a run sized to minutes."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import tiny_config, write_project

from noiseda_core import builtin
from noiseda_core.budget import SKIP_STEPS, Schedule, TimeBudget, plan_run
from noiseda_core.cli import main
from noiseda_core.config import Config, load_config
from noiseda_core.errors import UserError
from noiseda_core.events import Finished, Progress, Resized, Validation
from noiseda_core.export import export_restorer
from noiseda_core.nets import build_restorer
from noiseda_core.train import train
from noiseda_core.train_cli import summary


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A built-in folder holding one unet-tiny called "tiny" (the real one is too big here)."""
    folder = tmp_path / "restorers"
    folder.mkdir()
    export_restorer(build_restorer("unet-tiny"), folder / "tiny.safetensors")
    monkeypatch.setattr(builtin, "builtin_dir", lambda: folder)
    return folder


def test_builtin_names_resolve_and_unknown_ones_list_what_exists(shipped: Path) -> None:
    assert builtin.builtin_restorers() == {"tiny": shipped / "tiny.safetensors"}
    assert builtin.resolve_init_restorer("builtin:tiny") == shipped / "tiny.safetensors"
    with pytest.raises(UserError, match="available: builtin:tiny"):
        builtin.resolve_init_restorer("builtin:unet-zz")
    with pytest.raises(UserError, match="not found"):
        builtin.resolve_init_restorer("/nowhere/model.safetensors")


def test_a_builtin_name_in_a_config_file_is_not_taken_for_a_path(tmp_path: Path) -> None:
    toml = tmp_path / "sub" / "c.toml"
    toml.parent.mkdir()
    toml.write_text('[model]\ninit_restorer = "builtin:unet-t"\n[train]\nminutes = 2.5\n')
    cfg = load_config(toml)
    assert cfg.model.init_restorer == "builtin:unet-t" and cfg.train.minutes == 2.5
    assert load_config(toml, ["model.init_restorer=builtin:x"]).model.init_restorer == "builtin:x"
    with pytest.raises(UserError, match="train.minutes"):
        load_config(toml, ["train.minutes=-1"])


def test_a_warm_run_reports_input_start_and_adapted_scores(shipped: Path, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p")
    cfg = tiny_config(project, "model.init_restorer=builtin:tiny", "model.restorer=unet-s")
    events = list(train(cfg, tmp_path / "run"))
    assert events[0].init_restorer == "builtin:tiny"
    validations = [e for e in events if isinstance(e, Validation)]
    first, last = validations[0], validations[-1]
    assert first.step == 0 and first.psnr == first.psnr_start  # the starting model itself
    assert all(
        v.psnr_start == first.psnr_start and v.ssim_start == first.ssim_start for v in validations
    )
    assert all(v.psnr_input == first.psnr_input and v.ssim_input is not None for v in validations)
    assert last.step == 6 and last.psnr != first.psnr  # it trained
    assert load_config(tmp_path / "run" / "config.toml").model.restorer == "unet-tiny"
    text = summary(last)
    for needle in (
        "noisy input",
        "starting model",
        "adapted model",
        f"{last.psnr:6.2f} dB",
        f"{first.psnr_start:6.2f} dB",
        f"{first.psnr_input:6.2f} dB",
    ):
        assert needle in text


def test_the_summary_says_when_the_starting_model_scores_higher() -> None:
    worse = Validation(
        step=600,
        psnr=24.19,
        ssim=0.70,
        psnr_input=22.67,
        count=66,
        psnr_start=24.58,
        ssim_start=0.70,
    )
    assert "-0.39 dB" in summary(worse) and "starting model scores higher" in summary(worse)
    better = Validation(
        step=600,
        psnr=24.70,
        ssim=0.71,
        psnr_input=22.67,
        count=66,
        psnr_start=24.58,
        ssim_start=0.70,
    )
    assert "+0.12 dB" in summary(better) and "scores higher" not in summary(better)


def test_a_run_from_scratch_has_no_starting_score(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p")
    events = list(train(tiny_config(project), tmp_path / "run"))
    validations = [e for e in events if isinstance(e, Validation)]
    assert validations[0].step == 3 and all(v.psnr_start is None for v in validations)
    assert "from scratch" in summary(validations[-1])


def test_the_cli_ends_with_the_three_numbers(
    shipped: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    project = write_project(tmp_path / "p")
    from noiseda_core.config import save_config

    save_config(tiny_config(project, "model.init_restorer=builtin:tiny"), tmp_path / "c.toml")
    assert main(["train", str(tmp_path / "c.toml"), "--run-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    tail = out[out.index("real validation pair") :]
    assert "noisy input" in tail and "starting model" in tail and "adapted model" in tail
    assert "SSIM" in tail


def test_plan_fits_the_steps_and_the_bookkeeping_into_the_budget() -> None:
    plan = plan_run(
        budget_s=600, elapsed_s=20, done=10, step_s=0.5, val_s=2.0, preview_s=0.5, log_every=10
    )
    overhead = 5 * 2.0 + 10 * 0.5 + 3 * 1.0 + 1.0
    assert plan.steps == 10 + int((600 - 20 - overhead) / 0.5)
    assert plan.val_every == round(plan.steps / 5) and plan.preview_every == round(plan.steps / 10)
    assert plan.checkpoint_every == round(plan.steps / 3) and plan.log_every == 10
    tiny = plan_run(
        budget_s=10, elapsed_s=30, done=5, step_s=1.0, val_s=0, preview_s=0, log_every=10
    )
    assert tiny.steps == 6 and tiny.log_every == 1  # over budget already: one more step


def test_time_budget_measures_then_sizes_then_keeps_the_deadline() -> None:
    budget = TimeBudget(minutes=1.0, began=100.0)
    assert budget.eta_s(110.0) == 50.0  # before measuring: the rest of the budget
    now = 101.0
    for done in range(1, SKIP_STEPS + 1):
        now += 3.0  # slow first steps are not measured
        assert not budget.step_done(done, now)
    measured = False
    done = SKIP_STEPS
    while not measured:
        done += 1
        now += 1.0
        measured = budget.step_done(done, now)
    schedule = budget.sized(Schedule.of(Config().train), done, now)
    assert budget.plan is not None and budget.plan.step_s == pytest.approx(1.0)
    assert schedule.steps == budget.plan.steps > done
    assert schedule.val_every == budget.plan.val_every
    assert not budget.step_done(done + 1, now + 1)  # sized once
    assert not budget.out_of_time(now) and budget.out_of_time(159.0)
    assert budget.eta_s(now, rate_eta_s=1000.0) == pytest.approx(160.0 - now)


def test_a_run_with_minutes_sizes_itself_and_records_the_plan(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p")
    cfg = tiny_config(project, "train.minutes=0.2", "train.steps=100000")
    events = list(train(cfg, tmp_path / "run"))
    finished = events[-1]
    assert isinstance(finished, Finished) and not finished.stopped
    resized = [e for e in events if isinstance(e, Resized)]
    assert resized and resized[-1].steps == finished.step < 100000  # sized (or cut short)
    saved = load_config(tmp_path / "run" / "config.toml").train
    assert saved.steps == 100000 and saved.minutes == 0.2  # the config as planned, unchanged
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[0].eta_s <= 0.2 * 60  # honest from the first step: within the budget
    # the plan, or the deadline before it (on a busy machine even before the run was sized)
    assert finished.step <= max(progress[-1].total_steps, resized[-1].total_steps)
    assert [e for e in events if isinstance(e, Validation)][-1].step == finished.step


def _dncnn_file(path: Path) -> Path:
    import torch
    from spandrel.architectures.DnCNN import DnCNN

    torch.manual_seed(0)
    torch.save(
        DnCNN(in_nc=3, out_nc=3, nc=8, nb=4, act_mode="BR", mode="DnCNN").state_dict(),
        path.with_suffix(".pth"),
    )
    return path.with_suffix(".pth")


@pytest.mark.parametrize("start", ["ours", "spandrel"])
def test_a_warm_run_exports_and_resumes_after_its_starting_file_moved(
    tmp_path: Path, capsys, start: str
) -> None:
    from noiseda_core.control import RunControl
    from noiseda_core.export import load_restorer

    if start == "ours":  # not the registry's default size: the checkpoint must say so
        source = tmp_path / "start.safetensors"
        export_restorer(build_restorer("unet-tiny", base=4, depth=3), source)
    else:
        source = _dncnn_file(tmp_path / "start")
    project = write_project(tmp_path / "p", size=32)
    cfg = tiny_config(
        project,
        "train.mode=baseline",
        "train.steps=3",
        f"model.init_restorer={source}",
        "train.val_every=100",
        "train.preview_every=100",
    )
    run, control = tmp_path / "run", RunControl()
    for event in train(cfg, run, control=control):
        if isinstance(event, Progress) and event.step == 2:
            control.request_stop()
    source.rename(source.with_name("moved" + source.suffix))  # the starting file is gone
    out = tmp_path / "adapted.safetensors"
    assert main(["export", str(run), "--out", str(out)]) == 0, capsys.readouterr().err
    assert load_restorer(out).arch == load_restorer(run / "model.safetensors").arch
    events = list(train(None, run, resume=True))
    assert events[0].step == 2 and isinstance(events[-1], Finished) and events[-1].step == 3


def test_the_summary_names_proxy_pairs_and_a_kept_start() -> None:
    """A run scored on proxy pairs that exported its start must not claim a gain."""
    proxy = Validation(
        step=40, psnr=30.63, psnr_input=29.46, count=16, psnr_start=29.97, source="proxy"
    )
    text = summary(proxy, kept="start")
    assert "16 proxy pair(s)" in text and "real validation" not in text
    assert "exported: the starting model, unchanged" in text and "+0.66" not in text
    assert "+0.66 dB over the starting model" in summary(proxy, kept="best")
