""" "Start from": the built-in restorer (recommended), a model file, or from scratch.

``value()`` is the ``model.init_restorer`` string (``builtin:unet-t``, a path, or ""),
``set_value`` shows one; ``arch()`` is the built-in's architecture (None otherwise: a
model file decides its own when training starts). Nothing here imports torch.
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from noiseda_core.builtin import PREFIX, RECOMMENDED, builtin_restorers

FILE = "file"
SCRATCH = ""
MODEL_FILTER = "Restorer models (*.safetensors *.pth *.ckpt);;All files (*)"


def _builtin_info(path: Path) -> tuple[str, str]:
    """(architecture, a one-line description) from a shipped file's metadata."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as handle:  # no torch in the GUI
            meta = dict(handle.metadata() or {})
    except Exception:  # a damaged install: still offer it, training will say what is wrong
        return path.stem, ""
    arch = meta.get("arch", path.stem)
    try:
        scores = json.loads(meta.get("test", "{}")).get("scores_db", {})
        note = (
            f"trained on white Gaussian noise σ 0-75; AWGN σ25 on held-out photos: "
            f"{scores['awgn25_input_psnr']:.1f} → {scores['awgn25_psnr']:.1f} dB"
        )
    except (ValueError, KeyError, AttributeError, TypeError):
        note = "trained on white Gaussian noise"
    return arch, note


class StartFrom(QWidget):
    """Emits ``changed`` when the choice or the file changes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self._archs: dict[str, str] = {}
        for name, path in builtin_restorers().items():
            arch, note = _builtin_info(path)
            self._archs[PREFIX + name] = arch
            label = f"Built-in restorer: {name}" + (" (recommended)" if name == RECOMMENDED else "")
            self.combo.addItem(label, PREFIX + name)
            self.combo.setItemData(self.combo.count() - 1, note, Qt.ItemDataRole.ToolTipRole)
        self.combo.addItem("A model file (yours, or from chaiNNer / ComfyUI)…", FILE)
        self.combo.addItem("From scratch (the paper's protocol)", SCRATCH)
        self.path = QLineEdit()
        self.path.setPlaceholderText(".safetensors, or a weights-only .pth / .ckpt")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._choose)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path, 1)
        row.addWidget(self.browse)
        self.file_row = QWidget()
        self.file_row.setLayout(row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.combo)
        layout.addWidget(self.file_row)
        self.setToolTip(
            "What the restorer starts from. A restorer that already removes synthetic noise is "
            "adapted to your real photos in minutes; from scratch needs a long run (the paper's "
            "protocol). A model file decides the architecture."
        )
        self.combo.currentIndexChanged.connect(self._update)
        self.path.editingFinished.connect(self.changed.emit)
        self.set_value(PREFIX + RECOMMENDED if PREFIX + RECOMMENDED in self._archs else SCRATCH)

    def value(self) -> str:
        data = self.combo.currentData()
        if data == FILE:
            return self.path.text().strip()
        return str(data)

    def set_value(self, spec: str) -> None:
        spec = (spec or "").strip()
        index = self.combo.findData(spec) if spec.startswith(PREFIX) or not spec else -1
        if index < 0 and spec.startswith(PREFIX):  # a built-in this install lacks
            self.combo.addItem(f"Built-in restorer: {spec[len(PREFIX) :]} (not installed)", spec)
            index = self.combo.count() - 1
        if index < 0:
            index = self.combo.findData(FILE)
            self.path.setText(spec)
        self.combo.setCurrentIndex(index)
        self._update()

    def arch(self) -> str | None:
        """The architecture a built-in choice trains (None for a file or from scratch)."""
        return self._archs.get(str(self.combo.currentData()))

    def is_scratch(self) -> bool:
        return self.combo.currentData() == SCRATCH

    def _update(self, *_: object) -> None:
        self.file_row.setVisible(self.combo.currentData() == FILE)
        self.changed.emit()

    def _choose(self) -> None:
        from ..file_dialogs import Purpose, open_file

        path = open_file(self, Purpose.MODELS, "Start from a restorer model", MODEL_FILTER)
        if path is not None:
            self.path.setText(str(path))
            self.changed.emit()
