"""λ w chosen per dataset by a short trial, without ground truth (issue 18, item 2).

With ``train.lambda_choice = "trial"`` the first ``n × K`` steps of a fresh run try each
of the ``n`` values of ``train.lambda_candidates`` for ``K = train.lambda_trial_steps``
steps, every one from the same state (weights, optimizer, EMA, the diffusion noise's
generator). Each is scored the way the keep-best rule scores the run: on the validation
pairs, else on the proxy pairs (held-out clean photos with the noise fitted to the user's
real photos, ``proxy.py``), where a candidate that wipes detail off the real photos (the
detail check, ``residual_structure.py``) cannot win. The run goes on with the best
candidate's weights and λ w; the first candidate wins a tie (``MIN_GAIN_DB``), so list
the safe value first. When every candidate wipes detail (the first steps after the
start often do, whatever λ w), the first goes on from where its trial steps ended; when
every one diverged, the run goes on from the start with the first.

A short trial can pick a λ w that only shows its harm later. So the run keeps the end
state of each candidate with a smaller λ w, and when a later proxy validation finds that
the weights wipe detail off the real photos, it steps down: back to the largest smaller
candidate's state, going on with its λ w (``after_validation``; once per candidate, and
not after a resume, which does not carry these states).

The step counter counts every step taken, so progress, the time budget and the curves
stay monotonic; the chosen candidate's own step is ``step − Strength.offset``.

    trial = StrengthTrial.begin(run)   # None: λ w as configured (``skip_reason`` says why)
    strength = trial.strength_at(step) if trial and trial.active(step) else run.strength
    events = trial.after_step(run, step)   # scores a candidate at the end of its steps
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .config import LambdaChoice, Mode
from .events import Event, StrengthChosen, Validation
from .keep_best import MIN_GAIN_DB
from .residual_structure import wipes_detail

if TYPE_CHECKING:
    from .run_setup import Run


@dataclass(frozen=True)
class Strength:
    """The λ w a run trains with, and how many of its steps were not this candidate's own
    (the other candidates' trial steps): its λ ramp counts from ``step − offset``."""

    weight: float
    offset: int = 0

    def to_dict(self) -> dict[str, float | int]:
        return {"weight": self.weight, "offset": self.offset}

    @classmethod
    def from_dict(cls, state: object, default: Strength) -> Strength:
        """From a checkpoint's ``strength`` entry; ``default`` when it has none (a run of
        an older version, or one with a fixed λ)."""
        if not isinstance(state, dict):
            return default
        weight, offset = state.get("weight"), state.get("offset")  # pyright: ignore[reportUnknownMemberType]
        if not isinstance(weight, (int, float)) or not isinstance(offset, int):
            raise ValueError(f"damaged strength entry {state!r}")
        return cls(float(weight), offset)


def skip_reason(run: Run) -> str | None:
    """Why a run set to ``trial`` trains with its configured λ w instead (None: it tries)."""
    t = run.cfg.train
    if t.lambda_choice != LambdaChoice.TRIAL or run.resumed:
        return None
    fixed = f"train.lambda_weight {t.lambda_weight:g} is used"
    if t.mode == Mode.BASELINE:
        return None  # nothing to choose: baseline mode has no diffusion term
    if run.ctx.enabled:
        return f"the λ trial runs in one process only; {fixed}"
    if run.keeper is None:
        return f"no validation or proxy pairs to score a λ trial on; {fixed}"
    if t.warmup_restorer_steps or t.denoiser_pretrain_steps:
        return f"the λ trial needs a run without warm-up phases; {fixed}"
    n, k = len(t.candidate_weights()), t.lambda_trial_steps
    if t.minutes <= 0 and 2 * n * k > t.steps:
        return (
            f"{n} λ candidates × {k} trial steps would take more than half of the run's "
            f"{t.steps} steps; {fixed}"
        )
    return None


def wants_trial(run: Run) -> bool:
    """A fresh noise-da run set to ``trial`` that nothing keeps from trying."""
    t = run.cfg.train
    tried = t.lambda_choice == LambdaChoice.TRIAL and not run.resumed and t.mode != Mode.BASELINE
    return tried and skip_reason(run) is None


@dataclass
class _Best:
    """The best candidate so far (its end state is ``StrengthTrial.ends[index]``, or the
    live one when it was the last)."""

    index: int
    psnr: float
    validation: Validation


@dataclass
class _Fallback:
    """A smaller candidate's end state, to step down to."""

    weight: float
    state: dict[str, Any]


class StrengthTrial:
    """Runs the candidates one after the other over the run's first steps (a hook of the
    loop: ``strength_at`` before a step, ``after_step`` after it)."""

    def __init__(self, run: Run) -> None:
        t = run.cfg.train
        self.candidates = t.candidate_weights()
        self.steps = t.lambda_trial_steps
        self.end = run.start + len(self.candidates) * self.steps
        self.start = run.start
        self.source = run.keeper.source if run.keeper is not None else ""
        self.scores: list[float] = []
        self.structures: list[float] = []
        self.wiped: list[str] = []
        self.best: _Best | None = None
        self.initial = _snapshot(run)
        self.ends: dict[int, dict[str, Any]] = {}  # each candidate's end state, until chosen
        self.fallbacks: list[_Fallback] = []  # smaller candidates, largest first

    @classmethod
    def begin(cls, run: Run) -> StrengthTrial | None:
        return cls(run) if wants_trial(run) else None

    def active(self, step: int) -> bool:
        """Whether ``step`` (steps done so far) is still inside the trial."""
        return step < self.end

    def strength_at(self, step: int) -> Strength:
        """The candidate that trains the step after ``step`` steps."""
        index = (step - self.start) // self.steps
        return Strength(self.candidates[index], self.start + index * self.steps)

    def after_step(self, run: Run, step: int) -> list[Event]:
        """At the end of a candidate's steps: score it, then set up the next candidate (the
        starting state again) or, after the last, go on with the best one's state."""
        if (step - self.start) % self.steps or step > self.end:
            return []
        index = (step - self.start) // self.steps - 1
        validation = self._score(run, step)
        psnr = validation.psnr if validation is not None else math.nan
        self.scores.append(psnr)
        structure = validation.real_structure if validation is not None else None
        self.structures.append(math.nan if structure is None else structure)
        start = run.keeper.start_structure if run.keeper is not None else None
        wiped = structure is not None and wipes_detail(structure, start)
        if wiped:
            self.wiped.append(f"{self.candidates[index]:g}")
        last = step == self.end
        if (
            validation is not None
            and not wiped
            and (self.best is None or psnr >= self.best.psnr + MIN_GAIN_DB)
        ):
            self.best = _Best(index, psnr, validation)
        if not last:
            self.ends[index] = _snapshot(run)
            _restore(run, self.initial)
            return []
        return self._finish(run)

    def resized(self, run: Run, step: int, steps: int) -> StrengthChosen | None:
        """A time budget sized the run to ``steps``: when the trial would take more than
        half of it and the first candidate is still training, the trial ends here and the
        run goes on with that candidate (the event says why); None otherwise."""
        if not self.active(step) or 2 * (self.end - self.start) <= steps - self.start:
            return None
        if step - self.start >= self.steps:  # past the first candidate: let the trial finish
            return None
        self.end = step  # no longer active
        run.strength = Strength(self.candidates[0], self.start)
        self.initial = {}
        return StrengthChosen(
            step=step,
            lambda_weight=self.candidates[0],
            candidates=list(self.candidates),
            scores=[],
            source=self.source,
            trial_steps=0,
        )

    def abandon(self, run: Run) -> None:
        """A stop during the trial: back to the starting state (nothing was chosen)."""
        _restore(run, self.initial)

    def _score(self, run: Run, step: int) -> Validation | None:
        """The candidate's EMA weights on the keep-best pairs; None when it diverged."""
        if run.monitor is None or run.step.went_nonfinite():
            return None
        run.load_eval_weights()
        if self.source == "val":
            return run.monitor.validate(run.parts.eval_restorer, step)
        return run.monitor.validate_proxy(run.parts.eval_restorer, step)

    def _finish(self, run: Run) -> list[Event]:
        best = self.best
        if best is None and 0 in self.ends and not math.isnan(self.scores[0]):
            # every candidate wiped detail (early steps often do): the first, the safe one,
            # goes on from its own end state
            _restore(run, self.ends[0])
            chosen, events = self.candidates[0], []
            run.strength = Strength(chosen, self.start + (len(self.candidates) - 1) * self.steps)
        elif best is None:  # every candidate diverged: the run goes on from the start
            _restore(run, self.initial)
            run.strength = Strength(self.candidates[0], self.end)  # its own step 0 is ``end``
            chosen, events = self.candidates[0], []
        else:
            last = len(self.candidates) - 1
            if best.index != last and not math.isnan(self.scores[last]):
                self.ends[last] = _snapshot(run)  # the live state is the last candidate's
            if best.index in self.ends:  # not the last candidate: back to its end state
                _restore(run, self.ends[best.index])
            chosen = self.candidates[best.index]
            self.fallbacks = [
                _Fallback(self.candidates[i], state)
                for i, state in sorted(self.ends.items(), key=lambda e: -self.candidates[e[0]])
                if self.candidates[i] < chosen and not math.isnan(self.scores[i])
            ]
            run.strength = Strength(chosen, self.start + (len(self.candidates) - 1) * self.steps)
            run.load_eval_weights()
            winner = replace(best.validation, step=self.end)
            if run.keeper is not None:
                run.keeper.offer(self.end, best.psnr, run.parts.eval_restorer)
            events = [winner]
        start = run.keeper.start_psnr if run.keeper is not None else None
        chosen_event = StrengthChosen(
            step=self.end,
            lambda_weight=chosen,
            candidates=list(self.candidates),
            scores=list(self.scores),
            start_psnr=start,
            source=self.source,
            trial_steps=self.steps,
            structures=list(self.structures),
            wiped=list(self.wiped),
        )
        self.initial, self.ends = {}, {}
        self.best = None
        return [chosen_event, *events]

    def after_validation(self, run: Run, step: int, validation: Validation) -> list[Event]:
        """After the trial: when ``validation`` (a proxy score) finds the weights wiping
        detail off the real photos, step down to the largest smaller candidate's end state
        and go on with its λ w; the event says so. [] otherwise."""
        start = run.keeper.start_structure if run.keeper is not None else None
        structure = validation.real_structure
        if not self.fallbacks or structure is None or not wipes_detail(structure, start):
            return []
        fallback = self.fallbacks.pop(0)
        previous = run.strength.weight
        _restore(run, fallback.state)
        run.strength = Strength(fallback.weight, step - self.steps)  # its own step: ``steps``
        return [
            StrengthChosen(
                step=step,
                lambda_weight=fallback.weight,
                candidates=list(self.candidates),
                source=self.source,
                trial_steps=self.steps,
                lowered_from=previous,
                structures=[structure],
                start_structure=start,
            )
        ]


def _snapshot(run: Run) -> dict[str, Any]:
    """Copies of everything a candidate's steps change."""
    parts = run.parts
    return copy.deepcopy(
        {
            "objective": parts.objective.state_dict(),
            "optimizer": parts.optimizer.state_dict(),
            "ema": parts.ema.state_dict(),
            "scaler": run.step.scaler.state_dict(),
            "rng": run.generator.get_state(),
        }
    )


def _restore(run: Run, snapshot: dict[str, Any]) -> None:
    """Load ``snapshot`` (copied again: the optimizer and the EMA adopt the tensors they
    are given, and the snapshot may be needed once more)."""
    state = copy.deepcopy(snapshot)
    parts = run.parts
    parts.objective.load_state_dict(state["objective"])
    parts.optimizer.load_state_dict(state["optimizer"])
    parts.ema.load_state_dict(state["ema"])
    if state["scaler"]:
        run.step.scaler.load_state_dict(state["scaler"])
    run.generator.set_state(state["rng"])
    run.step.finite.fill_(True)


__all__ = ["Strength", "StrengthTrial", "skip_reason", "wants_trial"]
