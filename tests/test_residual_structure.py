"""The detail check (no ground truth): what a restorer removes from a real photo should be
noise; when it is the picture's detail, the score rises and keep-best refuses the weights."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import tiny_config, write_project
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file
from torch import nn

import noiseda_core.train as train_module
from noiseda_core.builtin import resolve_init_restorer
from noiseda_core.events import Finished, Progress, StrengthChosen, Validation, event_from_json
from noiseda_core.keep_best import KeepBest
from noiseda_core.monitor import RunMonitor
from noiseda_core.residual_structure import (
    MAX_RISE,
    mean_structure,
    residual_structure,
    wipes_detail,
)
from noiseda_core.run_setup import setup_run
from noiseda_core.step import TrainStep
from noiseda_core.strength_trial import StrengthTrial
from noiseda_core.train import train


def _photo(seed: int, size: int = 96) -> torch.Tensor:
    """A (3, S, S) picture with edges and texture: blocks, stripes and a disc."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.zeros((3, size, size))
    for c in range(3):
        img[c] = 0.3 + 0.2 * (x > rng.uniform(0.2, 0.8)) + 0.15 * np.sin(40 * y + c)
        img[c] += 0.25 * ((x - 0.5) ** 2 + (y - 0.5) ** 2 < rng.uniform(0.02, 0.08))
    return torch.from_numpy(img.clip(0, 1)).float()


def _blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = int(3 * sigma) + 1
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = k / k.sum()
    c = image.shape[0]
    x = F.conv2d(F.pad(image[:, None], (radius,) * 4, mode="reflect"), k.view(1, 1, 1, -1))
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return x[:, 0].reshape(c, *image.shape[1:])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), sigma=st.floats(0.01, 0.05))
def test_removing_only_the_noise_scores_low_and_wiping_detail_scores_high(
    seed: int, sigma: float
) -> None:
    clean = _photo(seed, size=192)
    noisy = (
        clean
        + sigma * torch.from_numpy(np.random.default_rng(seed).normal(size=clean.shape)).float()
    )
    ideal = residual_structure(noisy, clean)  # the residual is exactly the noise
    smoothed = residual_structure(noisy, _blur(noisy, 2.5))  # the detail went with it
    assert abs(ideal) < 0.15
    assert smoothed > ideal + MAX_RISE
    assert wipes_detail(smoothed, ideal) and not wipes_detail(ideal, ideal)


def test_small_images_are_left_out_and_no_start_means_no_verdict() -> None:
    tiny = torch.rand(3, 16, 16)
    assert mean_structure([tiny], [tiny * 0.5]) is None
    big = _photo(1)
    assert mean_structure([tiny, big], [tiny, big]) is not None
    assert not wipes_detail(0.9, None)


def _model(value: float) -> nn.Module:
    layer = nn.Conv2d(1, 1, 1)
    nn.init.constant_(layer.weight, value)
    return layer


def test_keep_best_refuses_higher_scoring_weights_that_wipe_detail_and_says_so() -> None:
    keeper = KeepBest("proxy")
    keeper.offer(0, 30.0, _model(1.0), structure=-0.05)
    assert keeper.offer(100, 30.5, _model(2.0), structure=0.05)  # detail kept: a gain
    assert not keeper.offer(200, 32.0, _model(3.0), structure=0.6)  # higher, but wipes
    assert not keeper.offer(300, 29.0, _model(4.0), structure=0.6)  # lower: not a refusal
    kept = keeper.kept
    assert (kept.kind, kept.step, kept.refused) == ("best", 100, 1)
    assert "wiped detail off the real photos" in kept.describe()
    again = KeepBest()
    again.load_state_dict(keeper.state_dict())  # a resume keeps the start's check
    assert again.start_structure == -0.05 and again.refused == 1
    assert not again.offer(400, 33.0, _model(5.0), structure=0.5)
    target = _model(0.0)
    again.load_into(target)
    assert float(target.weight.detach()) == 2.0


def test_without_the_check_keep_best_ranks_by_score_alone() -> None:
    keeper = KeepBest("val")  # validation pairs: their PSNR is the truth, no check is given
    keeper.offer(0, 30.0, _model(1.0))
    assert keeper.offer(100, 32.0, _model(2.0))
    assert keeper.kept.refused == 0 and "wiped" not in keeper.kept.describe()


def test_the_events_carry_the_check_and_say_it() -> None:
    finished = Finished(step=500, kept="best", kept_step=100, kept_psnr=30.5, kept_refused=2)
    again = event_from_json(finished.to_json())
    assert isinstance(again, Finished) and again.kept_refused == 2
    assert again.refusal_note().startswith("2 validations scored higher")
    chosen = StrengthChosen(
        step=60,
        lambda_weight=0.2,
        candidates=[0.2, 2.0],
        scores=[28.0, 28.6],
        structures=[0.01, 0.55],
        wiped=["2"],
        source="proxy",
        trial_steps=30,
    )
    back = event_from_json(chosen.to_json())
    assert isinstance(back, StrengthChosen) and back.wiped == ["2"]
    assert "λ 2: 28.60 dB, wiped detail" in back.describe()
    assert back.describe().startswith("λ 0.2 chosen")
    none_passed = StrengthChosen(
        step=60,
        lambda_weight=0.2,
        candidates=[0.2, 2.0],
        scores=[math.nan, 28.6],
        wiped=["2"],
        source="proxy",
        trial_steps=30,
    )
    assert "from the start again" in none_passed.describe()
    all_wiped = replace(none_passed, scores=[28.0, 28.6], wiped=["0.2", "2"])
    assert "no candidate kept the real photos' detail" in all_wiped.describe()
    assert "the first goes on" in all_wiped.describe()


# ---------------------------------------------------------------- in a run (no validation pairs)

RUN = (
    "data.val=",
    "model.init_restorer=builtin:unet-t",
    "train.steps=8",
    "train.val_every=4",
    "train.preview_every=8",
    "train.checkpoint_every=8",
)


TRIAL = (
    "train.lambda_choice=trial",
    "train.lambda_candidates=0.2,5",
    "train.lambda_trial_steps=2",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("detail"), n_syn=10, n_real=3, size=96)


def _replace_proxy_measurements(
    monkeypatch: pytest.MonkeyPatch, by_call: list[tuple[float, float]]
) -> None:
    """Proxy PSNR and detail check replaced, in the order the run validates."""
    calls = iter(by_call)
    original = RunMonitor.validate_proxy

    def validate_proxy(self: RunMonitor, model: nn.Module, step: int) -> Validation | None:
        event = original(self, model, step)
        assert event is not None and event.real_structure is not None  # it was measured
        psnr, structure = next(calls)
        return replace(event, psnr=psnr, real_structure=structure)

    monkeypatch.setattr(RunMonitor, "validate_proxy", validate_proxy)


def test_a_run_whose_better_scores_wipe_detail_exports_its_start(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _replace_proxy_measurements(monkeypatch, [(30.0, -0.05), (31.0, 0.5), (32.0, 0.6)])
    events = list(train(tiny_config(project, *RUN), tmp_path / "run"))
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert (finished.kept, finished.kept_step, finished.kept_refused) == ("start", 0, 2)
    start = load_file(str(resolve_init_restorer("builtin:unet-t")))
    exported = load_file(str(tmp_path / "run" / "model.safetensors"))
    assert all(torch.equal(start[k], exported[k]) for k in start)
    from app.run_index import summarize  # the Runs page and the score line say why
    from app.views.runs_view import score_text
    from app.widgets.score_line import kept_text

    assert "2 better scores wiped detail, not kept" in score_text(summarize(tmp_path / "run"))
    assert "2 validations scored higher" in kept_text(finished)


def test_a_trial_candidate_that_wipes_detail_is_not_chosen(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the start, then λ 0.2 (lower score, detail kept), then λ 5 (higher, wipes), then step 8
    _replace_proxy_measurements(
        monkeypatch, [(30.0, -0.05), (30.5, 0.0), (31.5, 0.55), (30.8, 0.02)]
    )
    events = list(train(tiny_config(project, *RUN, *TRIAL), tmp_path / "run"))
    chosen = [e for e in events if isinstance(e, StrengthChosen)]
    assert len(chosen) == 1 and chosen[0].lambda_weight == 0.2
    assert chosen[0].wiped == ["5"] and chosen[0].structures == [0.0, 0.55]
    assert "λ 5: 31.50 dB, wiped detail" in chosen[0].describe()


def _trial_weights(
    monkeypatch: pytest.MonkeyPatch, at_call: int
) -> tuple[dict[str, torch.Tensor], list[dict[str, torch.Tensor]]]:
    """Captures the restorer's weights at the end of λ 0.2's trial steps (step 2) and just
    before training step ``at_call`` (counted from 1); filled while the run trains."""
    runs: list[Any] = []
    monkeypatch.setattr(
        train_module, "setup_run", lambda *a: runs.append(setup_run(*a)) or runs[-1]
    )
    first_end: dict[str, torch.Tensor] = {}
    before_call: list[dict[str, torch.Tensor]] = []
    original_after_step, original_call = StrengthTrial.after_step, TrainStep.__call__

    def after_step(self: StrengthTrial, run: Any, step: int) -> Any:
        if step == 2:
            first_end.update(_weights(run.parts.objective))
        return original_after_step(self, run, step)

    calls = [0]

    def call(self: TrainStep, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == at_call:
            before_call.append(_weights(runs[0].parts.objective))
        return original_call(self, *args, **kwargs)

    monkeypatch.setattr(StrengthTrial, "after_step", after_step)
    monkeypatch.setattr(TrainStep, "__call__", call)
    return first_end, before_call


def _weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return bool(a) and a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_trial_choice_that_later_wipes_detail_steps_down_to_the_smaller_candidate(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """λ 5 wins the trial with its detail kept, then wipes detail at step 8: the run goes
    back to λ 0.2's state at the end of its trial steps and trains on with λ 0.2."""
    _replace_proxy_measurements(
        monkeypatch, [(30.0, -0.05), (30.5, 0.0), (31.5, 0.05), (31.8, 0.6), (31.0, 0.02)]
    )
    first_end, after_step_down = _trial_weights(monkeypatch, at_call=9)  # after step 8
    cfg = tiny_config(project, *RUN, "train.steps=12", *TRIAL)
    events = list(train(cfg, tmp_path / "run"))
    chosen = [e for e in events if isinstance(e, StrengthChosen)]
    assert [(e.step, e.lambda_weight, e.lowered_from) for e in chosen] == [
        (4, 5.0, None),
        (8, 0.2, 5.0),
    ]
    assert "the weights of λ 5 wiped detail off the real photos" in chosen[1].describe()
    assert _same(first_end, after_step_down[0])
    lams = [e.lam for e in events if isinstance(e, Progress) and e.step > 8]
    assert lams and max(lams) <= 0.2  # λ 0.2 from its own step 2 on
    from app.run_index import summarize

    assert summarize(tmp_path / "run").chosen_lambda == 0.2
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert (finished.kept_step, finished.kept_refused) == (4, 1)  # step 8 was refused


def test_when_every_candidate_wipes_detail_the_first_goes_on_from_its_own_end_state(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _replace_proxy_measurements(monkeypatch, [(30.0, -0.05), (30.5, 0.5), (31.5, 0.6), (31.0, 0.0)])
    first_end, goes_on = _trial_weights(monkeypatch, at_call=5)  # after the trial
    events = list(train(tiny_config(project, *RUN, *TRIAL), tmp_path / "run"))
    chosen = [e for e in events if isinstance(e, StrengthChosen)]
    assert [(e.lambda_weight, e.wiped) for e in chosen] == [(0.2, ["0.2", "5"])]
    assert _same(first_end, goes_on[0])


def test_reopening_a_run_shows_the_detail_check_and_what_was_kept(
    qtbot: Any, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.run_index import summarize
    from app.views.training_view import TrainingView

    _replace_proxy_measurements(monkeypatch, [(30.0, -0.05), (31.0, 0.5), (32.0, 0.6)])
    list(train(tiny_config(project, *RUN), tmp_path / "run"))
    view = TrainingView()
    qtbot.addWidget(view)
    view.show_run(summarize(tmp_path / "run"))
    text = view.scores.text()
    assert "Detail check</b> on your real photos: +0.60 (the start -0.05)" in text
    assert "Kept: the starting model, unchanged</b>: no step that kept the detail beat" in text
    assert "2 validations scored higher on the proxy pairs" in text
