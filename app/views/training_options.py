"""The training half of the setup form: task, networks, mode, sizes and "Advanced".

``values()`` gives the ``[model]`` and ``[train]`` tables as plain dicts (what TOML holds);
``set_config`` fills the widgets from a ``Config``. Nothing here imports torch.
"""

from __future__ import annotations

from typing import Any

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

from noiseda_core.config import TASK_LR, Config, Mode, Precision, Task

from ..widgets.device_info import FALLBACK_DENOISERS, FALLBACK_RESTORERS, DeviceSummary, Sizes
from ..widgets.start_from import StartFrom
from .option_tips import TIPS

MODE_LABELS = {
    Mode.BASELINE: "Baseline (synthetic pairs only)",
    Mode.NOISE_DA: "Noise-DA (adapt to the real images)",
    Mode.NOISE_DA_UNPAIRED: "Noise-DA, unpaired clean references",
}


def _spin(lo: int, hi: int, value: int, step: int = 1, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setAccelerated(True)
    return box


def _dspin(lo: float, hi: float, value: float, decimals: int, step: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def _set_combo(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    if index < 0:
        combo.addItem(value, value)
        index = combo.count() - 1
    combo.setCurrentIndex(index)


class TrainingOptions(QWidget):
    """Emits ``changed`` on any edit and ``mode_changed(str)`` when the mode changes."""

    changed = Signal()
    mode_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sizes_touched = False  # the user (or a loaded config) chose sizes
        self._free_restorer: str | None = None  # the restorer to offer again "from scratch"
        t = Config().train
        self.task = QComboBox()
        for task in Task:
            self.task.addItem(task.value.capitalize(), task.value)
        self.restorer = QComboBox()
        self.mode = QComboBox()
        for mode, label in MODE_LABELS.items():
            self.mode.addItem(label, mode.value)
        self.start_from = StartFrom()
        self.minutes = _dspin(0.0, 100_000.0, 0.0, 1, 1.0)
        self.minutes.setSuffix(" min")
        self.minutes.setSpecialValueText("off: train the steps below")
        self.minutes.setToolTip(
            "Train for about this long: the first steps are timed and the run "
            "is sized to end in time (validation and export included). "
            "Off: train a fixed number of steps."
        )
        self.steps = _spin(1, 10_000_000, t.steps, 1000)
        self.batch = _spin(1, 1024, 4)
        self.patch = _spin(16, 1024, 64, 16, " px")
        basic = QFormLayout()
        basic.addRow("Task", self.task)
        basic.addRow("Start from", self.start_from)
        basic.addRow("Restorer", self.restorer)
        basic.addRow("Mode", self.mode)
        basic.addRow("Train for", self.minutes)
        basic.addRow("Steps", self.steps)
        self.steps_sized = QLabel("sized to the time: the first steps are timed", self)
        self.steps_sized.setObjectName("hint")
        basic.addRow("Steps", self.steps_sized)
        self._basic = basic
        basic.addRow("Batch", self.batch)
        basic.addRow("Patch", self.patch)

        self.lr = _dspin(1e-7, 1.0, t.lr, 7, 1e-5)
        self.lambda_weight = _dspin(0.0, 10.0, t.lambda_weight, 3, 0.05)
        self.lambda_ramp = _dspin(0.0, 1e7, t.lambda_ramp, 3, 0.1)
        self.ema_decay = _dspin(0.0, 0.99999, t.ema_decay, 5, 0.0001)
        self.cs = QCheckBox("Channel shuffle (CS)")
        self.cs.setChecked(t.channel_shuffle)
        self.rs = QCheckBox("Residual swap (RS)")
        self.rs.setChecked(t.residual_swap)
        self.precision = QComboBox()
        for p in Precision:
            self.precision.addItem(p.value, p.value)
        self.seed = _spin(0, 2**31 - 1, t.seed)
        self.val_every = _spin(1, 10_000_000, t.val_every, 100)
        self.preview_every = _spin(1, 10_000_000, t.preview_every, 100)
        self.checkpoint_every = _spin(1, 10_000_000, t.checkpoint_every, 100)
        self.log_every = _spin(1, 100_000, t.log_every)
        self.denoiser = QComboBox()
        self.warmup = _spin(0, 10_000_000, t.warmup_restorer_steps, 100)
        self.pretrain = _spin(0, 10_000_000, t.denoiser_pretrain_steps, 100, " steps")
        self.denoiser_lr = _dspin(0.0, 1.0, t.denoiser_lr, 7, 1e-5)
        self.denoiser_lr.setSpecialValueText("same as restorer")
        self.margin = _dspin(0.0, 10.0, t.margin, 3, 0.01)
        self.real_per_pair = _spin(1, 16, t.real_per_pair)
        self.keep_best = QComboBox()
        for rule, label in (
            ("auto", "best (validation pairs, else proxy)"),
            ("val", "best by validation pairs"),
            ("proxy", "best by proxy pairs"),
            ("off", "last weights"),
        ):
            self.keep_best.addItem(label, rule)
        self.keep_best.setToolTip(
            "Which weights the run exports. Best: the best-scoring ones, the "
            "starting model included, so the result is never worse than the "
            "start on those pairs. Proxy pairs: held-out clean photos with "
            "noise fitted to your real photos (no ground truth needed)."
        )
        _set_combo(self.keep_best, t.keep_best.value)
        self.workers = _spin(0, 64, 0)
        self.device = QComboBox()
        for d in ("auto", "cpu", "cuda", "mps"):
            self.device.addItem(d, d)
        self.all_gpus = QCheckBox("Use all local GPUs")
        self.all_gpus.setVisible(False)
        _set_combo(self.mode, t.mode.value)
        _set_combo(self.precision, t.precision.value)
        self.set_names(FALLBACK_RESTORERS, FALLBACK_DENOISERS)
        _set_combo(self.restorer, "unet-t")
        _set_combo(self.denoiser, "small")

        adv = QFormLayout()
        adv.addRow("Learning rate", self.lr)
        adv.addRow("λ weight", self.lambda_weight)
        adv.addRow("Keep", self.keep_best)
        adv.addRow("λ ramp", self.lambda_ramp)
        adv.addRow("EMA decay", self.ema_decay)
        adv.addRow("Denoiser size", self.denoiser)
        adv.addRow("Warm-up steps", self.warmup)
        adv.addRow("Denoiser pre-training", self.pretrain)
        adv.addRow("Denoiser learning rate", self.denoiser_lr)
        adv.addRow("Margin", self.margin)
        adv.addRow("Precision", self.precision)
        adv.addRow("Device", self.device)
        adv.addRow("Seed", self.seed)
        adv.addRow("Data workers", self.workers)
        adv2 = QFormLayout()
        adv2.addRow(self.cs)
        adv2.addRow(self.rs)
        adv2.addRow("Real crops per pair", self.real_per_pair)
        adv2.addRow("Log every", self.log_every)
        adv2.addRow("Validate every", self.val_every)
        adv2.addRow("Preview every", self.preview_every)
        adv2.addRow("Checkpoint every", self.checkpoint_every)
        adv2.addRow(self.all_gpus)
        self.advanced = QWidget()
        grid = QGridLayout(self.advanced)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addLayout(adv, 0, 0)
        grid.addLayout(adv2, 0, 1)
        self.advanced.setVisible(False)
        self.toggle = QToolButton()
        self.toggle.setObjectName("sectionToggle")
        self.toggle.setText("Advanced")
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.toggled.connect(self._toggle_advanced)

        for name, tip in TIPS.items():
            widget = getattr(self, name, None)
            if widget is not None:
                widget.setToolTip(tip)
                label = (
                    basic.labelForField(widget)
                    or adv.labelForField(widget)
                    or adv2.labelForField(widget)
                )
                if label is not None:
                    label.setToolTip(tip)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(basic)
        layout.addWidget(self.toggle)
        layout.addWidget(self.advanced)

        self.task.currentIndexChanged.connect(self._task_changed)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        for box in (self.restorer, self.denoiser):
            box.activated.connect(self._touch)
        for spin in (self.batch, self.patch):
            spin.editingFinished.connect(self._touch)
        for kind in (QSpinBox, QDoubleSpinBox):
            for w in self.findChildren(kind):
                w.valueChanged.connect(lambda *_: self.changed.emit())
        for w in self.findChildren(QComboBox):
            w.currentIndexChanged.connect(lambda *_: self.changed.emit())
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
            if sizes.workers and self.workers.value() == 0:
                self.workers.setValue(sizes.workers)  # keep a GPU fed: crops and noise drawn ahead
        self._start_changed()  # a starting model still decides the architecture

    def values(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(model, train)`` tables for ``config_from_dict``."""
        model = {
            "restorer": self.start_from.arch() or self.restorer.currentData(),
            "diffusion": self.denoiser.currentData(),
            "init_restorer": self.start_from.value(),
        }
        train = {
            "minutes": self.minutes.value(),
            "task": self.task.currentData(),
            "mode": self.mode.currentData(),
            "steps": self.steps.value(),
            "batch": self.batch.value(),
            "patch": self.patch.value(),
            "lr": self.lr.value(),
            "lambda_weight": self.lambda_weight.value(),
            "lambda_ramp": self.lambda_ramp.value(),
            "ema_decay": self.ema_decay.value(),
            "channel_shuffle": self.cs.isChecked(),
            "residual_swap": self.rs.isChecked(),
            "precision": self.precision.currentData(),
            "seed": self.seed.value(),
            "log_every": self.log_every.value(),
            "val_every": self.val_every.value(),
            "preview_every": self.preview_every.value(),
            "checkpoint_every": self.checkpoint_every.value(),
            "warmup_restorer_steps": self.warmup.value(),
            "device": self.device.currentData(),
            "denoiser_pretrain_steps": self.pretrain.value(),
            "denoiser_lr": self.denoiser_lr.value(),
            "margin": self.margin.value(),
            "real_per_pair": self.real_per_pair.value(),
            "keep_best": self.keep_best.currentData(),
        }
        return model, train

    def set_config(self, cfg: Config) -> None:
        t, m = cfg.train, cfg.model
        self.task.blockSignals(True)
        _set_combo(self.task, t.task.value)
        self.task.blockSignals(False)
        _set_combo(self.mode, t.mode.value)
        _set_combo(self.restorer, m.restorer)
        _set_combo(self.denoiser, m.diffusion)
        self.start_from.set_value(m.init_restorer)
        self.minutes.setValue(t.minutes)
        _set_combo(self.precision, t.precision.value)
        _set_combo(self.device, t.device)
        _set_combo(self.keep_best, t.keep_best.value)
        for box, value in (
            (self.steps, t.steps),
            (self.batch, t.batch),
            (self.patch, t.patch),
            (self.seed, t.seed),
            (self.log_every, t.log_every),
            (self.val_every, t.val_every),
            (self.preview_every, t.preview_every),
            (self.checkpoint_every, t.checkpoint_every),
            (self.warmup, t.warmup_restorer_steps),
            (self.workers, cfg.data.workers),
            (self.pretrain, t.denoiser_pretrain_steps),
            (self.real_per_pair, t.real_per_pair),
        ):
            box.setValue(value)
        for real_box, real_value in (
            (self.lr, t.lr),
            (self.lambda_weight, t.lambda_weight),
            (self.lambda_ramp, t.lambda_ramp),
            (self.ema_decay, t.ema_decay),
            (self.denoiser_lr, t.denoiser_lr),
            (self.margin, t.margin),
        ):
            real_box.setValue(real_value)
        self.cs.setChecked(t.channel_shuffle)
        self.rs.setChecked(t.residual_swap)
        self.sizes_touched = True

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
        for w in (
            self.denoiser,
            self.lambda_weight,
            self.lambda_ramp,
            self.cs,
            self.rs,
            self.pretrain,
            self.denoiser_lr,
            self.margin,
            self.real_per_pair,
        ):
            w.setEnabled(noise_da)
        self.mode_changed.emit(self.current_mode().value)
