"""Training under kills and odd input: validation before the run folder, folders that can
always be continued or restarted, honest resumes, torn logs, the lock, hand-edited states."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import tiny_config, write_project

from noiseda_core.checkpoint import checkpoint_path, load_resume_state, save_resume_state
from noiseda_core.control import RunControl
from noiseda_core.errors import UserError
from noiseda_core.events import Failed, Finished, Progress, Started
from noiseda_core.run_folder import RunFolder, read_events
from noiseda_core.train import train


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("project"), size=32)


def _stopped_at(cfg, run: Path, step: int) -> None:
    control = RunControl()
    for event in train(cfg, run, control=control):
        if isinstance(event, Progress) and event.step == step:
            control.request_stop()


@pytest.mark.parametrize("bad", ["restorer", "real", "init"])
def test_a_bad_setting_leaves_no_run_folder(project: Path, tmp_path: Path, bad: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.safetensors").write_bytes(b"not a model")
    extra = {
        "restorer": "model.restorer=nope",
        "real": f"data.real={tmp_path / 'empty'}",
        "init": f"model.init_restorer={tmp_path / 'broken.safetensors'}",
    }[bad]
    with pytest.raises(UserError):
        list(train(tiny_config(project, extra), tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_a_run_killed_before_its_first_checkpoint_starts_again_or_resumes_from_zero(
    project: Path, tmp_path: Path
) -> None:
    cfg = tiny_config(project, "train.steps=2", "train.checkpoint_every=100")
    killed = RunFolder.create(tmp_path / "run", cfg)  # what a kill -9 at step 1 leaves
    killed.append_event(Started(step=0, total_steps=2))
    killed.append_event(Progress(step=1, total_steps=2))
    killed.close()
    events = list(train(None, tmp_path / "run", resume=True))
    assert events[0].step == 0 and isinstance(events[-1], Finished) and events[-1].step == 2
    assert [type(e) for e in read_events(tmp_path / "run")].count(Started) == 1
    killed = RunFolder.create(tmp_path / "run2", cfg)
    killed.close()
    assert isinstance(list(train(cfg, tmp_path / "run2"))[-1], Finished)


def test_a_finished_run_without_its_checkpoints_is_never_restarted(
    project: Path, tmp_path: Path, capsys
) -> None:
    import shutil

    from noiseda_core.cli import main

    run = tmp_path / "run"
    cfg = tiny_config(
        project,
        "train.mode=baseline",
        "train.steps=2",
        "train.val_every=2",
        "train.preview_every=2",
    )
    assert isinstance(list(train(cfg, run))[-1], Finished)
    shutil.rmtree(run / "checkpoints")  # cp -a a b; rm -rf b/checkpoints
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    assert run / "model.safetensors" in before
    for args in (
        ["train", "--resume", str(run)],
        ["train", str(run / "config.toml"), "--run-dir", str(run)],
    ):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"run folder {run} holds its model" in err and "no checkpoint" in err
        assert "Traceback" not in err and "--run-dir NEW_FOLDER" in err
        assert {
            p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"
        } == before


def test_a_torn_event_line_after_a_crash_does_not_block_resume(
    project: Path, tmp_path: Path
) -> None:
    cfg = tiny_config(project, "train.steps=6", "train.checkpoint_every=3")
    _stopped_at(cfg, tmp_path / "run", 3)
    with open(tmp_path / "run" / "events.jsonl", "a") as handle:
        handle.write('{"type": "progress", "step": 4, "loss_r')  # the disk filled up here
    events = list(train(None, tmp_path / "run", resume=True))
    assert isinstance(events[-1], Finished) and events[-1].step == 6
    for line in (tmp_path / "run" / "events.jsonl").read_text().splitlines():
        json.loads(line)  # every line whole again


def test_resume_refuses_edited_settings_but_takes_more_steps(project: Path, tmp_path: Path) -> None:
    cfg = tiny_config(project, "train.steps=3", "train.checkpoint_every=100")
    list(train(cfg, tmp_path / "run"))
    config = tmp_path / "run" / "config.toml"
    original = config.read_text()
    config.write_text(original.replace("lr = 0.0001", "lr = 0.002"))
    with pytest.raises(UserError, match=r"train\.lr: 0\.0001 → 0\.002.*only train\.steps"):
        list(train(None, tmp_path / "run", resume=True))
    config.write_text("this is [not toml")
    with pytest.raises(UserError, match="cannot be used"):
        list(train(None, tmp_path / "run", resume=True))
    config.write_text(re.sub(r"^steps = 3$", "steps = 5", original, flags=re.M))
    events = list(train(None, tmp_path / "run", resume=True))
    assert events[0].step == 3 and events[-1].step == 5 and isinstance(events[-1], Finished)
    events = list(train(None, tmp_path / "run", resume=True, overrides=["train.steps=6"]))
    assert events[-1].step == 6 and "steps = 6" in config.read_text()
    with pytest.raises(UserError, match="below the step"):
        list(train(None, tmp_path / "run", resume=True, overrides=["train.steps=2"]))


def test_two_resumes_of_one_folder_cannot_run_at_once(project: Path, tmp_path: Path) -> None:
    cfg = tiny_config(project, "train.steps=4", "train.checkpoint_every=2")
    _stopped_at(cfg, tmp_path / "run", 2)
    first = train(None, tmp_path / "run", resume=True)
    assert isinstance(next(first), Started)  # the first resume holds the folder now
    with pytest.raises(UserError, match="in use by another training process"):
        list(train(None, tmp_path / "run", resume=True))
    assert isinstance(list(first)[-1], Finished)


def test_resume_removes_temporaries_of_killed_writes(project: Path, tmp_path: Path) -> None:
    cfg = tiny_config(project, "train.steps=4", "train.checkpoint_every=2")
    _stopped_at(cfg, tmp_path / "run", 2)
    orphan = tmp_path / "run" / "checkpoints" / ".last.pt.k1ll3d.tmp"
    orphan.write_bytes(b"x" * 1000)
    list(train(None, tmp_path / "run", resume=True))
    assert not orphan.exists()


def test_a_checkpoint_of_another_architecture_is_refused_clearly(
    project: Path, tmp_path: Path
) -> None:
    cfg = tiny_config(project, "train.steps=4", "train.checkpoint_every=2")
    _stopped_at(cfg, tmp_path / "run", 2)
    state = load_resume_state(tmp_path / "run")
    state["objective"] = {
        k.replace("restorer.", "restorer.x."): v for k, v in state["objective"].items()
    }
    save_resume_state(tmp_path / "run", state)
    with pytest.raises(UserError, match="does not fit this run"):
        list(train(None, tmp_path / "run", resume=True))


def test_nan_before_any_checkpoint_does_not_promise_one(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import noiseda_core.objective as objective

    real = objective.charbonnier
    monkeypatch.setattr(
        objective, "charbonnier", lambda a, b, eps=1e-3: real(a, b, eps) * float("nan")
    )
    events = list(train(tiny_config(project, "train.checkpoint_every=100"), tmp_path / "run"))
    failed = events[-1]
    assert isinstance(failed, Failed) and "checkpoint is kept" not in failed.message
    assert "No checkpoint" in failed.message and not checkpoint_path(tmp_path / "run").exists()
    assert isinstance(
        list(train(tiny_config(project, "train.steps=1"), tmp_path / "run"))[-1], Failed
    )  # started again (and fails again, but it could start)


def test_a_full_disk_during_training_is_one_message_and_the_run_resumes(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import noiseda_core.checkpoint as checkpoint

    real = checkpoint.atomic_write_bytes
    calls = {"n": 0}

    def fills_up(path, data):  # the second checkpoint hits a full disk
        calls["n"] += 1
        if calls["n"] == 2:
            from noiseda_core.atomic import disk_error

            raise disk_error(path, OSError(errno.ENOSPC, "No space left on device"))
        real(path, data)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", fills_up)
    cfg = tiny_config(project, "train.steps=6", "train.checkpoint_every=2")
    with pytest.raises(UserError, match="disk is full"):
        list(train(cfg, tmp_path / "run"))
    assert load_resume_state(tmp_path / "run")["step"] == 2
    events = list(train(None, tmp_path / "run", resume=True))
    assert events[0].step == 2 and isinstance(events[-1], Finished) and events[-1].step == 6


def test_the_out_of_memory_advice_is_given_once() -> None:
    from noiseda_core.errors import OUT_OF_MEMORY_ADVICE, with_out_of_memory_advice

    bare = with_out_of_memory_advice("worker crashed", "RuntimeError: CUDA out of memory.")
    assert bare.count(OUT_OF_MEMORY_ADVICE) == 1  # a crash the trainer did not explain
    assert with_out_of_memory_advice(bare, "CUDA out of memory") == bare  # already explained
    assert with_out_of_memory_advice("config file not found", "") == "config file not found"
