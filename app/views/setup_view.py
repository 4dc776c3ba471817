"""Setup: where the images are, how to train, on what device. Emits a ready ``Config``.

Folders are checked off the GUI thread as soon as they are chosen; the device is
queried off the GUI thread too (torch). Save/Load write the same TOML the CLI reads.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from noiseda_core.config import (
    Config,
    Mode,
    config_from_dict,
    config_to_toml,
    load_config,
    save_config,
)
from noiseda_core.denoiser_start import starting_denoiser_name, starts_pretrained
from noiseda_core.errors import UserError

from .. import settings
from ..file_dialogs import Purpose, open_file, save_file
from ..tasks import run_in_thread
from ..theme import icon, status_colour
from ..widgets.device_info import DeviceInfoLabel, DeviceSummary, default_sizes
from ..widgets.folder_check import FolderCheck
from ..widgets.noise_panel import NoisePanel
from ..widgets.path_picker import PathPicker
from .config_merge import merge
from .demo_setup import build_demo
from .option_tips import human_message
from .training_options import TrainingOptions

PAIRED, CLEAN = "paired", "clean"
FOLDERS = {  # key → (label, role when paired, optional?, hint)
    "synthetic": (
        "Synthetic pairs",
        "SYNTHETIC_PAIRED",
        False,
        "a folder with input/ and target/ inside",
    ),
    "real": ("Real images", "REAL", False, "your own degraded photos, no ground truth needed"),
    "val": (
        "Validation pairs",
        "VALIDATION",
        True,
        "optional: real input/ + target/ with ground truth",
    ),
    "reference": (
        "Clean references",
        "REFERENCE",
        True,
        "optional: unrelated clean images (unpaired mode)",
    ),
}


class SetupView(QWidget):
    start_requested = Signal(object)  # Config
    demo_ready = Signal(str)  # demo.toml
    message = Signal(str)
    runs_folder_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.demo_busy = False
        self._start_blocked = False  # the status shows "Cannot start yet"
        self._base: Config | None = None  # the loaded config: keys without a widget survive Start
        self._at_load: dict | None = None  # the form's values right after loading it
        self._demo_fit_pending = False  # the demo was loaded before the device was known
        self._demo_dir: Path | None = None
        # ---- data
        self.source = QComboBox()
        self.source.addItem("Paired folder (input/ + target/)", PAIRED)
        self.source.addItem("Clean images + synthetic degradation", CLEAN)
        self.degradation = QComboBox()
        self.degradation.addItem("Gaussian noise (AWGN)", "awgn")
        self.degradation.addItem("Camera noise simulator", "camera")
        self.degradation.addItem("Fitted to my real photos", "fit")
        self.degradation.setItemData(
            2,
            "Noise with the level, correlation and colour of the noise "
            "measured in your real photos (shown under the real folder)",
            Qt.ItemDataRole.ToolTipRole,
        )
        self.sigma_lo = QSpinBox()
        self.sigma_hi = QSpinBox()
        for box, value in ((self.sigma_lo, 0), (self.sigma_hi, 50)):
            box.setRange(0, 255)
            box.setValue(value)
        self.sigma_row = QWidget()
        row = QHBoxLayout(self.sigma_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.degradation, 1)
        self.sigma_label = QLabel("σ")
        row.addWidget(self.sigma_label)
        row.addWidget(self.sigma_lo)
        self.sigma_dash = QLabel("–")
        row.addWidget(self.sigma_dash)
        row.addWidget(self.sigma_hi)

        data_box = QGroupBox("Data")
        form = QFormLayout(data_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Synthetic source", self.source)
        self.degradation_label = QLabel("Degradation")
        form.addRow(self.degradation_label, self.sigma_row)
        self.pickers: dict[str, PathPicker] = {}
        self.checks: dict[str, FolderCheck] = {}
        self.labels: dict[str, QLabel] = {}
        for key, (label, role, optional, hint) in FOLDERS.items():
            picker = PathPicker(hint, settings_key=f"last_folder/{key}")
            check = FolderCheck(role)
            cell = QWidget()
            lay = QVBoxLayout(cell)
            lay.setContentsMargins(0, 0, 0, 4)
            lay.setSpacing(2)
            lay.addWidget(picker)
            lay.addWidget(check)
            if key == "real":
                self.noise_panel = NoisePanel()
                lay.addWidget(self.noise_panel)
            self.labels[key] = QLabel(label + (" (optional)" if optional else ""))
            form.addRow(self.labels[key], cell)
            picker.path_changed.connect(lambda path, k=key: self._folder_changed(k, path))
            check.checked.connect(lambda _result: self._recheck_blocked_start())
            self.pickers[key], self.checks[key] = picker, check
        self.runs = PathPicker("where run folders go", settings_key="last_folder/runs")
        self.runs.edit.setPlaceholderText(str(settings.default_runs_dir()))
        self.runs.path_changed.connect(self._runs_changed)
        form.addRow("Save runs in", self.runs)

        # ---- training
        self.options = TrainingOptions()
        train_box = QGroupBox("Training")
        tlay = QVBoxLayout(train_box)
        self.device_label = DeviceInfoLabel()
        tlay.addWidget(self.device_label)
        tlay.addWidget(self.options)
        tlay.addStretch(1)

        # ---- demo banner
        self.banner = QFrame()
        self.banner.setObjectName("banner")
        blay = QHBoxLayout(self.banner)
        text = QLabel(
            "<b>New here?</b> Build a small demo project (synthetic pairs, real noisy photos "
            "and validation pairs) and fill in this page."
        )
        text.setWordWrap(True)
        self.demo_button = QPushButton(icon("demo"), "Try with demo data")
        self.demo_button.clicked.connect(lambda: self.load_demo())
        blay.addWidget(text, 1)
        blay.addWidget(self.demo_button)

        # ---- bottom bar
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.load_button = QPushButton(icon("open"), "Load config…")
        self.save_button = QPushButton(icon("save"), "Save config…")
        self.start_button = QPushButton(icon("play"), "Start training")
        self.start_button.setObjectName("primary")
        self.load_button.clicked.connect(self.open_load_dialog)
        self.save_button.clicked.connect(self.open_save_dialog)
        self.start_button.clicked.connect(self.request_start)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.load_button)
        bottom.addWidget(self.save_button)
        bottom.addWidget(self.start_button)

        body = QWidget()
        grid = QGridLayout(body)
        grid.addWidget(self.banner, 0, 0, 1, 2)
        grid.addWidget(data_box, 1, 0)
        grid.addWidget(train_box, 1, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setRowStretch(2, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)

        self.source.currentIndexChanged.connect(self._source_changed)
        self.degradation.currentIndexChanged.connect(self._source_changed)
        self.options.mode_changed.connect(self._mode_changed)
        self.options.changed.connect(self._show_choice)
        self.pickers["val"].path_changed.connect(self._show_choice)
        self.noise_panel.change_requested.connect(self._open_choice_options)
        self.device_label.ready.connect(self._device_ready)
        self._source_changed()
        self._mode_changed()
        self._show_choice()

    def _show_choice(self, *_: object) -> None:
        """The noise panel says which strength, learning rate and weights the run uses."""
        tables = self.options.tables()
        model = tables.get("model", {})
        base = self._base.model if self._base is not None else None
        spec = str(model.get("init_denoiser", base.init_denoiser if base else ""))
        size = str(model.get("diffusion", base.diffusion if base else ""))
        self.noise_panel.show_choice(
            tables["train"],
            has_val=bool(self.pickers["val"].path()),
            denoiser=starting_denoiser_name(spec, size) if size else "",
            pretrained=starts_pretrained(spec, size),
        )

    def _open_choice_options(self) -> None:
        """*Change them*: open Advanced at the λ weight."""
        self.options.toggle.setChecked(True)
        self.options.lambda_weight.setFocus()

    # ------------------------------------------------------------------ device
    def start_device_query(self) -> None:
        self.device_label.start_query()

    def _device_ready(self, info: DeviceSummary) -> None:
        self.options.apply_device(info, default_sizes(info))
        if self._demo_fit_pending:
            self._demo_fit_pending = False
            if self.fit_demo_to_device() and self._demo_dir is not None:
                self._demo_status(self._demo_dir, cpu=True)

    def fit_demo_to_device(self) -> bool:
        """Whether the just-loaded demo runs on a CPU, for its status line (the demo's own
        config is already CPU-sized; nothing is changed)."""
        info = self.device_label.info
        self._demo_fit_pending = info is None
        return info is not None and info.kind == "cpu"

    def _demo_status(self, folder: Path, *, cpu: bool) -> None:
        minutes = self.options.minutes.value()
        start = self.options.start_from.combo.currentText().split(" (")[0].lower().replace(":", "")
        length = (
            f"for {minutes:g} minutes" if minutes > 0 else f"for {self.options.steps.value()} steps"
        )
        note = " No GPU: small denoiser and batch." if cpu else ""
        self.show_status(
            f"Demo data ready in {folder}: starts from the {start} and adapts it "
            f"to the real photos {length}.{note} Press Start training.",
            ok=True,
        )

    def gpu_count(self) -> int:
        info = self.device_label.info
        return info.count if info is not None and info.kind == "cuda" else 0

    def training_processes(self) -> int:
        """How many training processes Start runs: one per local GPU when the options
        ask for all of them, else one."""
        return max(1, self.gpu_count()) if self.options.all_gpus.isChecked() else 1

    def set_start_enabled(self, enabled: bool) -> None:
        """Start is off while a training run is going."""
        self.start_button.setEnabled(enabled)

    def stop_device_query(self) -> None:
        """The window closes: the device query's child process goes too."""
        self.device_label.stop_query()

    # ------------------------------------------------------------------ folders
    def _folder_changed(self, key: str, path: str) -> None:
        if path:
            self.checks[key].check(path)
        else:
            self.checks[key].clear()
        if key == "real":
            self.noise_panel.measure(path)

    def _source_changed(self, *_: object) -> None:
        clean = self.source.currentData() == CLEAN
        for w in (self.degradation_label, self.sigma_row):
            w.setVisible(clean)
        awgn = self.degradation.currentData() == "awgn"
        for w in (self.sigma_lo, self.sigma_hi, self.sigma_label, self.sigma_dash):
            w.setVisible(awgn)
        self.labels["synthetic"].setText("Clean images" if clean else "Synthetic pairs")
        self.pickers["synthetic"].edit.setPlaceholderText(
            "a folder of clean images" if clean else "a folder with input/ and target/ inside"
        )
        role = "CLEAN" if clean else "SYNTHETIC_PAIRED"
        if role != self.checks["synthetic"].role_name:
            self.checks["synthetic"].set_role(role)
            self._folder_changed("synthetic", self.pickers["synthetic"].path())

    def _mode_changed(self, *_: object) -> None:
        unpaired = self.options.current_mode() == Mode.NOISE_DA_UNPAIRED
        self.labels["reference"].setText("Clean references" + ("" if unpaired else " (optional)"))

    def checks_busy(self) -> bool:
        return any(c.busy for c in self.checks.values()) or self.demo_busy

    # ------------------------------------------------------------------ config
    def degradation_spec(self) -> str:
        if self.source.currentData() != CLEAN:
            return ""
        if self.degradation.currentData() in ("camera", "fit"):
            return self.degradation.currentData()
        lo, hi = sorted((self.sigma_lo.value(), self.sigma_hi.value()))
        return f"awgn:{lo}-{hi}"

    def form_values(self) -> dict[str, dict]:
        """What the widgets show, as ``{"data": …, "model": …, "train": …}`` tables."""
        tables = self.options.tables()
        data = tables.setdefault("data", {})
        data.update({key: picker.path() for key, picker in self.pickers.items()})
        data["degradation"] = self.degradation_spec()
        return tables

    def current_config(self) -> Config:
        """The loaded config with the form's edits, validated (else one ``UserError``)."""
        return config_from_dict(merge(self._base, self.form_values(), self._at_load))

    def set_config(self, cfg: Config) -> None:
        d = cfg.data
        spec = d.degradation
        self.source.setCurrentIndex(self.source.findData(CLEAN if spec else PAIRED))
        if spec.startswith("camera"):
            self.degradation.setCurrentIndex(self.degradation.findData("camera"))
        elif spec.startswith("fit"):
            self.degradation.setCurrentIndex(self.degradation.findData("fit"))
        elif spec.startswith("awgn:"):
            self.degradation.setCurrentIndex(self.degradation.findData("awgn"))
            lo, _, hi = spec.split(":", 1)[1].partition("-")
            self.sigma_lo.setValue(int(float(lo or 0)))
            self.sigma_hi.setValue(int(float(hi or lo or 0)))
        self.options.set_config(cfg)
        for key in FOLDERS:
            self.pickers[key].set_path(getattr(d, key))
        self._base, self._at_load = cfg, self.form_values()
        self._show_choice()  # keys without a widget (the denoiser's start) come with the base

    def problems(self) -> list[str]:
        """What stops a start, one clear sentence each (empty when ready)."""
        out: list[str] = []
        mode = self.options.current_mode()
        needed = ["synthetic"] + (["real"] if mode != Mode.BASELINE else [])
        if mode == Mode.NOISE_DA_UNPAIRED:
            needed.append("reference")
        for key in FOLDERS:
            label = self.labels[key].text().replace(" (optional)", "")
            path, check = self.pickers[key].path(), self.checks[key]
            if not path:
                if key in needed:
                    out.append(f"Choose the {label.lower()} folder.")
                continue
            if check.busy:
                out.append(f"{label}: still checking {path}…")
            elif check.result is not None and not check.result.ok:
                out.append(f"{label}: {check.result.message}")
        try:
            self.current_config()
        except UserError as exc:
            out.append(human_message(str(exc)))
        return out

    def request_start(self) -> None:
        problems = self.problems()
        if problems:
            self._show_blocked(problems)
            return
        cfg = self.current_config()
        self.save_state()
        self.show_status("Starting…", ok=None)
        self.start_requested.emit(cfg)

    def _show_blocked(self, problems: list[str]) -> None:
        self.show_status("Cannot start yet:\n" + "\n".join(f"• {p}" for p in problems), ok=False)
        self._start_blocked = True

    def _recheck_blocked_start(self) -> None:
        """After "Cannot start yet", a folder check that came back updates that list, and
        clears it once nothing stops a start (no stale message after the fix)."""
        if not self._start_blocked:
            return
        problems = [p for p in self.problems() if "still checking" not in p]
        if problems:
            self._show_blocked(problems)
        elif not any(check.busy for check in self.checks.values()):
            self.show_status("Ready: nothing stops a start now.", ok=True)

    def show_status(self, text: str, ok: bool | None = None) -> None:
        self._start_blocked = False
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {status_colour(ok)}")
        self.message.emit(" ".join(text.split()))  # the status bar holds one line

    def runs_root(self) -> Path:
        text = self.runs.path()
        return Path(text) if text else settings.default_runs_dir()

    def _runs_changed(self, text: str) -> None:
        settings.put("setup/runs", text)
        self.runs_folder_changed.emit(str(self.runs_root()))

    # ------------------------------------------------------------------ persistence
    def save_state(self) -> None:
        with contextlib.suppress(UserError):  # an unfinished form is not worth remembering
            settings.put("setup/config", config_to_toml(self.current_config()))
        settings.put("setup/runs", self.runs.path())

    def restore_state(self) -> bool:
        """Fill the form from the last session; False when there is none."""
        self.runs.set_path(str(settings.get("setup/runs", "") or ""), emit=False)
        text = settings.get("setup/config", "")
        if not text:
            return False
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib  # pyright: ignore[reportMissingImports]  (installed on 3.10 only)
        try:
            self.set_config(config_from_dict(tomllib.loads(str(text))))
        except (UserError, tomllib.TOMLDecodeError):
            return False
        return True

    def open_load_dialog(self) -> None:
        path = open_file(self, Purpose.CONFIGS, "Load configuration", "TOML (*.toml)")
        if path is not None:
            self.load_file(path)

    def load_file(self, path: Path) -> bool:
        try:
            cfg = load_config(path)
        except UserError as exc:
            self.show_status(str(exc), ok=False)
            return False
        settings.put("last_folder/config", str(path.parent))
        self.set_config(cfg)
        self.show_status(f"Loaded {path}", ok=True)
        return True

    def open_save_dialog(self) -> None:
        path = save_file(
            self, Purpose.CONFIGS, "Save configuration", "noiseda.toml", "TOML (*.toml)"
        )
        if path is not None:
            self.save_file(path)

    def save_file(self, path: Path) -> bool:
        try:
            save_config(self.current_config(), path)
        except (UserError, OSError) as exc:
            self.show_status(f"Could not save {path}: {exc}", ok=False)
            return False
        settings.put("last_folder/config", str(path.parent))
        self.show_status(
            f"Saved {path} (train it from a terminal with: noiseda train {path})", ok=True
        )
        return True

    # ------------------------------------------------------------------ demo
    def load_demo(self, target: Path | None = None) -> None:
        """Build the demo set off the GUI thread, then fill the form from its config."""
        target = Path(target) if target else settings.data_dir() / "demo"
        self.demo_busy = True
        self.demo_button.setEnabled(False)
        self.show_status(f"Building demo data in {target}…", ok=None)
        run_in_thread(lambda: build_demo(target), self._demo_done, self._demo_failed)

    def _demo_done(self, toml: Path) -> None:
        self.demo_busy = False
        self._start_blocked = False  # the status shows "Cannot start yet"
        self.demo_button.setEnabled(True)
        if self.load_file(Path(toml)):
            self.banner.hide()
            settings.put("setup/demo_offered", True)
            self._demo_dir = Path(toml).parent
            self._demo_status(self._demo_dir, cpu=self.fit_demo_to_device())
            self.demo_ready.emit(str(toml))

    def _demo_failed(self, message: str) -> None:
        self.demo_busy = False
        self._start_blocked = False  # the status shows "Cannot start yet"
        self.demo_button.setEnabled(True)
        self.show_status(f"Could not build the demo data: {message}", ok=False)
