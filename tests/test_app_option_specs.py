"""The training options come from one declaration per config key (``option_specs.OPTIONS``)."""

from __future__ import annotations

import dataclasses

import pytest
from app_helpers import isolate_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noiseda_core.config import Config, config_from_dict, config_to_dict


@pytest.fixture
def options(qtbot, tmp_path):
    isolate_settings(tmp_path)
    from app.views.training_options import TrainingOptions

    widget = TrainingOptions()
    qtbot.addWidget(widget)
    return widget


def _values(option, names):
    """A strategy for the values the option's widget can show (within its declared range)."""
    if option.key == "model.init_restorer":
        return st.sampled_from(["builtin:unet-t", ""])
    if option.key in ("model.restorer", "model.diffusion"):
        return st.sampled_from(names[option.key])
    if option.type is bool:
        return st.booleans()
    if option.type is int:
        return st.integers(int(option.lo), int(option.hi))
    if option.type is float:
        scale = 10**option.decimals  # what the box can show: whole multiples of its last digit
        return st.integers(round(option.lo * scale), round(option.hi * scale)).map(
            lambda n: n / scale
        )
    return st.sampled_from([value for value, _ in option.items()])


def _names():
    from app.widgets.device_info import FALLBACK_DENOISERS, FALLBACK_RESTORERS

    return {"model.restorer": FALLBACK_RESTORERS, "model.diffusion": FALLBACK_DENOISERS}


def _drawn_config():
    from app.views.option_specs import OPTIONS

    names = _names()
    return st.fixed_dictionaries({option.key: _values(option, names) for option in OPTIONS})


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # set_config overwrites all
)
@given(drawn=_drawn_config())
def test_every_option_round_trips_set_config_to_values(options, drawn):
    from app.views.option_specs import BY_KEY

    if drawn["model.init_restorer"]:  # a built-in start decides the architecture
        drawn["model.restorer"] = "unet-t"
    raw = config_to_dict(Config())
    for key, value in drawn.items():
        section, field = key.split(".")
        raw[section][field] = value
    cfg = config_from_dict(raw)  # every value a widget can show is one the config accepts
    options.set_config(cfg)
    tables = options.tables()
    shown = {key: tables[BY_KEY[key].section][BY_KEY[key].field] for key in drawn}
    assert shown == drawn


def test_every_range_end_is_a_valid_config_value():
    from app.views.option_specs import OPTIONS

    for option in OPTIONS:
        if option.type not in (int, float):
            continue
        for end in (option.lo, option.hi):
            value = option.type(end)
            config_from_dict({option.section: {option.field: value}})  # raises when out of range


def test_every_option_has_a_label_and_a_plain_tooltip(options):
    from PySide6.QtWidgets import QCheckBox, QFormLayout

    from app.views.option_specs import OPTIONS

    forms = options.findChildren(QFormLayout)
    for option in OPTIONS:
        widget = options.widgets[option.name]
        assert getattr(options, option.name) is widget
        if isinstance(widget, QCheckBox):
            assert widget.text() == option.label
        else:
            labels = [f.labelForField(widget) for f in forms if f.labelForField(widget)]
            assert [label.text() for label in labels] == [option.label]
            assert labels[0].toolTip() == option.tip
        tip = widget.toolTip()
        assert len(tip) > 20 and option.key not in tip and "_" not in tip, (option.key, tip)


def test_a_new_config_key_needs_one_declaration(qtbot, tmp_path, monkeypatch):
    """A key the form does not show yet appears, is read and is filled from one ``Option``."""
    isolate_settings(tmp_path)
    from PySide6.QtWidgets import QFormLayout, QLabel, QSpinBox

    from app.views import training_options
    from app.views.option_specs import MORE, Option

    new = Option(
        "train.preview_count", "preview_count", "Preview images", MORE, tip="How many " * 5, hi=9
    )
    monkeypatch.setattr(training_options, "OPTIONS", (*training_options.OPTIONS, new))
    form = training_options.TrainingOptions()
    qtbot.addWidget(form)
    box = form.preview_count
    assert isinstance(box, QSpinBox) and box.maximum() == 9 and box.toolTip() == new.tip
    assert form.advanced.isAncestorOf(box)
    layouts = form.advanced.findChildren(QFormLayout)
    labels = [f.labelForField(box) for f in layouts]
    labels = [label for label in labels if isinstance(label, QLabel)]
    assert [label.text() for label in labels] == ["Preview images"]
    assert form.tables()["train"]["preview_count"] == Config().train.preview_count
    cfg = Config()
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, preview_count=7))
    form.set_config(cfg)
    assert box.value() == 7 and form.tables()["train"]["preview_count"] == 7
