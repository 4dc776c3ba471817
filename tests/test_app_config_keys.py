"""Every config key survives load → form → Start, and the form's edits still apply."""

from __future__ import annotations

import dataclasses
import enum
import typing

import pytest
from app_helpers import isolate_settings, tiny_project

from noiseda_core.config import SECTIONS, Config, config_from_dict, config_to_dict, save_config
from noiseda_core.errors import UserError

SPECIAL = {  # keys whose value must name something real
    ("data", "degradation"): ["camera:2-4"],
    ("model", "restorer"): ["unet-tiny"],
    ("model", "diffusion"): ["tiny"],
    ("model", "init_denoiser"): ["builtin:tiny"],
    ("train", "device"): ["cpu"],
    ("train", "lambda_candidates"): ["0.05,0.2,1"],
}


def _candidates(section: str, name: str, typ: typing.Any, default: typing.Any) -> list[typing.Any]:
    """Non-default values of the right type, awkward for widgets (odd digits, big numbers)."""
    if (section, name) in SPECIAL:
        return SPECIAL[(section, name)]
    if isinstance(typ, type) and issubclass(typ, enum.Enum):
        return [m.value for m in typ if m != default]
    if typ is bool:
        return [not default]
    if typ is int:
        return [default + 7, 3, 1]
    if typ is float:
        return [default + 1.234567e-5, default * 0.5 + 0.0123457, 0.4321]
    if typ is str:
        return ["x"]
    raise AssertionError(f"no test value for {section}.{name} of type {typ!r}")


def every_key_changed(project: dict, model_file: str) -> dict:
    """A config dict where every key differs from its default (each value valid on its own)."""
    raw = config_to_dict(Config())
    raw["data"].update(
        synthetic=str(project["synthetic"]),
        real=str(project["real"]),
        val=str(project["val"]),
        reference=str(project["real"]),
    )
    raw["model"]["init_restorer"] = model_file
    fixed = {("data", k) for k in ("synthetic", "real", "val", "reference")} | {
        ("model", "init_restorer")
    }
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if (section, f.name) in fixed:
                continue
            default = raw[section][f.name]
            default = (
                hints[f.name](default)
                if isinstance(hints[f.name], type) and issubclass(hints[f.name], enum.Enum)
                else default
            )
            for value in _candidates(section, f.name, hints[f.name], default):
                trial = {s: dict(v) for s, v in raw.items()}
                trial[section][f.name] = value
                try:
                    config_from_dict(trial)
                except UserError:
                    continue
                raw = trial
                break
            else:
                raise AssertionError(f"no valid non-default value for {section}.{f.name}")
    return raw


@pytest.fixture
def view(qtbot, tmp_path):
    isolate_settings(tmp_path)
    from app.views.setup_view import SetupView

    widget = SetupView()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def start_config(qtbot, view) -> Config:
    qtbot.waitUntil(lambda: not view.checks_busy(), timeout=20000)
    assert view.problems() == [], view.problems()
    with qtbot.waitSignal(view.start_requested, timeout=5000) as started:
        view.start_button.click()
    return started.args[0]


def test_every_key_of_a_loaded_config_reaches_start(qtbot, view, tmp_path):
    project = tiny_project(tmp_path / "p")
    model = tmp_path / "start.safetensors"
    model.write_bytes(b"")
    raw = every_key_changed(project, str(model))
    path = tmp_path / "full.toml"
    expected = config_from_dict(raw)
    save_config(expected, path)
    assert view.load_file(path)
    got = start_config(qtbot, view)
    want, have = config_to_dict(expected), config_to_dict(got)
    lost = [
        f"{s}.{k}: {want[s][k]!r} became {have[s][k]!r}"
        for s in want
        for k in want[s]
        if want[s][k] != have[s][k]
    ]
    assert not lost, "\n".join(lost)


def test_form_edits_apply_on_top_of_the_loaded_config(qtbot, view, tmp_path):
    project = tiny_project(tmp_path / "p")
    raw = every_key_changed(project, "")
    path = tmp_path / "full.toml"
    save_config(config_from_dict(raw), path)
    assert view.load_file(path)
    view.options.steps.setValue(55)
    view.options.margin.setValue(0.25)
    view.degradation.setCurrentIndex(view.degradation.findData("awgn"))
    view.sigma_lo.setValue(5)
    view.sigma_hi.setValue(30)
    got = start_config(qtbot, view)
    assert got.train.steps == 55 and got.train.margin == pytest.approx(0.25)
    assert got.data.degradation == "awgn:5-30"
    assert got.data.cache_mb == raw["data"]["cache_mb"]  # no widget: kept from the file
    assert got.train.compile is raw["train"]["compile"]


def test_new_fields_have_plain_tooltips_and_messages_name_labels(view):
    opts = view.options
    for widget in (
        opts.pretrain,
        opts.denoiser_lr,
        opts.margin,
        opts.lr,
        opts.ema_decay,
        opts.warmup,
        opts.precision,
        opts.seed,
        opts.cs,
        opts.rs,
        opts.val_every,
    ):
        tip = widget.toolTip()
        assert len(tip) > 20 and "train." not in tip and "_" not in tip, tip
    from app.views.option_tips import human_message

    assert (
        human_message("config key train.lr: must be positive, got 0")
        == "Learning rate: must be positive, got 0"
    )
