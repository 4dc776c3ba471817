"""λ w chosen by a short trial (issue 18, item 2): each candidate from the same start,
the best one's weights and λ go on, a resume keeps the choice, and a run that cannot
score a trial says why and trains with its configured λ."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import tiny_config, write_project

import noiseda_core.train as train_module
from noiseda_core.checkpoint import checkpoint_path, load_resume_state
from noiseda_core.config import apply_overrides
from noiseda_core.errors import UserError
from noiseda_core.events import (
    Checkpoint,
    Progress,
    Started,
    StrengthChosen,
    Validation,
    event_from_json,
)
from noiseda_core.monitor import RunMonitor
from noiseda_core.run_setup import setup_run
from noiseda_core.step import TrainStep
from noiseda_core.strength_trial import StrengthTrial
from noiseda_core.train import lambda_for, train

TRIAL = (
    "train.lambda_choice=trial",
    "train.lambda_candidates=0.2,5",
    "train.lambda_trial_steps=2",
    "train.steps=8",
    "train.val_every=4",
    "train.preview_every=8",
    "train.checkpoint_every=6",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("trial"), n_syn=6, n_real=3, size=64)


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("scores", [(30.0, 31.0), (31.0, 30.0)])
def test_each_candidate_starts_from_the_same_state_and_the_best_goes_on(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scores: tuple[float, float]
) -> None:
    """The scores are the measurement (replaced); the choice, the restore and the λ the run
    goes on with are the code under test."""
    runs: list[Any] = []
    monkeypatch.setattr(
        train_module, "setup_run", lambda *a: runs.append(setup_run(*a)) or runs[-1]
    )
    at_start: dict[int, dict[str, torch.Tensor]] = {}
    original_strength_at = StrengthTrial.strength_at

    def strength_at(self: StrengthTrial, step: int) -> Any:
        if step % self.steps == 0:  # the first step of a candidate
            at_start[step] = _weights(runs[0].parts.objective)
        return original_strength_at(self, step)

    monkeypatch.setattr(StrengthTrial, "strength_at", strength_at)
    fake = iter(scores)
    scored: dict[int, dict[str, torch.Tensor]] = {}
    original_validate = RunMonitor.validate

    def validate(self: RunMonitor, model: torch.nn.Module, step: int) -> Validation | None:
        event = original_validate(self, model, step)
        if step in (2, 4) and step not in scored and event is not None:  # the trial's scores
            scored[step] = _weights(runs[0].parts.objective)
            return replace(event, psnr=next(fake))
        return event

    monkeypatch.setattr(RunMonitor, "validate", validate)
    goes_on: list[dict[str, torch.Tensor]] = []
    original_call = TrainStep.__call__
    calls = [0]

    def call(self: TrainStep, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 5:  # the first step after the trial (steps 1–4 were the trial's)
            goes_on.append(_weights(runs[0].parts.objective))
        return original_call(self, *args, **kwargs)

    monkeypatch.setattr(TrainStep, "__call__", call)

    cfg = tiny_config(project, *TRIAL)
    events = list(train(cfg, tmp_path / "run"))

    assert _same(at_start[0], at_start[2])  # the second candidate began where the first did
    assert not _same(scored[2], scored[4])
    winner = 0 if scores[0] > scores[1] else 1
    assert _same(goes_on[0], scored[2 * (winner + 1)])  # the run goes on with the winner
    chosen = [e for e in events if isinstance(e, StrengthChosen)]
    assert len(chosen) == 1
    event = chosen[0]
    assert (event.step, event.candidates, event.scores, event.trial_steps, event.source) == (
        4,
        [0.2, 5.0],
        list(scores),
        2,
        "val",
    )
    weight = (0.2, 5.0)[winner]
    assert event.lambda_weight == weight
    assert "λ" in event.describe() and f"{max(scores):.2f} dB" in event.describe()
    lams = {e.step: e.lam for e in events if isinstance(e, Progress)}
    assert lams[1] == pytest.approx(lambda_for(0, cfg, 8, 0.2))
    assert lams[3] == pytest.approx(lambda_for(0, cfg, 8, 5.0))  # candidate 2's own ramp
    offset = 2  # the other candidate's steps: the winner goes on from its own step 2
    for step in range(5, 9):  # the chosen λ, its ramp counted from its own first step
        assert lams[step] == pytest.approx(lambda_for(step - 1 - offset, cfg, 8, weight))
    validations = [e for e in events if isinstance(e, Validation)]
    assert 4 in [e.step for e in validations]  # the winner's score, shown once
    assert [e.step for e in validations].count(2) == 0  # no curve point inside the trial
    checkpoint = [e for e in events if isinstance(e, Checkpoint)]
    assert checkpoint and checkpoint[0].step == 6
    state = load_resume_state(tmp_path / "run")
    assert state["strength"] == {"weight": weight, "offset": offset}


def test_a_resume_keeps_the_chosen_strength(project: Path, tmp_path: Path) -> None:
    cfg = tiny_config(project, *TRIAL)
    first = list(train(cfg, tmp_path / "run"))
    chosen = next(e for e in first if isinstance(e, StrengthChosen))
    state = load_resume_state(tmp_path / "run")
    offset = state["strength"]["offset"]
    again = list(train(None, tmp_path / "run", resume=True, overrides=["train.steps=10"]))
    assert not any(isinstance(e, StrengthChosen) for e in again)
    lams = {e.step: e.lam for e in again if isinstance(e, Progress)}
    for step in (9, 10):
        expected = lambda_for(step - 1 - offset, cfg, 10, chosen.lambda_weight)
        assert lams[step] == pytest.approx(expected)
    from app.run_index import summarize
    from app.views.runs_view import score_text

    row = summarize(tmp_path / "run")  # the Runs page names the choice
    assert row.chosen_lambda == chosen.lambda_weight
    assert f"λ {chosen.lambda_weight:g}, chosen by trial" in score_text(row)


def test_a_run_that_cannot_score_a_trial_says_why_and_keeps_its_lambda(
    project: Path, tmp_path: Path
) -> None:
    cfg = tiny_config(project, *TRIAL, "train.keep_best=off")
    events = list(train(cfg, tmp_path / "off"))
    started = events[0]
    assert isinstance(started, Started)
    assert any("no validation or proxy pairs" in note for note in started.notes)
    assert not any(isinstance(e, StrengthChosen) for e in events)
    assert all(
        e.lam == pytest.approx(lambda_for(e.step - 1, cfg, 8))
        for e in events
        if isinstance(e, Progress)
    )
    short = tiny_config(project, *TRIAL, "train.steps=6", "train.checkpoint_every=3")
    notes = next(iter(train(short, tmp_path / "short")))
    assert isinstance(notes, Started)
    assert any("more than half" in note for note in notes.notes)


def test_a_stop_inside_the_trial_keeps_no_checkpoint(project: Path, tmp_path: Path) -> None:
    from noiseda_core.control import RunControl

    control = RunControl()
    cfg = tiny_config(project, *TRIAL)
    events = []
    for event in train(cfg, tmp_path / "run", control=control):
        events.append(event)
        if isinstance(event, Progress) and event.step == 3:
            control.request_stop()
    assert not any(isinstance(e, (Checkpoint, StrengthChosen)) for e in events)
    assert not checkpoint_path(tmp_path / "run").exists()


def test_candidates_are_checked_with_one_clear_message(project: Path) -> None:
    cfg = tiny_config(project)
    for bad in ("0.2", "0.2,0.2", "a,b", "-1,2", "1,2,3,4,5,6,7"):
        with pytest.raises(UserError, match="train.lambda_candidates"):
            apply_overrides(cfg, [f"train.lambda_candidates={bad}"])
    assert apply_overrides(cfg, ["train.lambda_candidates=0.2, 2"]).train.candidate_weights() == (
        0.2,
        2.0,
    )


def test_the_event_round_trips_with_a_diverged_candidate() -> None:
    event = StrengthChosen(
        step=60, lambda_weight=0.2, candidates=[0.2, 2.0], scores=[31.5, math.nan], source="proxy"
    )
    again = event_from_json(event.to_json())
    assert isinstance(again, StrengthChosen)
    assert again.candidates == [0.2, 2.0] and again.scores[0] == 31.5
    assert math.isnan(again.scores[1]) and "diverged" in again.describe()


def test_a_budget_too_short_for_the_trial_ends_it_in_the_first_candidate(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The budget's sizing is the measurement (replaced: it says 10 steps); ending the
    trial and going on with the first candidate is the decision under test."""
    from noiseda_core.budget import Schedule, TimeBudget

    def sized(self: TimeBudget, schedule: Schedule, step: int, now: float) -> Schedule:
        self.plan = object()  # type: ignore[assignment]
        return Schedule(10, 5, 10, 10, 1)

    monkeypatch.setattr(TimeBudget, "sized", sized)
    monkeypatch.setattr(TimeBudget, "refine_due", lambda *_: False)  # a measurement too
    monkeypatch.setattr("noiseda_core.budget.MIN_MEASURE_S", 0.0)  # sized after 6 steps
    cfg = tiny_config(
        project, *TRIAL, "train.minutes=5", "train.steps=100", "train.lambda_trial_steps=8"
    )
    events = list(train(cfg, tmp_path / "run"))
    untried = [e for e in events if isinstance(e, StrengthChosen)]
    assert len(untried) == 1 and untried[0].scores == [] and untried[0].lambda_weight == 0.2
    assert "untried" in untried[0].describe()
    lams = {e.step: e.lam for e in events if isinstance(e, Progress)}
    assert max(lams) == 10
    for step in range(untried[0].step + 1, 11):  # the first candidate goes on, its own ramp
        assert lams[step] == pytest.approx(lambda_for(step - 1, cfg, 10, 0.2))
    from app.widgets.score_line import strength_text

    assert "too few steps" in strength_text(untried[0])
