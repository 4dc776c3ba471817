"""The training loop: events, run folder, phases, NaN handling, exact resume, stop."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from helpers import tiny_config, write_project

from noiseda_core.checkpoint import export_run, load_resume_state
from noiseda_core.config import Mode, load_config
from noiseda_core.control import RunControl
from noiseda_core.events import Checkpoint, Failed, Finished, Preview, Progress, Started, Validation
from noiseda_core.export import load_restorer
from noiseda_core.objective import Phase
from noiseda_core.train import lambda_for, phase_at, train


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("project"))


def test_a_run_yields_every_event_and_fills_the_run_folder(project: Path, tmp_path: Path) -> None:
    cfg = tiny_config(project)
    events = list(train(cfg, tmp_path / "run"))
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[-1] is Finished
    assert {Progress, Validation, Preview, Checkpoint} <= set(kinds)
    progress = [e for e in events if isinstance(e, Progress)]
    assert [p.step for p in progress] == [1, 2, 3, 4, 5, 6]
    assert all(p.loss_dif is not None and p.images_per_s > 0 for p in progress)
    run = tmp_path / "run"
    lines = [json.loads(x) for x in (run / "events.jsonl").read_text().splitlines()]
    assert [x["type"] for x in lines] == [e.type_name for e in events]
    assert {"step", "loss_res", "loss_dif", "lambda", "lr", "images_per_s"} <= set(lines[1])
    assert (run / "config.toml").is_file() and (run / "checkpoints" / "last.pt").is_file()
    preview = next(e for e in events if isinstance(e, Preview))
    assert (run / preview.synthetic).is_file() and len(preview.real) == 2
    model = load_restorer(run / "model.safetensors")
    assert model.arch == "unet-tiny"


def test_baseline_never_builds_the_denoiser(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import noiseda_core.parts as train_module

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("baseline built a denoiser")

    monkeypatch.setattr(train_module, "build_denoiser", forbidden)
    cfg = tiny_config(project, "train.mode=baseline", "train.steps=2")
    events = list(train(cfg, tmp_path / "run"))
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and all(p.loss_dif is None for p in progress)
    assert events[0].denoiser_params == 0


def test_phases_and_lambda_ramp_count_from_the_joint_phase(project: Path) -> None:
    cfg = tiny_config(
        project,
        "train.steps=100",
        "train.warmup_restorer_steps=10",
        "train.denoiser_pretrain_steps=5",
        "train.lambda_ramp=20",
    )
    assert phase_at(9, cfg) is Phase.WARMUP_RESTORER
    assert phase_at(10, cfg) is Phase.PRETRAIN_DENOISER
    assert phase_at(15, cfg) is Phase.JOINT
    assert lambda_for(14, cfg) == 0.0 and lambda_for(15, cfg) == 0.0
    assert lambda_for(35, cfg) == pytest.approx(
        cfg.train.lambda_weight * (2 / (1 + torch.e**-5) - 1)
    )


def test_unpaired_mode_trains_with_the_reference_set(project: Path, tmp_path: Path) -> None:
    cfg = tiny_config(project, "train.mode=noise-da-unpaired", "train.steps=2")
    events = list(train(cfg, tmp_path / "run"))
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].loss_triplet == 0.0 and isinstance(events[-1], Finished)


def test_several_real_crops_per_pair_train_and_change_the_run(
    project: Path, tmp_path: Path
) -> None:
    """train.real_per_pair = 2 runs end to end, and the extra real crops change the losses."""
    runs = {}
    for k in (1, 2):
        cfg = tiny_config(project, "train.steps=2", f"train.real_per_pair={k}")
        events = list(train(cfg, tmp_path / f"run{k}"))
        assert isinstance(events[-1], Finished)
        runs[k] = [e.loss_dif for e in events if isinstance(e, Progress)]
    assert runs[1] != runs[2]


def test_resumed_run_matches_an_uninterrupted_one(project: Path, tmp_path: Path) -> None:
    cfg = tiny_config(project, "train.steps=6", "train.checkpoint_every=3")
    full = [e for e in train(cfg, tmp_path / "full") if isinstance(e, Progress)]

    control = RunControl()
    first = []
    for event in train(cfg, tmp_path / "part", control=control):
        if isinstance(event, Progress):
            first.append(event)
            if event.step == 3:
                control.request_stop()
    assert load_resume_state(tmp_path / "part")["step"] == 3
    resumed = [e for e in train(None, tmp_path / "part", resume=True) if isinstance(e, Progress)]
    assert [e.step for e in resumed] == [4, 5, 6]
    for a, b in zip(full[3:], resumed, strict=True):
        assert a.loss_res == b.loss_res and a.loss_dif == b.loss_dif


def test_stop_leaves_a_checkpoint_and_an_exportable_model(project: Path, tmp_path: Path) -> None:
    cfg = tiny_config(project, "train.steps=50")
    control = RunControl()
    events = []
    for event in train(cfg, tmp_path / "run", control=control):
        events.append(event)
        if isinstance(event, Progress) and event.step == 2:
            control.request_stop()
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.stopped and finished.step == 2
    assert load_resume_state(tmp_path / "run")["step"] == 2
    out = export_run(tmp_path / "run", tmp_path / "raw.safetensors", weights="raw")
    assert load_restorer(out).arch == "unet-tiny"


def test_a_non_finite_loss_fails_clearly_and_keeps_the_last_checkpoint(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import noiseda_core.objective as objective

    real = objective.charbonnier
    calls = {"n": 0}

    def poisoned(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
        calls["n"] += 1
        value = real(a, b, eps)
        return value * float("nan") if calls["n"] > 3 else value

    monkeypatch.setattr(objective, "charbonnier", poisoned)
    events = list(train(tiny_config(project), tmp_path / "run"))
    failed = events[-1]
    assert isinstance(failed, Failed) and "loss became NaN or infinite" in failed.message
    assert load_resume_state(tmp_path / "run")["step"] == 3  # the good one, before the NaN


def test_a_new_run_never_overwrites_an_old_one(project: Path, tmp_path: Path) -> None:
    from noiseda_core.errors import UserError

    cfg = replace(tiny_config(project), train=replace(tiny_config(project).train, steps=1))
    list(train(cfg, tmp_path / "run"))
    with pytest.raises(UserError, match="--resume"):
        list(train(cfg, tmp_path / "run"))
    assert Mode(cfg.train.mode) is Mode.NOISE_DA


def test_a_run_can_warm_start_from_an_exported_restorer(project: Path, tmp_path: Path) -> None:
    from noiseda_core.errors import UserError
    from noiseda_core.export import export_restorer
    from noiseda_core.nets import build_restorer

    source = build_restorer("unet-tiny")
    torch.nn.init.normal_(next(source.parameters()))
    export_restorer(source, tmp_path / "start.safetensors")
    cfg = tiny_config(
        project,
        "train.steps=1",
        "train.lr=1e-12",
        f"model.init_restorer={tmp_path / 'start.safetensors'}",
    )
    list(train(cfg, tmp_path / "run"))
    raw = export_run(tmp_path / "run", tmp_path / "raw.safetensors", weights="raw")
    first = next(iter(load_restorer(raw).parameters()))
    assert torch.allclose(first, next(source.parameters()), atol=1e-6)
    # the starting file decides the architecture; the saved config says what was trained
    other = tiny_config(
        project,
        "model.restorer=unet-t",
        "train.steps=1",
        f"model.init_restorer={tmp_path / 'start.safetensors'}",
    )
    events = list(train(other, tmp_path / "run2"))
    assert events[0].init_restorer == str(tmp_path / "start.safetensors")
    assert load_config(tmp_path / "run2" / "config.toml").model.restorer == "unet-tiny"
    assert load_restorer(tmp_path / "run2" / "model.safetensors").arch == "unet-tiny"
    missing = tiny_config(project, f"model.init_restorer={tmp_path / 'nope.pth'}")
    with pytest.raises(UserError, match="nope.pth"):
        list(train(missing, tmp_path / "run3"))
