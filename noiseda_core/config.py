"""Typed, frozen configuration: data / model / train, TOML in and out.

Each section checks its ranges on construction, so a ``dataclasses.replace()`` or a
direct ``TrainConfig(...)`` is validated like a loaded file (a ``UserError`` naming the key).

The same object drives the CLI, the GUI and ``torchrun``; the resolved config is
saved as ``config.toml`` in every run folder, so any run can be repeated as is.

    cfg = load_config("demo.toml", overrides=["train.steps=500"])
    save_config(cfg, run_dir / "config.toml")

Relative paths in a TOML file are resolved against the file's own folder.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import sys
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomli_w

from .errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # pyright: ignore[reportMissingImports]  (installed on 3.10 only)


class Mode(str, enum.Enum):
    """What the training step optimises."""

    BASELINE = "baseline"  # L_res only; no denoiser is built
    NOISE_DA = "noise-da"  # the paper's full step (CS and RS switchable)
    NOISE_DA_UNPAIRED = "noise-da-unpaired"  # ỹ from unrelated clean references


class InitScheme(str, enum.Enum):
    """How both networks' weights start (``init_scheme.py``)."""

    KAIMING = "kaiming"  # Kaiming-normal on every conv/linear (the authors' release)
    OURS = "ours"  # zero-initialised denoiser outputs, a shrunk restorer output conv


class EvalWeights(str, enum.Enum):
    """Which restorer weights validation and previews use."""

    EMA = "ema"  # the exponential moving average (what is exported)
    RAW = "raw"  # the optimizer's current weights (what the release validates)


class KeepRule(str, enum.Enum):
    """Which weights a run exports (``keep_best.py``)."""

    AUTO = "auto"  # the best by the validation pairs if there are any, else by the proxy pairs
    VAL = "val"  # the best by the validation pairs
    PROXY = "proxy"  # the best by proxy pairs: held-out clean photos with the fitted real noise
    OFF = "off"  # the last weights (the release's behaviour)


class LambdaChoice(str, enum.Enum):
    """How a run sets λ w (``strength_trial.py``)."""

    FIXED = "fixed"  # train.lambda_weight, as written
    # each of train.lambda_candidates for train.lambda_trial_steps from the same start,
    # scored on the keep-best pairs (validation, else proxy); the run goes on with the best
    TRIAL = "trial"


class Precision(str, enum.Enum):
    """Arithmetic of the training step (master weights always stay fp32)."""

    AUTO = "auto"  # bf16 on GPUs that support it, fp32 elsewhere
    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"  # with a gradient scaler


class Task(str, enum.Enum):
    """Task preset: sets sensible learning rates and the metric channel."""

    DENOISE = "denoise"
    DERAIN = "derain"
    DEBLUR = "deblur"


TASK_LR: dict[Task, float] = {Task.DENOISE: 1e-4, Task.DERAIN: 5e-5, Task.DEBLUR: 5e-5}


@dataclass(frozen=True)
class DataConfig:
    """Where the images come from (paths may be empty when unused)."""

    synthetic: str = ""  # paired folder (input/ + target/) or a clean folder
    degradation: str = ""  # "" = paired folder; "awgn:0-75" or "camera" = on the fly
    real: str = ""  # unlabeled real images, subfolders included
    val: str = ""  # optional real pairs with ground truth (input/ + target/)
    reference: str = ""  # optional unrelated clean images (unpaired mode)
    cache_mb: int = 2048  # decoded images kept in memory up to this size
    # DataLoader worker processes: 0 = in the training process, -1 = auto (policy.plan:
    # 4 on CUDA, at most the CPU count; 0 elsewhere)
    workers: int = -1

    def __post_init__(self) -> None:  # every construction and replace() is checked
        _check_data(self)


@dataclass(frozen=True)
class ModelConfig:
    """Which networks to build."""

    restorer: str = "unet-s"  # see noiseda_core.nets.RESTORERS
    diffusion: str = "paper"  # see noiseda_core.diffusion.DENOISER_SIZES
    # the restorer's starting weights: "builtin:unet-t", a model file (.safetensors, or a
    # weights-only .pth/.ckpt that spandrel recognises), or "" = from scratch. When set,
    # the file decides the architecture and model.restorer is set to it.
    init_restorer: str = ""
    # The authors' release embeds γ itself (1.0); 1000 spreads it like a timestep t ∈ [0, 1000).
    gamma_scale: float = 1.0
    # "kaiming": Kaiming-normal on every conv/linear of both networks (the release);
    # "ours": zero-initialised denoiser outputs, a shrunk restorer output conv.
    init_scheme: InitScheme = InitScheme.KAIMING
    # the denoiser's starting weights: "" = initialised by init_scheme, "builtin:NAME" (a
    # shipped one, resources/denoisers/) or a .safetensors file (``denoiser_start.py``)
    init_denoiser: str = ""

    def __post_init__(self) -> None:
        _check_model(self)


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation: steps, sizes, the Noise-DA switches, bookkeeping."""

    mode: Mode = Mode.NOISE_DA
    task: Task = Task.DENOISE
    channel_shuffle: bool = True
    residual_swap: bool = True
    steps: int = 20000
    minutes: float = 0.0  # > 0: size the run to this time budget (sets steps and intervals)
    batch: int = 8  # per process (the global batch is batch × processes)
    # real crops drawn per synthetic pair: each pair's condition is repeated with each of them
    # in the diffusion loss (the restorer then sees batch × (1 + real_per_pair) crops a step)
    real_per_pair: int = 1
    auto_batch: bool = False  # on a GPU: the largest batch that fits its free memory
    patch: int = 128
    lr: float = 1e-4
    denoiser_lr: float = 0.0  # 0 = same as lr
    # w in λ(p) = w·(2/(1+e^{-5p}) − 1): the release's 0.2. 2.0 beats the baseline by 1.2 dB
    # on our large-gap CPU benchmark but costs 2 dB on PolyU's mild noise, and 1.0 already
    # costs 1.4 dB on the demo (benchmarks/DOMAIN_GAP.md, docs/deviations.md).
    lambda_weight: float = 0.2
    lambda_ramp: float = 0.25  # ramp length: a fraction of steps if ≤ 1, else steps; then λ holds
    # λ w per dataset, without ground truth (issue 18): "trial" runs each candidate briefly
    # from the start and keeps the one that scores best on the keep-best pairs
    lambda_choice: LambdaChoice = LambdaChoice.FIXED
    lambda_candidates: str = "0.2,2"  # comma-separated λ w; the first wins a tie
    lambda_trial_steps: int = 30  # steps each candidate trains before it is scored
    margin: float = 0.1  # triplet margin m
    ema_decay: float = 0.9999
    eval_weights: EvalWeights = EvalWeights.EMA  # what validation and previews score
    # the weights exported: the best-scoring ones, the starting model's included (auto: by
    # the validation pairs, else by proxy pairs made with the real photos' fitted noise)
    keep_best: KeepRule = KeepRule.AUTO
    warmup_restorer_steps: int = 0  # baseline-only steps before the joint phase
    denoiser_pretrain_steps: int = 0  # denoiser-only steps (restorer frozen) first
    # Adaptation options (issue 18, item 5; all off by default = the release's step):
    # 2: the restorer sees each real crop as its 4 stride-2 sub-images, reassembled
    # before the diffusion loss (pixel-shuffle down-sampling in training)
    real_pd: int = 0
    # w of the L2-SP pull toward the starting restorer: + w·‖θ − θ_start‖² (``pull_to_start.py``)
    pull_to_start: float = 0.0
    # noise steps t drawn from [1, max_noise_step] of the schedule's T = 1000 (0 = [1, T−1])
    max_noise_step: int = 0
    # k of min-SNR-k weighting: each sample's MSE × min(SNR, k) / SNR, SNR = γ/(1−γ) (0 = off)
    snr_weight: float = 0.0
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    precision: Precision = Precision.AUTO
    compile: bool = False  # torch.compile the networks (falls back cleanly)
    log_every: int = 10
    val_every: int = 500
    preview_every: int = 500
    checkpoint_every: int = 1000
    preview_count: int = 3  # fixed real images shown in previews
    val_max_side: int = 512  # validation images are centre-cropped to at most this side

    def __post_init__(self) -> None:
        _check_train(self)

    def candidate_weights(self) -> tuple[float, ...]:
        """``lambda_candidates`` as numbers (checked on construction)."""
        return parse_candidates(self.lambda_candidates)

    def ramp_steps(self, steps: int | None = None) -> int:
        """λ ramp length in optimizer steps (≥ 1) of a run of ``steps`` (default: ``steps``)."""
        if self.lambda_ramp <= 1.0:  # a fraction of the joint phase (after warm-up phases)
            total = self.steps if steps is None else steps
            joint = total - self.warmup_restorer_steps - self.denoiser_pretrain_steps
            return max(1, round(self.lambda_ramp * max(joint, 1)))
        return int(self.lambda_ramp)


@dataclass(frozen=True)
class Config:
    """The whole run configuration."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
PATH_KEYS = {"synthetic", "real", "val", "reference", "init_restorer", "init_denoiser"}


# --------------------------------------------------------------------------- values


def _field_type(section_cls: type, name: str) -> Any:
    hints = typing.get_type_hints(section_cls)
    return hints[name]


def _coerce(section: str, key: str, typ: Any, value: Any) -> Any:
    """Turn a TOML value or a ``--set`` string into the field's type, or say why not."""
    where = f"{section}.{key}"
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        allowed = ", ".join(m.value for m in typ)
        try:
            return typ(str(value).strip().lower())
        except ValueError:
            raise UserError(f"config key {where}: {value!r} is not one of: {allowed}") from None
    if typ is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "1", "yes", "on"}:
            return True
        if text in {"false", "0", "no", "off"}:
            return False
        raise UserError(f"config key {where}: {value!r} is not a boolean (use true or false)")
    if typ is int:
        if isinstance(value, bool):
            raise UserError(f"config key {where}: expected a whole number, got {value!r}")
        if isinstance(value, int):
            return value
        try:  # exact for long digit strings, which a float would round
            return int(str(value).strip())
        except ValueError:
            pass
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise UserError(f"config key {where}: expected a whole number, got {value!r}") from None
        if not math.isfinite(number) or number != int(number):
            raise UserError(f"config key {where}: expected a whole number, got {value!r}")
        return int(number)
    if typ is float:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise UserError(f"config key {where}: expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise UserError(f"config key {where}: expected a finite number, got {value!r}")
        return number
    if typ is str:
        return str(value)
    raise TypeError(f"unsupported config type {typ!r} for {where}")  # a bug, not user input


def _check_train(t: TrainConfig) -> None:
    positive = {"train.steps": t.steps, "train.batch": t.batch, "train.patch": t.patch}
    for key, value in positive.items():
        if value < 1:
            raise UserError(f"config key {key}: must be at least 1, got {value}")
    if t.patch < MIN_PATCH:
        raise UserError(f"config key train.patch: must be at least {MIN_PATCH}, got {t.patch}")
    if not 0 <= t.seed <= MAX_SEED:
        raise UserError(f"config key train.seed: must be 0 to {MAX_SEED}, got {t.seed}")
    if t.minutes < 0:
        raise UserError(f"config key train.minutes: must be 0 (off) or more, got {t.minutes}")
    if t.lr <= 0:
        raise UserError(f"config key train.lr: must be positive, got {t.lr}")
    if not 0.0 <= t.ema_decay < 1.0:
        raise UserError(f"config key train.ema_decay: must be in [0, 1), got {t.ema_decay}")
    for key in ("log_every", "val_every", "preview_every", "checkpoint_every"):
        if getattr(t, key) < 1:
            raise UserError(f"config key train.{key}: must be at least 1")
    _check_more_train_ranges(t)


def _check_model(m: ModelConfig) -> None:
    if m.gamma_scale <= 0:
        raise UserError(f"config key model.gamma_scale: must be positive, got {m.gamma_scale}")


def _check_data(d: DataConfig) -> None:
    if d.cache_mb < 0:
        raise UserError(f"config key data.cache_mb: must be 0 or more, got {d.cache_mb}")
    if d.workers < -1:
        raise UserError(f"config key data.workers: must be -1 (auto), 0 or more, got {d.workers}")
    if d.workers > 256:
        raise UserError(f"config key data.workers: at most 256, got {d.workers}")
    if d.degradation:
        from .degrade import is_unresolved_fit, parse_degradation  # local: keeps import light

        try:
            if not is_unresolved_fit(d.degradation):
                parse_degradation(d.degradation)
        except UserError as exc:
            raise UserError(f"config key data.degradation: {exc}") from None


MIN_PATCH = 16
MAX_SEED = 2**32 - 1  # seeds are mixed into 64-bit generator seeds (seed × 1,000,003 + rank)
MAX_STEPS = 1_000_000_000  # more than any run can take; keeps counts and ETAs sane
MAX_PATCH = 4096


def _check_more_train_ranges(t: TrainConfig) -> None:
    """Bounds for the keys a typo can push out of range (negative, absurdly large)."""
    at_least_zero = {
        "train.lambda_ramp": t.lambda_ramp,
        "train.lambda_weight": t.lambda_weight,
        "train.margin": t.margin,
        "train.denoiser_lr": t.denoiser_lr,
        "train.warmup_restorer_steps": t.warmup_restorer_steps,
        "train.denoiser_pretrain_steps": t.denoiser_pretrain_steps,
        "train.preview_count": t.preview_count,
    }
    for key, value in at_least_zero.items():
        if value < 0:
            raise UserError(f"config key {key}: must be 0 or more, got {value}")
    for key in ("steps", "warmup_restorer_steps", "denoiser_pretrain_steps"):
        if getattr(t, key) > MAX_STEPS:
            raise UserError(f"config key train.{key}: at most {MAX_STEPS:,}, got {getattr(t, key)}")
    if t.patch > MAX_PATCH:
        raise UserError(f"config key train.patch: at most {MAX_PATCH}, got {t.patch}")
    if t.batch > 4096:
        raise UserError(f"config key train.batch: at most 4096, got {t.batch}")
    if not 1 <= t.real_per_pair <= 16:
        raise UserError(f"config key train.real_per_pair: must be 1 to 16, got {t.real_per_pair}")
    if t.real_pd not in (0, 1, 2, 3, 4):
        raise UserError(
            f"config key train.real_pd: must be 0 (off) or a stride 2 to 4, got {t.real_pd}"
        )
    if t.real_pd > 1 and t.patch % t.real_pd:
        raise UserError(
            f"config key train.real_pd: train.patch {t.patch} is not a multiple of the stride "
            f"{t.real_pd}; choose a patch that is"
        )
    for key in ("pull_to_start", "snr_weight"):
        if getattr(t, key) < 0:
            raise UserError(
                f"config key train.{key}: must be 0 (off) or more, got {getattr(t, key)}"
            )
    if not 0 <= t.max_noise_step <= 1000:
        raise UserError(
            f"config key train.max_noise_step: must be 0 (off) or 1 to 1000, got {t.max_noise_step}"
        )
    if t.val_max_side < 16:
        raise UserError(f"config key train.val_max_side: must be at least 16, got {t.val_max_side}")
    if not 1 <= t.lambda_trial_steps <= MAX_STEPS:
        raise UserError(
            f"config key train.lambda_trial_steps: must be 1 to {MAX_STEPS:,}, got "
            f"{t.lambda_trial_steps}"
        )
    parse_candidates(t.lambda_candidates)


MAX_CANDIDATES = 6


def parse_candidates(text: str) -> tuple[float, ...]:
    """``"0.2,2"`` → (0.2, 2.0): 2 to ``MAX_CANDIDATES`` different λ w, each 0 or more."""
    where = "config key train.lambda_candidates"
    try:
        values = tuple(float(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        raise UserError(f"{where}: {text!r} is not a comma-separated list of numbers") from None
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise UserError(f"{where}: every λ w must be a finite number, 0 or more, got {text!r}")
    if not 2 <= len(set(values)) == len(values) <= MAX_CANDIDATES:
        raise UserError(
            f"{where}: give 2 to {MAX_CANDIDATES} different values (e.g. 0.2,2), got {text!r}"
        )
    return values


# --------------------------------------------------------------------------- building


def _builtin(value: str) -> bool:
    """``builtin:NAME`` names a shipped model: not a path to resolve."""
    return str(value).strip().startswith("builtin:")


def config_from_dict(raw: dict[str, Any], base_dir: Path | None = None) -> Config:
    """Build a ``Config`` from nested dicts (as TOML gives), validating every key.

    Relative paths are made absolute against ``base_dir`` when it is given.
    """
    sections: dict[str, Any] = {}
    for section, value in raw.items():
        if section not in SECTIONS:
            allowed = ", ".join(SECTIONS)
            raise UserError(f"config: unknown section [{section}] (allowed: {allowed})")
        if not isinstance(value, dict):
            raise UserError(f"config: [{section}] must be a table of keys")
        cls = SECTIONS[section]
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, item in value.items():
            if key not in names:
                allowed = ", ".join(sorted(names))
                raise UserError(f"config: unknown key {section}.{key} (allowed: {allowed})")
            item = _coerce(section, key, _field_type(cls, key), item)
            if key in PATH_KEYS and item and base_dir is not None and not _builtin(item):
                path = Path(item).expanduser()
                item = str(path if path.is_absolute() else (base_dir / path).resolve())
            values[key] = item
        sections[section] = cls(**values)
    return Config(**sections)


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """Apply ``section.key=value`` strings (the CLI's ``--set``)."""
    for text in overrides:
        if "=" not in text:
            raise UserError(f"--set {text!r}: expected KEY=VALUE, e.g. train.steps=500")
        dotted, value = text.split("=", 1)
        parts = dotted.strip().split(".")
        if len(parts) != 2 or parts[0] not in SECTIONS:
            raise UserError(
                f"--set {text!r}: the key must be section.name with section one of "
                + ", ".join(SECTIONS)
            )
        section, key = parts
        cls = SECTIONS[section]
        names = {f.name for f in fields(cls)}
        if key not in names:
            allowed = ", ".join(sorted(names))
            raise UserError(f"--set: unknown key {section}.{key} (allowed: {allowed})")
        item = _coerce(section, key, _field_type(cls, key), value)
        if key in PATH_KEYS and item and not _builtin(item):
            item = str(Path(item).expanduser().resolve())
        cfg = replace(cfg, **{section: replace(getattr(cfg, section), **{key: item})})
    return cfg


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read a TOML config file, then apply ``overrides`` (``section.key=value``)."""
    path = Path(path)
    if not path.is_file():
        from .errors import not_a_file_reason

        why = not_a_file_reason(path)
        if why != "the file does not exist":
            raise UserError(f"config file {path}: {why}; pass a .toml file")
        raise UserError(f"config file not found: {path} (create one with 'noiseda demo-data')")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"config file {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise UserError(f"config file {path} is not valid TOML: nested too deeply") from None
    cfg = config_from_dict(raw, base_dir=path.resolve().parent)
    return apply_overrides(cfg, overrides or [])


def config_to_dict(cfg: Config) -> dict[str, dict[str, Any]]:
    """Plain nested dict (enums as their strings), ready for TOML or JSON."""
    out: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        part = getattr(cfg, section)
        out[section] = {
            f.name: (v.value if isinstance(v := getattr(part, f.name), enum.Enum) else v)
            for f in fields(part)
        }
    return out


def config_to_toml(cfg: Config) -> str:
    return tomli_w.dumps(config_to_dict(cfg))


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the config as TOML (atomically: a kill never leaves half a file)."""
    from .atomic import atomic_write_bytes

    atomic_write_bytes(Path(path), config_to_toml(cfg).encode("utf-8"))


def describe_keys() -> list[str]:
    """Every ``section.key`` with its type and default, for ``--help`` and the GUI."""
    lines = []
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else None
            if isinstance(default, enum.Enum):
                default = default.value
            lines.append(f"{section}.{f.name} = {default!r}")
    return lines


__all__ = [
    "Config",
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "Mode",
    "InitScheme",
    "EvalWeights",
    "Precision",
    "LambdaChoice",
    "parse_candidates",
    "Task",
    "TASK_LR",
    "load_config",
    "save_config",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "config_to_toml",
    "describe_keys",
]
