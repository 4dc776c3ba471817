"""A run sized to the time the user has (``train.minutes``).

The loop times its first steps, then fixes the run's length so that the steps, the
validations, previews, checkpoints and the final export all end within the budget;
``val_every`` / ``preview_every`` / ``checkpoint_every`` follow the new length, and the
λ ramp (a fraction of the steps) with them. The first steps are few and often slowed by
whatever else starts with the run (another run's set-up, the noise fit), so once the run
has trained a while longer (``REFINE_AFTER_S``, ``REFINE_AFTER_SHARE``) the budget looks
at the rate again, monitoring left out, and resizes the run once more: a run sized on a
slow start no longer ends minutes early. If the machine slows down afterwards, the
run ends early at the deadline (as finished, with its final validation and export, and
``cut_from`` set to the steps it had planned). Paused time does not count (``paused_for``).
The config is never changed: the length lives in a ``Schedule``, and the budget acts on
the loop only through ``BudgetHook``, which answers a ``Resized`` event.

    hook = BudgetHook(TimeBudget(minutes=8, began=time.perf_counter()), start=0)
    resized = hook.after_step(step, schedule, now)   # None, or the new Schedule as an event
    hook.budget.paused_for(seconds)                  # after a pause: the deadline moves with it
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .config import TrainConfig
from .events import Resized

SKIP_STEPS = 2  # the first steps are slow (allocations, caches): not measured
MIN_MEASURE_STEPS = 4
MIN_MEASURE_S = 3.0
VALIDATIONS = 5  # per run, the last one at the end
PREVIEWS = 10
CHECKPOINTS = 2  # besides the final one
CHECKPOINT_S = 1.0  # assumed cost of one checkpoint write
EXPORT_S = 1.0  # assumed cost of the export at the end
# the second look at the rate: this long after sizing, and at least this share of the budget
REFINE_AFTER_S = 30.0
REFINE_AFTER_SHARE = 0.15


@dataclass(frozen=True)
class Schedule:
    """The run's length and bookkeeping intervals, as the loop reads them.

    Starts as the config's (``Schedule.of``); a time budget replaces it once, after
    timing the first steps, and again if the deadline cuts the run short.
    """

    steps: int
    val_every: int
    preview_every: int
    checkpoint_every: int
    log_every: int

    @classmethod
    def of(cls, train: TrainConfig) -> Schedule:
        return cls(
            train.steps,
            train.val_every,
            train.preview_every,
            train.checkpoint_every,
            train.log_every,
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """What a budget allows: the run's length and its bookkeeping intervals."""

    steps: int
    val_every: int
    preview_every: int
    checkpoint_every: int
    log_every: int
    step_s: float  # measured seconds per step


def plan_run(
    *,
    budget_s: float,
    elapsed_s: float,
    done: int,
    step_s: float,
    val_s: float,
    preview_s: float,
    log_every: int,
) -> Plan:
    """Steps that fit ``budget_s`` after ``elapsed_s`` and ``done`` steps at ``step_s`` each.

    The remaining time pays for the steps and for ``VALIDATIONS`` validations (``val_s``
    each), ``PREVIEWS`` previews, ``CHECKPOINTS + 1`` checkpoints and the export.
    """
    overhead = (
        VALIDATIONS * val_s + PREVIEWS * preview_s + (CHECKPOINTS + 1) * CHECKPOINT_S + EXPORT_S
    )
    left = budget_s - elapsed_s - overhead
    steps = done + max(1, int(left / max(step_s, 1e-6)))
    return Plan(
        steps=steps,
        val_every=max(1, round(steps / VALIDATIONS)),
        preview_every=max(1, round(steps / PREVIEWS)),
        checkpoint_every=max(1, round(steps / (CHECKPOINTS + 1))),
        log_every=max(1, min(log_every, steps // 50)),
        step_s=step_s,
    )


def end_reserve_s(val_s: float, preview_s: float) -> float:
    """Seconds the end of a run needs: a validation, a preview, a checkpoint, the export."""
    return val_s + preview_s + CHECKPOINT_S + EXPORT_S


class TimeBudget:
    """Measures the first steps, then sizes the run; afterwards guards the deadline."""

    def __init__(self, minutes: float, began: float) -> None:
        self.budget_s = float(minutes) * 60.0
        self.began = began
        self.deadline = began + self.budget_s
        self.plan: Plan | None = None
        self._t0: float | None = None  # time after the skipped warm-up steps
        self._n = 0
        self.val_s = 0.0  # the slowest validation (with previews) seen so far
        self.preview_s = 0.0
        self._last = began  # when the last step ended
        self.last_step_s = 0.0  # how long it took (the machine may have slowed down)
        self.ran_out = False  # the deadline ended the run before its planned steps
        self.cut_from: int | None = None  # the steps planned then (None: not sized yet)
        self.refined = False  # the second look at the rate has been taken
        self._sized_at = 0.0  # when the run was sized, and at which step
        self._sized_step = 0
        self._monitor_s = 0.0  # seconds since then spent validating, previewing, checking

    def paused_for(self, seconds: float) -> None:
        """The run was paused ``seconds``: none of it counts against the budget."""
        self.began += seconds
        self.deadline += seconds
        self._last += seconds
        if self._t0 is not None:
            self._t0 += seconds
        self._sized_at += seconds

    @property
    def planned(self) -> bool:
        return self.plan is not None

    def step_done(self, steps_done: int, now: float) -> bool:
        """Record a finished step; True when enough is measured and no plan exists yet."""
        self.last_step_s, self._last = now - self._last, now
        if self.plan is not None:
            return False
        if steps_done == SKIP_STEPS or (self._t0 is None and steps_done > SKIP_STEPS):
            self._t0, self._n = now, 0
            return False
        if self._t0 is None:
            return False
        self._n += 1
        return self._n >= MIN_MEASURE_STEPS and now - self._t0 >= MIN_MEASURE_S

    def sized(self, schedule: Schedule, step: int, now: float) -> Schedule:
        """The steps and intervals that fit the rest of the budget."""
        assert self._t0 is not None and self._n > 0
        self._sized_at, self._sized_step, self._monitor_s = now, step, 0.0
        return self._replan(schedule, step, now, (now - self._t0) / self._n)

    def refine_due(self, step: int, now: float) -> bool:
        """True once: the run has trained long enough since sizing for a better rate."""
        if self.plan is None or self.refined or self.ran_out:
            return False
        waited = now - self._sized_at
        return (
            waited >= max(REFINE_AFTER_S, REFINE_AFTER_SHARE * self.budget_s)
            and step - self._sized_step >= MIN_MEASURE_STEPS
        )

    def refine(self, schedule: Schedule, step: int, now: float) -> Schedule:
        """The steps and intervals that fit the rest of the budget at the rate measured
        since sizing (validations and previews left out)."""
        assert self.plan is not None
        self.refined = True
        trained_s = max(now - self._sized_at - self._monitor_s, 1e-6)
        return self._replan(schedule, step, now, trained_s / max(step - self._sized_step, 1))

    def _replan(self, schedule: Schedule, step: int, now: float, step_s: float) -> Schedule:
        """The plan for the rest of the budget at ``step_s`` a step, as a ``Schedule``."""
        self.plan = plan_run(
            budget_s=self.budget_s,
            elapsed_s=now - self.began,
            done=step,
            step_s=step_s,
            val_s=self.val_s,
            preview_s=self.preview_s,
            log_every=schedule.log_every,
        )
        p = self.plan
        return Schedule(p.steps, p.val_every, p.preview_every, p.checkpoint_every, p.log_every)

    def out_of_time(self, now: float) -> bool:
        """True when another step like the last one would leave no room for the end of the
        run (a validation, a preview, a checkpoint, the export); one that ends just in time fits."""
        return now + self.last_step_s > self.deadline - end_reserve_s(self.val_s, self.preview_s)

    def cut(self, schedule: Schedule, step: int) -> Schedule:
        """``schedule`` ending at ``step``: the deadline came before the planned steps."""
        self.ran_out = True
        self.cut_from = schedule.steps if self.plan is not None else None
        return replace(schedule, steps=step)

    def monitored(self, seconds: float, validation: bool = True) -> None:
        """Monitoring (a validation with previews, else previews or diagnostics alone)
        took ``seconds``: the end will need as long as the slowest validation, and none
        of it is training time."""
        if validation:
            self.val_s = max(self.val_s, seconds)
        self._monitor_s += seconds

    def eta_s(self, now: float, rate_eta_s: float | None = None) -> float:
        """Seconds left: the budget's rest before a plan, then the measured rate's (capped)."""
        left = max(0.0, self.deadline - now)
        if self.plan is None or rate_eta_s is None:
            return left
        return min(left, rate_eta_s + end_reserve_s(self.val_s, self.preview_s))


class BudgetHook:
    """The time budget as a hook of the loop (called after every step).

    Once the first steps are timed it sizes the run, and once more when it has trained a
    while longer (a better rate); later it ends the run at the deadline. Each time it
    answers a ``Resized`` event with the new ``Schedule``; the loop reads its length from
    that and never changes the config.
    """

    def __init__(self, budget: TimeBudget, start: int) -> None:
        self.budget = budget
        self.start = start  # the step the run began at (steps before it are not timed)

    def after_step(self, step: int, schedule: Schedule, now: float) -> Resized | None:
        budget = self.budget
        if budget.step_done(step - self.start, now):
            new = budget.sized(schedule, step, now)
        elif step < schedule.steps and budget.out_of_time(now):
            new = budget.cut(schedule, step)
        elif step < schedule.steps and budget.refine_due(step, now):
            new = budget.refine(schedule, step, now)
            if new.steps == schedule.steps:
                return None
        else:
            return None
        return Resized(
            step=step, **new.to_dict(), out_of_time=budget.ran_out, planned_steps=budget.cut_from
        )

    def shown_total(self, steps: int) -> int:
        """The length a budgeted run reports: 0 before it is sized, the planned steps after
        the deadline cut it short (the schedule then ends at the step it stopped at)."""
        if self.budget.cut_from is not None:
            return self.budget.cut_from
        return steps if self.budget.planned else 0


def schedule_of(event: Resized) -> Schedule:
    """The ``Schedule`` a ``Resized`` event carries."""
    return Schedule(
        event.steps, event.val_every, event.preview_every, event.checkpoint_every, event.log_every
    )


__all__ = [
    "BudgetHook",
    "Plan",
    "Schedule",
    "TimeBudget",
    "end_reserve_s",
    "plan_run",
    "schedule_of",
]
