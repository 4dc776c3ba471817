"""The training options of the Setup page: one declaration per config key.

    Option("train.lr", "lr", "Learning rate", ADVANCED, lo=1e-7, hi=1.0, decimals=7, tip="…")

``TrainingOptions`` builds each widget from its ``Option`` (the kind follows the config
field's type: a number box, a check box, a list for enums and names), reads ``values()``
and fills ``set_config`` from the same list; ``option_tips.human_message`` takes the
labels from it. Adding a config key to the form is one ``Option`` here. Nothing here
imports Qt.
"""

from __future__ import annotations

import enum
import typing
from dataclasses import dataclass
from typing import Any

from noiseda_core.builtin import PREFIX, RECOMMENDED
from noiseda_core.config import (
    MAX_PATCH,
    MAX_SEED,
    MAX_STEPS,
    MIN_PATCH,
    SECTIONS,
    KeepRule,
    LambdaChoice,
    Mode,
    Task,
)

BASIC, ADVANCED, MORE = "basic", "advanced", "more"  # the form, Advanced's two columns
QT_INT_MAX = 2**31 - 1  # the largest value a spin box holds


@dataclass(frozen=True)
class Option:
    """One config key on the form: where it sits, what it is called, what it accepts.

    ``lo``/``hi``/``step``/``decimals``/``suffix``/``special`` (the text shown at ``lo``)
    apply to number boxes; ``choices`` are ``(value, label)`` pairs of a list (an enum's
    members when empty); ``initial`` replaces the config's default before the device is
    known; ``noise_da``: used only by the Noise-DA modes (greyed out in baseline).
    """

    key: str  # "section.field" of Config
    name: str  # the widget's attribute on TrainingOptions
    label: str
    place: str = ADVANCED
    tip: str = ""
    lo: float = 0
    hi: float = 0
    step: float = 1
    decimals: int = 0
    suffix: str = ""
    special: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    initial: Any = None
    noise_da: bool = False

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def field(self) -> str:
        return self.key.split(".", 1)[1]

    @property
    def type(self) -> Any:
        """The config field's type (``int``, ``float``, ``bool``, ``str`` or an enum)."""
        return typing.get_type_hints(SECTIONS[self.section])[self.field]

    @property
    def is_enum(self) -> bool:
        return isinstance(self.type, type) and issubclass(self.type, enum.Enum)

    def items(self) -> tuple[tuple[str, str], ...]:
        """``(value, label)`` of a list: the declared choices, else the enum's members."""
        if self.choices or not self.is_enum:
            return self.choices
        return tuple((m.value, m.value) for m in self.type)


EVERY = 10_000_000  # the spin boxes' bound for "every N steps"

OPTIONS: tuple[Option, ...] = (
    # ---------------------------------------------------------------- the form
    Option(
        "train.task",
        "task",
        "Task",
        BASIC,
        tip="What the images suffer from. Sets a suitable learning rate.",
        choices=tuple((t.value, t.value.capitalize()) for t in Task),
    ),
    Option("model.init_restorer", "start_from", "Start from", BASIC, initial=PREFIX + RECOMMENDED),
    Option(
        "model.restorer",
        "restorer",
        "Restorer",
        BASIC,
        tip="The network that cleans your images. Bigger ones restore better and train slower.",
        initial="unet-t",
    ),
    Option(
        "train.mode",
        "mode",
        "Mode",
        BASIC,
        tip=(
            "Baseline learns from the synthetic pairs only. Noise-DA also looks at your real "
            "images and pulls the results towards clean-looking pictures."
        ),
        choices=(
            (Mode.BASELINE.value, "Baseline (synthetic pairs only)"),
            (Mode.NOISE_DA.value, "Noise-DA (adapt to the real images)"),
            (Mode.NOISE_DA_UNPAIRED.value, "Noise-DA, unpaired clean references"),
        ),
    ),
    Option(
        "train.minutes",
        "minutes",
        "Train for",
        BASIC,
        tip=(
            "Train for about this long: the first steps are timed and the run "
            "is sized to end in time (validation and export included). "
            "Off: train a fixed number of steps."
        ),
        hi=100_000.0,
        decimals=1,
        suffix=" min",
        special="off: train the steps below",
    ),
    Option(
        "train.steps",
        "steps",
        "Steps",
        BASIC,
        tip="How many training steps. More steps: better results, longer training.",
        lo=1,
        hi=MAX_STEPS,
        step=1000,
    ),
    Option(
        "train.batch",
        "batch",
        "Batch",
        BASIC,
        tip="Image crops per step. Larger uses more memory and gives smoother training.",
        lo=1,
        hi=1024,
        initial=4,
    ),
    Option(
        "train.patch",
        "patch",
        "Patch",
        BASIC,
        tip="Side of the square crops the networks see, in pixels. Larger uses more memory.",
        lo=MIN_PATCH,
        hi=MAX_PATCH,
        step=16,
        suffix=" px",
        initial=64,
    ),
    # ---------------------------------------------------------------- Advanced, left
    Option(
        "train.lr",
        "lr",
        "Learning rate",
        tip="How big each learning step is for the restorer. Lower it if the losses jump about.",
        lo=1e-7,
        hi=1.0,
        step=1e-5,
        decimals=7,
    ),
    Option(
        "train.lambda_weight",
        "lambda_weight",
        "λ weight",
        tip=(
            "How strongly the real images steer the restorer (the diffusion part). "
            "0 turns the adaptation off; 0.2 is the paper's. 1 to 2 did better on strong, "
            "blotchy phone noise but blurred milder noise away; 5 ruined the restorer."
        ),
        hi=10.0,
        step=0.05,
        decimals=3,
        noise_da=True,
    ),
    Option(
        "train.lambda_choice",
        "lambda_choice",
        "λ chosen by",
        tip=(
            "Trial: the run first trains a few steps with each candidate λ, each from the "
            "same start, and goes on with the one that scores best on the validation "
            "pairs, else on the proxy pairs (no ground truth needed; there a candidate that "
            "wipes detail off your real photos cannot win). Fixed: the λ weight "
            "above, as set (the default: on our camera-like benchmark a 30-step trial "
            "scored on proxy pairs chose wrongly on 2 of 3 seeds)."
        ),
        choices=(
            (LambdaChoice.TRIAL.value, "a short trial (the best candidate)"),
            (LambdaChoice.FIXED.value, "the λ weight, as set"),
        ),
        noise_da=True,
    ),
    Option(
        "train.lambda_candidates",
        "lambda_candidates",
        "λ candidates",
        tip=(
            "The λ weights a trial compares; on a tie the first one goes on. 0.2 is the "
            "paper's; 2 did best on real phone photos with white-noise training pairs."
        ),
        choices=(
            ("0.2,2", "0.2 or 2"),
            ("0.2,0.5,2", "0.2, 0.5 or 2"),
            ("0.05,0.2,1", "0.05, 0.2 or 1"),
        ),
        noise_da=True,
    ),
    Option(
        "train.keep_best",
        "keep_best",
        "Keep",
        tip=(
            "Which weights the run exports. Best: the best-scoring ones, the "
            "starting model included, so the result is never worse than the "
            "start on those pairs. Proxy pairs: held-out clean photos with "
            "noise fitted to your real photos (no ground truth needed)."
        ),
        choices=(
            (KeepRule.AUTO.value, "best (validation pairs, else proxy)"),
            (KeepRule.VAL.value, "best by validation pairs"),
            (KeepRule.PROXY.value, "best by proxy pairs"),
            (KeepRule.OFF.value, "last weights"),
        ),
    ),
    Option(
        "train.lambda_ramp",
        "lambda_ramp",
        "λ ramp",
        tip=(
            "How long that weight takes to grow from 0 to its value: a fraction of the "
            "steps if 1 or less, otherwise a number of steps."
        ),
        hi=1e7,
        step=0.1,
        decimals=3,
        noise_da=True,
    ),
    Option(
        "train.ema_decay",
        "ema_decay",
        "EMA decay",
        tip=(
            "The saved model is a slow running average of the weights; closer to 1 averages "
            "longer and gives a steadier model."
        ),
        hi=0.99999,
        step=0.0001,
        decimals=5,
    ),
    Option(
        "model.diffusion",
        "denoiser",
        "Denoiser size",
        tip="Size of the helper network used only during training to judge the results.",
        initial="small",
        noise_da=True,
    ),
    Option(
        "train.warmup_restorer_steps",
        "warmup",
        "Warm-up steps",
        tip=(
            "Steps that train the restorer alone on the synthetic pairs before the "
            "adaptation starts."
        ),
        hi=MAX_STEPS,
        step=100,
    ),
    Option(
        "train.denoiser_pretrain_steps",
        "pretrain",
        "Denoiser pre-training",
        tip=(
            "Steps that train only the helper network first (the restorer is frozen), so it "
            "can judge the restorer from the start. 0 = none."
        ),
        hi=MAX_STEPS,
        step=100,
        suffix=" steps",
        noise_da=True,
    ),
    Option(
        "train.denoiser_lr",
        "denoiser_lr",
        "Denoiser learning rate",
        tip="Learning step size of the helper network. 0 = the same as the restorer's.",
        hi=1.0,
        step=1e-5,
        decimals=7,
        special="same as restorer",
        noise_da=True,
    ),
    Option(
        "train.margin",
        "margin",
        "Margin",
        tip=(
            "How much better the helper must find real restored images than swapped ones "
            "before it stops pushing. Larger pushes longer."
        ),
        hi=10.0,
        step=0.01,
        decimals=3,
        noise_da=True,
    ),
    Option(
        "train.precision",
        "precision",
        "Precision",
        tip=(
            "Number format of the arithmetic. auto picks a fast one the device supports; "
            "fp32 is slowest and safest."
        ),
    ),
    Option(
        "train.device",
        "device",
        "Device",
        tip="Where to train. auto picks a GPU when there is one.",
        choices=tuple((d, d) for d in ("auto", "cpu", "cuda", "mps")),
    ),
    Option(
        "train.seed",
        "seed",
        "Seed",
        tip="Starting point of the random numbers: the same seed repeats a run.",
        hi=min(MAX_SEED, QT_INT_MAX),
    ),
    Option(
        "data.workers",
        "workers",
        "Data workers",
        tip=(
            "Background processes that prepare image crops. 0 = none (fine on a CPU); "
            "auto = the device's plan (4 on a GPU)."
        ),
        lo=-1,
        hi=64,
        special="auto",  # -1: the core's plan decides
    ),
    # ---------------------------------------------------------------- Advanced, right
    Option(
        "train.channel_shuffle",
        "cs",
        "Channel shuffle (CS)",
        MORE,
        tip=(
            "Channel shuffle: shuffles colour channels inside the helper network so it "
            "cannot cheat on colour."
        ),
        noise_da=True,
    ),
    Option(
        "train.residual_swap",
        "rs",
        "Residual swap (RS)",
        MORE,
        tip="Residual swap: also shows the helper swapped images and asks it to tell them apart.",
        noise_da=True,
    ),
    Option(
        "train.real_per_pair",
        "real_per_pair",
        "Real crops per pair",
        MORE,
        tip=(
            "How many crops of your real images go with each synthetic pair in a "
            "step. More shows the adaptation more real detail per step, and each step "
            "takes longer."
        ),
        lo=1,
        hi=16,
        noise_da=True,
    ),
    Option(
        "train.log_every",
        "log_every",
        "Log every",
        MORE,
        tip="How often (in steps) the curves get a new point.",
        lo=1,
        hi=100_000,
    ),
    Option(
        "train.val_every",
        "val_every",
        "Validate every",
        MORE,
        tip="How often (in steps) the validation pairs are measured.",
        lo=1,
        hi=EVERY,
        step=100,
    ),
    Option(
        "train.preview_every",
        "preview_every",
        "Preview every",
        MORE,
        tip="How often (in steps) the preview images are refreshed.",
        lo=1,
        hi=EVERY,
        step=100,
    ),
    Option(
        "train.checkpoint_every",
        "checkpoint_every",
        "Checkpoint every",
        MORE,
        tip="How often (in steps) a resume point is saved.",
        lo=1,
        hi=EVERY,
        step=100,
    ),
)

BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}
BY_KEY: dict[str, Option] = {o.key: o for o in OPTIONS}
