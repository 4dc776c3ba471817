"""The training half of the setup form: task, networks, mode, sizes and "Advanced".

Every widget is built from its declaration in ``option_specs.OPTIONS`` (label, tooltip,
range, place); ``values()`` and ``set_config`` walk the same list, so a config key
added there appears, is saved and is loaded with no other change. Nothing here
imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from noiseda_core.config import TASK_LR, Config, Mode, Task, config_to_dict

from ..widgets.device_info import FALLBACK_DENOISERS, FALLBACK_RESTORERS, DeviceSummary, Sizes
from ..widgets.start_from import StartFrom
from .option_specs import ADVANCED, BASIC, MORE, OPTIONS, Option

Tables = dict[str, dict[str, Any]]


def _set_combo(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    if index < 0:
        combo.addItem(value, value)
        index = combo.count() - 1
    combo.setCurrentIndex(index)


def _make_widget(option: Option) -> QWidget:
    """The widget for one option; its kind follows the config field's type."""
    if option.key == "model.init_restorer":
        return StartFrom()
    typ = option.type
    if typ is bool:
        return QCheckBox(option.label)
    if typ is int or typ is float:
        box: QSpinBox | QDoubleSpinBox
        if typ is int:
            box = QSpinBox()
            box.setRange(int(option.lo), int(option.hi))
            box.setSingleStep(int(option.step))
            box.setAccelerated(True)
        else:
            box = QDoubleSpinBox()
            box.setDecimals(option.decimals)
            box.setRange(option.lo, option.hi)
            box.setSingleStep(option.step)
        box.setSuffix(option.suffix)
        box.setSpecialValueText(option.special)
        return box
    combo = QComboBox()  # an enum, or a name (filled by set_names for the networks)
    for value, label in option.items():
        combo.addItem(label, value)
    return combo


def read_widget(widget: QWidget) -> Any:
    """The value a widget shows, as the config holds it."""
    if isinstance(widget, StartFrom):
        return widget.value()
    if isinstance(widget, QComboBox):
        return widget.currentData()
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    return widget.value()  # type: ignore[attr-defined]


def write_widget(widget: QWidget, value: Any) -> None:
    """Show ``value`` (an enum's member or a plain value) in a widget."""
    value = getattr(value, "value", value)
    if isinstance(widget, StartFrom):
        widget.set_value(value)
    elif isinstance(widget, QComboBox):
        _set_combo(widget, value)
    elif isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    else:
        widget.setValue(value)  # type: ignore[attr-defined]


class TrainingOptions(QWidget):
    """Emits ``changed`` on any edit and ``mode_changed(str)`` when the mode changes."""

    changed = Signal()
    mode_changed = Signal(str)

    if TYPE_CHECKING:  # each option's widget is an attribute named by its Option.name

        def __getattr__(self, name: str) -> Any: ...

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sizes_touched = False  # the user (or a loaded config) chose sizes
        self._free_restorer: str | None = None  # the restorer to offer again "from scratch"
        self.widgets: dict[str, QWidget] = {}  # option name → widget (also an attribute)
        defaults = config_to_dict(Config())
        forms = {place: QFormLayout() for place in (BASIC, ADVANCED, MORE)}
        self._basic = forms[BASIC]
        for option in OPTIONS:
            widget = _make_widget(option)
            setattr(self, option.name, widget)
            self.widgets[option.name] = widget
            initial = defaults[option.section][option.field]
            write_widget(widget, initial if option.initial is None else option.initial)
            form = forms[option.place]
            if isinstance(widget, QCheckBox):
                form.addRow(widget)
            else:
                form.addRow(option.label, widget)
                if option.tip:
                    form.labelForField(widget).setToolTip(option.tip)
            if option.tip:
                widget.setToolTip(option.tip)
            if option.name == "steps":  # a run of minutes shows this in the Steps row instead
                self.steps_sized = QLabel("sized to the time: the first steps are timed", self)
                self.steps_sized.setObjectName("hint")
                form.addRow("Steps", self.steps_sized)
        self.all_gpus = QCheckBox("Use all local GPUs")
        self.all_gpus.setVisible(False)
        forms[MORE].addRow(self.all_gpus)
        self.set_names(FALLBACK_RESTORERS, FALLBACK_DENOISERS)  # keeps the initial names

        self.advanced = QWidget()
        grid = QGridLayout(self.advanced)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addLayout(forms[ADVANCED], 0, 0)
        grid.addLayout(forms[MORE], 0, 1)
        self.advanced.setVisible(False)
        self.toggle = QToolButton()
        self.toggle.setObjectName("sectionToggle")
        self.toggle.setText("Advanced")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.toggled.connect(self._toggle_advanced)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(forms[BASIC])
        layout.addWidget(self.toggle)
        layout.addWidget(self.advanced)

        self.task.currentIndexChanged.connect(self._task_changed)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        for box in (self.restorer, self.denoiser):
            box.activated.connect(self._touch)
        for spin in (self.batch, self.patch):
            spin.editingFinished.connect(self._touch)
        for widget in self.widgets.values():
            if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
                widget.valueChanged.connect(lambda *_: self.changed.emit())
            elif isinstance(widget, QComboBox):
                widget.currentIndexChanged.connect(lambda *_: self.changed.emit())
            elif isinstance(widget, QCheckBox):
                widget.toggled.connect(lambda *_: self.changed.emit())
        self.start_from.changed.connect(self._start_changed)
        self.start_from.changed.connect(self.changed.emit)
        self.minutes.valueChanged.connect(self._minutes_changed)
        self._mode_changed()
        self._start_changed()
        self._minutes_changed()

    # ------------------------------------------------------------------ api
    def set_names(
        self, restorers: list[str], denoisers: list[str], notes: dict[str, str] | None = None
    ) -> None:
        for combo, names in ((self.restorer, restorers), (self.denoiser, denoisers)):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for name in names:
                combo.addItem(name, name)
                if notes and combo is self.restorer and notes.get(name):
                    combo.setItemData(combo.count() - 1, notes[name], Qt.ItemDataRole.ToolTipRole)
            if current:
                _set_combo(combo, current)
            combo.blockSignals(False)

    def apply_device(self, info: DeviceSummary, sizes: Sizes) -> None:
        """Offer the device's names; preselect its sizes unless the user chose some."""
        self.set_names(info.restorers, info.denoisers, info.restorer_notes)
        self.all_gpus.setVisible(info.kind == "cuda" and info.count > 1)
        self.all_gpus.setText(f"Use all {info.count} local GPUs")
        if not self.sizes_touched:
            self._free_restorer = sizes.restorer
            _set_combo(self.restorer, sizes.restorer)
            _set_combo(self.denoiser, sizes.denoiser)
            self.patch.setValue(sizes.patch)
            self.batch.setValue(sizes.batch)
            self.steps.setValue(sizes.steps)
            if self.workers.value() == -1:  # auto: show the plan's number
                self.workers.setValue(sizes.workers)
        self._start_changed()  # a starting model still decides the architecture

    def tables(self) -> Tables:
        """What the options show, as ``{section: {key: value}}`` for ``config_from_dict``."""
        out: Tables = {}
        for option in OPTIONS:
            out.setdefault(option.section, {})[option.field] = read_widget(
                self.widgets[option.name]
            )
        arch = self.start_from.arch()  # a built-in starting model decides the architecture
        if arch:
            out["model"]["restorer"] = arch
        return out

    def values(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(model, train)`` tables for ``config_from_dict``."""
        tables = self.tables()
        return tables["model"], tables["train"]

    def set_config(self, cfg: Config) -> None:
        """Show every option's value in ``cfg`` (the task preset does not reset its lr)."""
        for option in OPTIONS:
            widget = self.widgets[option.name]
            widget.blockSignals(True)
            write_widget(widget, getattr(getattr(cfg, option.section), option.field))
            widget.blockSignals(False)
        self._free_restorer = cfg.model.restorer  # what "From scratch" offers
        self._start_changed()
        self._minutes_changed()
        self._mode_changed()
        self.sizes_touched = True
        self.changed.emit()

    def current_mode(self) -> Mode:
        return Mode(self.mode.currentData())

    # ------------------------------------------------------------------ internals
    def _touch(self, *_: object) -> None:
        self.sizes_touched = True

    def _toggle_advanced(self, on: bool) -> None:
        self.advanced.setVisible(on)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def _start_changed(self, *_: object) -> None:
        """A starting model decides the architecture: the Restorer list shows it, locked."""
        arch, scratch = self.start_from.arch(), self.start_from.is_scratch()
        if self.restorer.isEnabled() and not scratch:  # about to lock: remember the free choice
            self._free_restorer = self.restorer.currentData()
        if arch:
            _set_combo(self.restorer, arch)
        elif scratch and not self.restorer.isEnabled() and self._free_restorer:
            _set_combo(self.restorer, self._free_restorer)
        self.restorer.setEnabled(scratch)
        self.restorer.setToolTip(
            ""
            if self.start_from.is_scratch()
            else "Set by the starting model (choose From scratch to pick one)"
        )

    def _minutes_changed(self, *_: object) -> None:
        """A run of minutes has no step count to show until it has timed its first steps."""
        sized = self.minutes.value() > 0
        self.steps.setEnabled(not sized)
        self._basic.setRowVisible(self.steps, not sized)
        self._basic.setRowVisible(self.steps_sized, sized)

    def _task_changed(self, *_: object) -> None:
        self.lr.setValue(TASK_LR[Task(self.task.currentData())])

    def _mode_changed(self, *_: object) -> None:
        noise_da = self.current_mode() != Mode.BASELINE
        for option in OPTIONS:
            if option.noise_da:
                self.widgets[option.name].setEnabled(noise_da)
        self.mode_changed.emit(self.current_mode().value)
