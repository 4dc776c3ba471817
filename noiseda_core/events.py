"""Small, picklable events that the training loop yields.

The CLI prints them, writes them to ``events.jsonl``, the GUI draws them and the
tests iterate them: one JSON object per line with ``"type"`` and ``"step"``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    """Base class: every event knows its step and its JSON ``type`` name."""

    type_name: ClassVar[str] = "event"
    step: int

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        return {"type": self.type_name, **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=True)


@dataclass(frozen=True)
class Started(Event):
    """The run began (or resumed): sizes the GUI needs to lay out its views."""

    type_name: ClassVar[str] = "started"
    total_steps: int = 0
    run_dir: str = ""
    device: str = ""
    precision: str = ""
    mode: str = ""
    world_size: int = 1
    global_batch: int = 0
    lr: float = 0.0
    restorer_params: int = 0
    denoiser_params: int = 0
    resumed: bool = False
    init_restorer: str = ""  # what the restorer started from ("" = from scratch)
    init_denoiser: str = ""  # what the denoiser started from, in words ("" = no denoiser)
    skipped_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. every image smaller than the patch
    wall_time: float | None = None  # when this start happened (Unix seconds)
    minutes: float | None = None  # a time budget sizes the run (total_steps 0 until it has)


@dataclass(frozen=True)
class Progress(Event):
    """Losses and speed, every ``train.log_every`` steps. ``loss_dif`` is None in baseline."""

    type_name: ClassVar[str] = "progress"
    total_steps: int = 0
    loss_res: float = 0.0
    loss_dif: float | None = None
    loss_mse: float | None = None
    loss_triplet: float | None = None
    loss_total: float = 0.0
    lam: float = 0.0
    lr: float = 0.0
    grad_norm: float = 0.0
    images_per_s: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float = 0.0
    phase: str = "joint"  # warmup-restorer | pretrain-denoiser | joint

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["lambda"] = data.pop("lam")  # cli.md names it "lambda"
        return data


@dataclass(frozen=True)
class Resized(Event):
    """A time budget set the run's length (after timing the first steps, and once more
    when it has trained a while longer and knows its rate better), or its
    deadline ended it at ``step`` (``out_of_time``; ``planned_steps``: the length it had
    been sized to, None when the deadline came even before the sizing).

    The progress total becomes ``planned_steps`` when set, else ``steps``; the intervals
    are the ones the rest of the run uses.
    """

    type_name: ClassVar[str] = "resized"
    steps: int = 0
    val_every: int = 0
    preview_every: int = 0
    checkpoint_every: int = 0
    log_every: int = 0
    out_of_time: bool = False  # the deadline ended the run at ``step``
    planned_steps: int | None = None  # the length it was sized to, when cut short after sizing

    @property
    def total_steps(self) -> int:
        """The length to show: the planned one when the deadline cut the run short."""
        return self.planned_steps if self.planned_steps is not None else self.steps


@dataclass(frozen=True)
class Validation(Event):
    """Metrics of the current EMA restorer on the validation pairs."""

    type_name: ClassVar[str] = "validation"
    psnr: float = 0.0
    ssim: float = 0.0
    psnr_input: float = 0.0  # the degraded input against the target, for reference
    count: int = 0
    psnr_start: float | None = None  # the starting (warm-start) restorer, for reference
    ssim_start: float | None = None
    ssim_input: float | None = None  # the degraded input's SSIM, for reference
    source: str = "val"  # "val": the user's validation pairs; "proxy": proxy pairs (proxy.py)
    # proxy scores only: detail in what the restorer removes from the real photos
    # (residual_structure.py); with the start's, it decides whether keep-best may keep them
    real_structure: float | None = None


@dataclass(frozen=True)
class Diagnostics(Event):
    """What the diffusion loss is doing, every ``train.log_every`` steps (noise-da modes).

    ``hinge_active``: fraction of batches since the last event whose triplet hinge
    was above zero (RS sends gradient only then); ``mse_pos`` / ``mse_neg``: the
    denoiser's noise MSE with the restored conditions and with the residual-swapped
    negatives; ``grad_res`` / ``grad_dif``: norm of the gradient reaching the
    restorer's weights from the pixel loss and from λ·L_dif (only from a step asked to
    ``diagnose``; off by default since issue 18: they said nothing about the real
    branch); ``noise_real_input`` /
    ``noise_real_restored``: a blind estimate of the noise σ (8-bit levels, at half
    resolution, ``noise_level.py``) in the fixed real crops before and after
    restoration (no ground truth needed), only on validation/preview steps.
    """

    type_name: ClassVar[str] = "diagnostics"
    hinge_active: float | None = None
    mse_pos: float | None = None
    mse_neg: float | None = None
    grad_res: float | None = None
    grad_dif: float | None = None
    noise_real_input: float | None = None
    noise_real_restored: float | None = None


@dataclass(frozen=True)
class Preview(Event):
    """Preview images written into the run folder (paths relative to it)."""

    type_name: ClassVar[str] = "preview"
    synthetic: str = ""  # input | restored | target strip
    real: list[str] = field(default_factory=list)  # input | restored strips


@dataclass(frozen=True)
class Checkpoint(Event):
    """A resume state was written (atomically)."""

    type_name: ClassVar[str] = "checkpoint"
    path: str = ""


@dataclass(frozen=True)
class StrengthChosen(Event):
    """A run chose λ w by trial (``strength_trial.py``): each candidate trained
    ``trial_steps`` from the same start and was scored on the keep-best pairs; the run
    goes on from ``step`` with the best one's weights."""

    type_name: ClassVar[str] = "strength"
    lambda_weight: float = 0.0  # the chosen λ w
    candidates: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # PSNR (dB) of each; NaN: it diverged
    start_psnr: float | None = None  # the starting model on the same pairs
    source: str = ""  # "val" or "proxy"
    trial_steps: int = 0
    # each candidate's detail check of the real photos (proxy trials; NaN: not measured)
    # and whether it wiped detail the start kept (such a candidate is not chosen)
    structures: list[float] = field(default_factory=list)
    wiped: list[str] = field(default_factory=list)  # the candidates (as "0.2") that did
    # a step down after the trial: the λ w the run had, and the start's detail check
    lowered_from: float | None = None
    start_structure: float | None = None

    def describe(self) -> str:
        """One line for people: what was chosen and on what evidence."""
        if self.lowered_from is not None:
            found = f"detail check {self.structures[0]:+.2f}" if self.structures else "detail check"
            start = (
                "" if self.start_structure is None else f", the start {self.start_structure:+.2f}"
            )
            return (
                f"λ {self.lambda_weight:g} from here: the weights of λ {self.lowered_from:g} "
                f"wiped detail off the real photos ({found}{start}); the run goes back to "
                f"λ {self.lambda_weight:g}'s state at the end of its trial"
            )
        if not self.scores:
            return (
                f"λ {self.lambda_weight:g}, the first candidate, untried: the time budget "
                "leaves too few steps for a λ trial"
            )
        pairs = "validation pairs" if self.source == "val" else "proxy pairs"
        tried = ", ".join(
            f"λ {w:g}: {'diverged' if math.isnan(s) else f'{s:.2f} dB'}"
            + (", wiped detail off the real photos" if f"{w:g}" in self.wiped else "")
            for w, s in zip(self.candidates, self.scores, strict=False)
        )
        start = "" if self.start_psnr is None else f"; the start: {self.start_psnr:.2f} dB"
        failed = [
            math.isnan(s) or f"{w:g}" in self.wiped
            for w, s in zip(self.candidates, self.scores, strict=False)
        ]
        if all(failed) and self.scores and not math.isnan(self.scores[0]):
            return (
                f"λ {self.lambda_weight:g}, the first candidate: no candidate kept the real "
                f"photos' detail after {self.trial_steps} steps of each ({tried}{start}), so "
                "the first goes on"
            )
        if all(failed):
            return (
                f"λ {self.lambda_weight:g}, the first candidate, from the start again: no "
                f"candidate passed after {self.trial_steps} steps of each ({tried}{start})"
            )
        return (
            f"λ {self.lambda_weight:g} chosen after {self.trial_steps} steps of each on the "
            f"{pairs} ({tried}{start})"
        )


@dataclass(frozen=True)
class Finished(Event):
    """The run ended normally or was stopped; ``model`` is the exported restorer if any.

    ``out_of_time``: the time budget ended the run before the ``planned_steps`` it was
    sized to (the machine slowed down); it can be continued. ``kept`` says which weights
    were exported ("final", "best" or "start"; ``kept_step`` is their step) and
    ``kept_psnr`` their validation PSNR, ``start_psnr`` the starting model's.
    """

    type_name: ClassVar[str] = "finished"
    model: str = ""
    stopped: bool = False
    elapsed_s: float = 0.0
    out_of_time: bool = False  # the time budget's deadline cut the run short
    planned_steps: int | None = None  # the length it was sized to, when cut short
    kept: str = "final"  # the exported weights: "final", "best" (kept_step) or "start"
    kept_step: int | None = None
    kept_psnr: float | None = None  # their score on the validation (or proxy) pairs
    start_psnr: float | None = None  # the starting model's score on the same pairs
    kept_source: str = ""  # "val" or "proxy": what kept_psnr and start_psnr were measured on
    kept_refused: int = 0  # better-scoring proxy validations refused by the detail check

    def refusal_note(self) -> str:
        """What the detail check refused ("" when nothing)."""
        return refusal_note(self.kept_refused)


def refusal_note(refused: int) -> str:
    """The sentence that says how many better-scoring weights the detail check refused."""
    if refused <= 0:
        return ""
    what = "1 validation" if refused == 1 else f"{refused} validations"
    return (
        f"{what} scored higher on the proxy pairs, but those weights wiped detail off the "
        "real photos (the detail check), so they were not kept"
    )


@dataclass(frozen=True)
class Failed(Event):
    """The run could not go on; ``message`` is for a person, ``traceback`` for a bug report."""

    type_name: ClassVar[str] = "failed"
    message: str = ""
    traceback: str = ""
    checkpoint: str = ""  # the last good checkpoint, if any


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type_name: cls
    for cls in (
        Started,
        Progress,
        Resized,
        Validation,
        Diagnostics,
        Preview,
        Checkpoint,
        StrengthChosen,
        Finished,
        Failed,
    )
}


MAX_COUNT = 2**31 - 1  # steps and counts beyond this are damage (Qt widgets take 32-bit ints)


def _checked(name: str, kind: str, value: Any) -> Any:
    """``value`` if it fits the field's declared type ``kind``, else ``ValueError``.

    A hand-edited or damaged ``events.jsonl`` line ("step": "abc", 1e400, -1) must not
    reach the code that sums, compares and shows these numbers.
    """
    if value is None and kind.endswith("| None"):
        return None
    base = kind.removesuffix(" | None")
    if base == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
            return value
    elif base == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)  # NaN and infinities are written on purpose (allow_nan)
    elif base == "bool":
        if isinstance(value, bool):
            return value
    elif base == "str":
        if isinstance(value, str):
            return value
    elif base == "list[str]" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    elif base == "list[float]" and isinstance(value, list):
        numbers = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) == len(value):
            return [float(v) for v in numbers]
    raise ValueError(f"event field {name!r}: {value!r} is not a valid {kind}")


def event_from_dict(data: object) -> Event:
    """Inverse of ``Event.to_dict`` (unknown keys are ignored, for forward compatibility).

    ``ValueError`` for an unknown type or a value of the wrong type or range.
    """
    if not isinstance(data, dict):  # a ValueError like any other bad line, which readers skip
        raise ValueError(f"an event is a JSON object, not {type(data).__name__}")
    values: dict[str, Any] = dict(data)
    cls = EVENT_TYPES.get(str(values.pop("type", "")))
    if cls is None:
        raise ValueError(f"unknown event type in {values!r}")
    if cls is Progress and "lambda" in values:
        values["lam"] = values.pop("lambda")
    kinds = {f.name: str(f.type) for f in fields(cls)}
    return cls(**{k: _checked(k, kinds[k], v) for k, v in values.items() if k in kinds})


def event_from_json(line: str) -> Event:
    return event_from_dict(json.loads(line))
