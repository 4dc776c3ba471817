"""The three numbers a run is judged by, on the real validation pairs.

    noisy input 21.72 dB · starting model 24.78 dB · adapted 25.01 dB (+0.23 dB)

Filled from ``Validation`` events (``psnr_input``, ``psnr_start``, ``psnr``); the
adapted number is the latest validation, the starting one the step-0 score.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from noiseda_core.events import Finished, StrengthChosen
from noiseda_core.residual_structure import wipes_detail
from noiseda_core.train_cli import LOSS_NOTICE_DB


def score_text(event: object) -> str:
    """One line (rich text) for a Validation event."""
    psnr = float(getattr(event, "psnr", 0.0))
    noisy = getattr(event, "psnr_input", None)
    start = getattr(event, "psnr_start", None)
    step = int(getattr(event, "step", 0))
    count = int(getattr(event, "count", 0))
    parts = []
    if noisy:
        parts.append(f"noisy input <b>{float(noisy):.2f} dB</b>")
    if start is not None:
        parts.append(f"starting model <b>{float(start):.2f} dB</b>")
    if start is not None and step == 0:
        parts.append("adapted: after the first validation")
    else:
        line = f"{'adapted' if start is not None else 'restorer'} <b>{psnr:.2f} dB</b>"
        if start is not None:
            gain = psnr - float(start)
            colour = (
                "#16a34a"
                if gain > LOSS_NOTICE_DB
                else ("#dc2626" if gain < -LOSS_NOTICE_DB else "")
            )
            delta = f"{gain:+.2f} dB"
            line += f" (<span style='color:{colour}'>{delta}</span>)" if colour else f" ({delta})"
        line += f" at step {step:,}"
        if start is not None and psnr - float(start) < -LOSS_NOTICE_DB:
            line += (
                ": the starting model is still better on these pairs; keep using it, "
                "or Train longer and compare again"
            )
        parts.append(line)
    plural = "s" if count != 1 else ""
    if getattr(event, "source", "val") == "proxy":
        pairs = f"{count} proxy pair{plural} (held-out clean photos with your photos' noise)"
    else:
        pairs = f"{count} real validation pair{plural}" if count else "validation"
    return f"PSNR on {pairs}: " + " · ".join(parts)


def kept_text(event: object) -> str:
    """What a Finished event says about the exported weights ("" when it says nothing)."""
    text = _kept_weights(event)
    note = event.refusal_note() if isinstance(event, Finished) else ""
    return f"{text} {note[0].upper()}{note[1:]}." if text and note else text


def _passing(event: object) -> str:
    """ " that kept the detail" when the detail check refused some steps."""
    return " that kept the detail" if getattr(event, "kept_refused", 0) else ""


def _kept_weights(event: object) -> str:
    kind = getattr(event, "kept", "final")
    psnr, start = getattr(event, "kept_psnr", None), getattr(event, "start_psnr", None)
    where = "proxy pairs" if getattr(event, "kept_source", "") == "proxy" else "validation pairs"
    if kind == "start" and psnr is not None:
        return (
            f"<b>Kept: the starting model, unchanged</b>: no step{_passing(event)} beat its "
            f"{psnr:.2f} dB on "
            f"the {where}, so the exported model is the one you started from."
        )
    if kind == "best" and psnr is not None:
        gain = f" ({psnr - start:+.2f} dB over the start)" if start is not None else ""
        return (
            f"<b>Kept: the weights of step {getattr(event, 'kept_step', 0):,}</b>, the best "
            f"on the {where}: {psnr:.2f} dB{gain}."
        )
    return ""


def detail_text(event: object, start: float | None) -> str:
    """The detail check of a proxy validation (rich text; "" when it was not measured):
    how much image detail the adapted model removes from the real photos, beside the
    start's, and whether keep-best may keep these weights."""
    value = getattr(event, "real_structure", None)
    if value is None or getattr(event, "source", "val") != "proxy":
        return ""
    if start is None or int(getattr(event, "step", 0)) == 0:
        return f"<b>Detail check</b> on your real photos: the start {float(value):+.2f}"
    line = f"<b>Detail check</b> on your real photos: {float(value):+.2f} (the start {start:+.2f})"
    if wipes_detail(float(value), start):
        return (
            f"{line}: <span style='color:#dc2626'>these weights wipe detail off your "
            "photos, so they are not kept</span>"
        )
    return f"{line}: detail kept"


def strength_text(event: StrengthChosen) -> str:
    """The λ trial's choice and its evidence (the core's line), as rich text."""
    return f"<b>Strength</b>: {event.describe()}."


class ScoreLine(QLabel):
    """Hidden until the first validation; then input / starting model / adapted PSNR, the
    λ a trial chose (``StrengthChosen``) and, at the end, the weights kept."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scoreLine")
        self.setWordWrap(True)
        self.setToolTip(
            "Measured on the real images that have a clean target (the validation "
            "folder), else on proxy pairs: the noisy photos, the model the run started "
            "from, and the model being adapted (its averaged weights)."
        )
        self.setVisible(False)
        self.last: object | None = None
        self.strength = ""  # the λ trial's line
        self.kept = ""  # the Finished event's line
        self.start_structure: float | None = None  # the start's detail check (proxy runs)

    def add_validation(self, event: object) -> None:
        self.last = event
        if int(getattr(event, "step", 0)) == 0 and getattr(event, "source", "") == "proxy":
            self.start_structure = getattr(event, "real_structure", None)
        self._render()

    def add_strength(self, event: StrengthChosen) -> None:
        """A λ trial chose the strength: say which, and the scores it chose by."""
        self.strength = strength_text(event)
        self._render()

    def add_finished(self, event: object) -> None:
        """Add which weights were kept (keep-best) under the last score."""
        self.kept = kept_text(event)
        self._render()

    def _render(self) -> None:
        lines = [score_text(self.last)] if self.last is not None else []
        detail = detail_text(self.last, self.start_structure) if self.last is not None else ""
        lines += [line for line in (detail, self.strength, self.kept) if line]
        self.setText("<br>".join(lines))
        self.setVisible(bool(lines))

    def clear(self) -> None:
        self.last, self.strength, self.kept = None, "", ""
        self.start_structure = None
        self.setText("")
        self.setVisible(False)
