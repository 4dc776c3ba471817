"""Help → Keyboard shortcuts and a short guide (plain text, no browser needed)."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

GUIDE = """
<h3>Noise-DA Studio in five steps</h3>
<ol>
<li><b>Setup.</b> Choose a folder of synthetic pairs (or clean images plus a simulated noise), a
folder of your own real noisy photos, and optionally validation pairs. New here? <i>File → Try
with demo data</i> fills the page.</li>
<li><b>Start training.</b> The Training page shows the losses, the validation PSNR (higher is
better) and previews of your real photos. Pause, Resume and Stop keep a checkpoint.</li>
<li><b>Come back later.</b> The Runs page lists every run with its state; open one to see its
curves, continue it, export it or open it in Restore. If the app was closed during training,
it offers to continue the interrupted run.</li>
<li><b>Restore.</b> Open a model (a run's <i>model.safetensors</i>), drop images or folders, and
compare before and after side by side or with a swipe. Hold Space to flip.</li>
<li><b>Export</b> the trained restorer to use it from the command line:
<code>noiseda restore --model MODEL IMAGES --out FOLDER</code>.</li>
</ol>
"""


def _dialog(parent: QWidget, title: str, html: str) -> QDialog:
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    label = QLabel(html, dialog)
    label.setWordWrap(True)
    label.setObjectName("helpText")
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dialog)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(label)
    layout.addWidget(buttons)
    dialog.setMinimumWidth(520)
    dialog.open()
    return dialog


def shortcuts_html(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><td><b>{escape(k)}</b>&nbsp;&nbsp;</td><td>{escape(w)}</td></tr>" for k, w in rows
    )
    return f"<table cellpadding='3'>{cells}</table>"


def show_shortcuts(parent: QWidget, rows: list[tuple[str, str]]) -> QDialog:
    return _dialog(parent, "Keyboard shortcuts", shortcuts_html(rows))


def show_guide(parent: QWidget) -> QDialog:
    return _dialog(parent, "Quick guide", GUIDE)
