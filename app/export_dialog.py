"""Export dialog: write the restorer of a run alone (EMA or raw weights) to a .safetensors
file, or to ONNX when the ``onnx`` extra is installed.

Calls ``noiseda_core.checkpoint.export_run`` on a worker thread (imported only
then, so opening the dialog stays fast); a safetensors file carries the metadata
``noiseda restore`` and the restore view need to rebuild the network.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.tasks import Task
from app.widgets.banner import Banner
from noiseda_core.run_folder import RunFolder

ExportFn = Callable[..., Path]
WEIGHTS = ("ema", "raw")
SUFFIXES = {"safetensors": ".safetensors", "onnx": ".onnx"}
ONNX_INSTALL = 'pip install "noiseda-studio[onnx]"'


def onnx_available() -> bool:
    """True when the ``onnx`` extra (onnx, onnxscript) is installed."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxscript"))


def _export_run(run_dir: Path, out: Path, weights: str = "ema", fmt: str = "safetensors") -> Path:
    from noiseda_core.checkpoint import export_run

    # the save dialog has already asked before replacing an existing file
    return export_run(run_dir, out, weights=weights, fmt=fmt, overwrite=True)


class ExportDialog(QDialog):
    """Choose EMA or raw weights, a format and an output file; Export writes it off the GUI
    thread.

    Signals:
        exported(str): the file was written (its path).
        failed(str): the export failed (the message is also shown in the dialog).
    """

    exported = Signal(str)
    failed = Signal(str)

    def __init__(
        self, parent: QWidget | None, run_dir: Path, *, export_fn: ExportFn | None = None
    ) -> None:
        super().__init__(parent)
        self.run_dir = Path(run_dir)
        self._export_fn = export_fn or _export_run
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._task: Task | None = None
        self._auto_name = True  # the output name follows the weights choice until edited
        self.written: Path | None = None
        self.setWindowTitle("Export the restorer")
        self.setMinimumWidth(520)

        intro = QLabel(
            "Writes the trained restorer alone (no diffusion model, no optimiser): as "
            "safetensors with the metadata needed to load it (open it in the Restore view, or "
            "run <code>noiseda restore --model FILE</code>), or as ONNX for onnxruntime."
        )
        intro.setWordWrap(True)
        self.run_label = QLabel(str(self.run_dir))
        self.run_label.setWordWrap(True)
        self.ema_radio = QRadioButton("EMA weights (averaged; recommended)")
        self.raw_radio = QRadioButton("Raw weights (as at the last step)")
        self.ema_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.ema_radio)
        group.addButton(self.raw_radio)
        self.ema_radio.toggled.connect(lambda _on: self._weights_changed())
        weights_box = QVBoxLayout()
        weights_box.setSpacing(2)
        weights_box.addWidget(self.ema_radio)
        weights_box.addWidget(self.raw_radio)
        self.safetensors_radio = QRadioButton("Safetensors (this app, noiseda restore, spandrel)")
        self.onnx_radio = QRadioButton("ONNX (onnxruntime and other apps)")
        self.safetensors_radio.setChecked(True)
        formats = QButtonGroup(self)
        formats.addButton(self.safetensors_radio)
        formats.addButton(self.onnx_radio)
        self.onnx_radio.toggled.connect(lambda _on: self._format_changed())
        self.onnx_hint = QLabel("")
        self.onnx_hint.setObjectName("hint")
        self.onnx_hint.setWordWrap(True)
        self.onnx_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if not onnx_available():
            self.onnx_radio.setEnabled(False)
            self.onnx_hint.setText(f"ONNX needs the onnx extra: {ONNX_INSTALL}")
            self.onnx_radio.setToolTip(self.onnx_hint.text())
        self.onnx_hint.setVisible(bool(self.onnx_hint.text()))
        format_box = QVBoxLayout()
        format_box.setSpacing(2)
        format_box.addWidget(self.safetensors_radio)
        format_box.addWidget(self.onnx_radio)
        format_box.addWidget(self.onnx_hint)
        self.out_edit = QLineEdit(str(self._default_output("ema")))
        self.out_edit.textEdited.connect(self._out_edited)
        self.out_edit.textChanged.connect(lambda _t: self._check())
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)
        self.note = QLabel("")
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Run folder", self.run_label)
        form.addRow("Weights", weights_box)
        form.addRow("Format", format_box)
        form.addRow("Output file", out_row)
        form.addRow("", self.note)
        self.banner = Banner(self)
        self.buttons = QDialogButtonBox()
        self.export_button = self.buttons.addButton(
            "Export", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.export_button.setObjectName("primary")
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.export_button.clicked.connect(self.export)
        self.close_button.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.banner)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self._check()

    # --------------------------------------------------------------- choices
    def weights(self) -> str:
        return "ema" if self.ema_radio.isChecked() else "raw"

    def set_weights(self, weights: str) -> None:
        if weights not in WEIGHTS:
            raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
        (self.ema_radio if weights == "ema" else self.raw_radio).setChecked(True)

    def format(self) -> str:
        """``safetensors`` or ``onnx``: the format chosen (a ``.onnx`` name chooses ONNX)."""
        return "onnx" if self.onnx_radio.isChecked() else "safetensors"

    def set_format(self, fmt: str) -> None:
        if fmt not in SUFFIXES:
            raise ValueError(f"format must be one of {tuple(SUFFIXES)}, got {fmt!r}")
        (self.onnx_radio if fmt == "onnx" else self.safetensors_radio).setChecked(True)

    def output(self) -> Path:
        """The output path, with the format's suffix added when the name has neither."""
        text = self.out_edit.text().strip()
        path = Path(text).expanduser() if text else Path()
        if text and path.name and path.suffix.lower() not in SUFFIXES.values():
            path = path.with_name(path.name + SUFFIXES[self.format()])
        return path

    def set_output(self, path: Path) -> None:
        self._auto_name = False
        self.out_edit.setText(str(path))

    def _default_output(self, weights: str) -> Path:
        return self.run_dir.parent / f"{self.run_dir.name}-{weights}{SUFFIXES[self.format()]}"

    def _format_changed(self) -> None:
        """The name's suffix follows the format chosen."""
        text = self.out_edit.text().strip()
        path = Path(text)
        if text and path.name and path.suffix.lower() in SUFFIXES.values():
            wanted = str(path.with_suffix(SUFFIXES[self.format()]))
            if wanted != text:
                self.out_edit.setText(wanted)
        self._check()

    def _weights_changed(self) -> None:
        if self._auto_name:
            self.out_edit.setText(str(self._default_output(self.weights())))
        self._check()

    def _out_edited(self, text: str) -> None:
        """A typed name: ``.onnx`` chooses ONNX and ``.safetensors`` safetensors."""
        self._auto_name = False
        suffix = Path(text.strip()).suffix.lower()
        named = next((fmt for fmt, s in SUFFIXES.items() if s == suffix), None)
        if named == "onnx" and self.onnx_radio.isEnabled():
            self.onnx_radio.setChecked(True)
        elif named == "safetensors":
            self.safetensors_radio.setChecked(True)

    def _browse(self) -> None:
        filters = ["Safetensors model (*.safetensors)"]
        if self.onnx_radio.isEnabled():
            filters.insert(0 if self.format() == "onnx" else 1, "ONNX model (*.onnx)")
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the restorer to", str(self.output()), ";;".join(filters)
        )
        if path:
            from .file_dialogs import Purpose, remember

            remember(Purpose.MODELS, Path(path))
            self.set_output(Path(path))

    def _problem(self) -> str | None:
        """Why Export cannot run now (None when it can)."""
        folder = RunFolder(self.run_dir)
        if not folder.checkpoint_path.is_file():
            return f"{self.run_dir} has no checkpoint yet ({folder.CHECKPOINT}); train first."
        if not self.out_edit.text().strip():
            return "Choose an output file."
        out = self.output()
        if out.resolve() == folder.model_path.resolve():
            return f"That is the run's own {folder.MODEL}; choose another name."
        if out.exists() and out.is_dir():
            return f"{out} is a folder; choose a file name."
        if out.suffix.lower() == ".onnx" and not self.onnx_radio.isEnabled():
            return (
                f"Writing ONNX needs the onnx extra: {ONNX_INSTALL}; or name the file .safetensors."
            )
        return None

    def _check(self) -> None:
        problem = self._problem()
        busy = self._task is not None
        self.export_button.setEnabled(problem is None and not busy)
        if problem is not None:
            self.note.setText(problem)
        elif self.output().exists() and self.output() != self.written:
            self.note.setText(f"{self.output().name} exists and will be replaced.")
        else:
            self.note.setText("")

    # ---------------------------------------------------------------- export
    def export(self) -> bool:
        """Start writing the file; False (with a message) if it cannot start."""
        problem = self._problem()
        if problem is not None:
            self._fail(problem)
            return False
        if self._task is not None:
            return False
        out = self.output()
        fmt = "onnx" if out.suffix.lower() == ".onnx" else "safetensors"
        task = Task(self._export_fn, self.run_dir, out, weights=self.weights(), fmt=fmt)
        self._task = task
        task.signals.done.connect(self._done)
        task.signals.failed.connect(self._fail)
        self._message(
            f"Exporting {self.weights().upper()} weights to {out.name}…", Banner.Kind.INFO
        )
        self._check()
        self._pool.start(task)
        return True

    def _done(self, path: object) -> None:
        self._task = None
        self.written = Path(str(path))
        size = self.written.stat().st_size / 1e6 if self.written.is_file() else 0.0
        self._message(f"Wrote {self.written} ({size:.1f} MB).", Banner.Kind.SUCCESS)
        self.close_button.setFocus()
        self._check()
        self.exported.emit(str(self.written))

    def _fail(self, message: str) -> None:
        self._task = None
        self._message(message, Banner.Kind.ERROR)
        self._check()
        self.failed.emit(message)

    def _message(self, text: str, kind: Banner.Kind) -> None:
        """Show ``text`` in the dialog and grow it so nothing is squeezed."""
        self.banner.show_message(text, kind)
        layout = self.layout()
        if layout is not None:
            layout.activate()
        wanted = self.sizeHint().height()
        if self.height() < wanted:
            self.resize(self.width(), wanted)

    def done(self, result: int) -> None:  # QDialog API
        """Closing waits for a running export so no worker outlives the dialog."""
        self._pool.waitForDone(30_000)
        super().done(result)
