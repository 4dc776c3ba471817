"""The typed config: TOML round trip, --set overrides, validation messages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from noiseda_core.config import (
    MAX_PATCH,
    Config,
    Mode,
    Precision,
    TrainConfig,
    apply_overrides,
    config_to_toml,
    load_config,
    save_config,
)
from noiseda_core.errors import UserError


def test_round_trip_keeps_every_value(tmp_path: Path) -> None:
    cfg = apply_overrides(
        Config(),
        [
            "train.mode=baseline",
            "train.steps=42",
            "train.lr=3e-4",
            "train.channel_shuffle=false",
            "data.real=" + str(tmp_path),
        ],
    )
    save_config(cfg, tmp_path / "c.toml")
    again = load_config(tmp_path / "c.toml")
    assert again == cfg
    assert again.train.mode is Mode.BASELINE and again.train.steps == 42
    assert again.train.channel_shuffle is False


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "demo.toml").write_text('[data]\nreal = "real"\nsynthetic = "syn"\n')
    cfg = load_config(tmp_path / "proj" / "demo.toml")
    assert Path(cfg.data.real) == (tmp_path / "proj" / "real").resolve()


def test_mode_is_an_enum_and_bad_values_name_the_key_and_choices(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        apply_overrides(Config(), ["train.mode=2"])
    assert "train.mode" in str(err.value) and "noise-da-unpaired" in str(err.value)
    with pytest.raises(UserError, match="train.precision"):
        apply_overrides(Config(), ["train.precision=int8"])
    assert apply_overrides(Config(), ["train.precision=BF16"]).train.precision is Precision.BF16


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("train.nope=1", "unknown key train.nope"),
        ("model=unet", "section.name"),
        ("train.steps", "KEY=VALUE"),
        ("train.steps=abc", "whole number"),
        ("train.steps=0", "at least 1"),
        ("train.residual_swap=maybe", "boolean"),
        ("data.degradation=blur:3", "data.degradation"),
    ],
)
def test_bad_overrides_give_one_clear_message(override: str, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        apply_overrides(Config(), [override])


def test_unknown_section_and_bad_toml(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("[optim]\nlr = 1\n")
    with pytest.raises(UserError, match=r"unknown section \[optim\]"):
        load_config(tmp_path / "a.toml")
    (tmp_path / "b.toml").write_text("[train\n")
    with pytest.raises(UserError, match="not valid TOML"):
        load_config(tmp_path / "b.toml")
    with pytest.raises(UserError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_ramp_length_is_a_fraction_or_a_step_count() -> None:
    assert TrainConfig(steps=1000, lambda_ramp=0.5).ramp_steps() == 500
    assert TrainConfig(steps=1000, lambda_ramp=300).ramp_steps() == 300


def test_config_is_frozen_and_toml_lists_enum_strings() -> None:
    cfg = Config()
    with pytest.raises(AttributeError):
        cfg.train.steps = 3  # type: ignore[misc]
    assert 'mode = "noise-da"' in config_to_toml(cfg)


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("train.steps=nan", "train.steps: expected a whole number"),
        ("train.steps=inf", "train.steps: expected a whole number"),
        ("train.steps=1e400", "train.steps: expected a whole number"),
        ("train.steps=1e12", "train.steps: at most"),
        ("train.lr=nan", "train.lr: expected a finite number"),
        ("train.lr=inf", "train.lr: expected a finite number"),
        ("train.lambda_ramp=-1", "train.lambda_ramp: must be 0 or more"),
        ("train.warmup_restorer_steps=-5", "warmup_restorer_steps: must be 0 or more"),
        ("train.preview_count=-1", "train.preview_count: must be 0 or more"),
        ("train.patch=100000", "train.patch: at most"),
        ("data.workers=-2", "data.workers: must be -1 .auto., 0 or more"),
        ("train.real_per_pair=0", "train.real_per_pair: must be 1 to 16"),
        ("train.real_per_pair=17", "train.real_per_pair: must be 1 to 16"),
    ],
)
def test_non_finite_and_out_of_range_values_are_refused(override: str, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        apply_overrides(Config(), [override])


def test_non_finite_values_in_a_toml_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("[train]\nsteps = nan\n")
    with pytest.raises(UserError, match="train.steps"):
        load_config(tmp_path / "a.toml")
    (tmp_path / "b.toml").write_text("[train]\nsteps = 1e400\n")
    with pytest.raises(UserError, match="train.steps"):
        load_config(tmp_path / "b.toml")


@pytest.mark.parametrize(
    ("section", "change", "needle"),
    [
        ("train", {"steps": 0}, "train.steps: must be at least 1"),
        ("train", {"batch": -2}, "train.batch: must be at least 1"),
        ("train", {"ema_decay": 1.0}, r"train.ema_decay: must be in \[0, 1\)"),
        ("train", {"patch": MAX_PATCH + 1}, "train.patch: at most"),
        ("data", {"workers": -2}, "data.workers: must be -1 .auto., 0 or more"),
        ("data", {"degradation": "blur:huge"}, "data.degradation"),
        ("model", {"gamma_scale": 0.0}, "model.gamma_scale: must be positive"),
    ],
)
def test_replace_and_direct_construction_are_validated(
    section: str, change: dict, needle: str
) -> None:
    """Code that builds or replaces a section (the time budget, the GUI) gets the file's checks."""
    cfg = Config()
    with pytest.raises(UserError, match=needle):
        dataclasses.replace(getattr(cfg, section), **change)
    with pytest.raises(UserError, match=needle):
        type(getattr(cfg, section))(**change)
