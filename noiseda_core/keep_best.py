"""Keep the best restorer weights of a run, the starting model's included.

    keeper = KeepBest()
    keeper.offer(0, start_psnr, restorer)        # the start (warm-started runs)
    keeper.offer(step, psnr, restorer)           # each validation of the evaluation weights
    keeper.kept                                  # Kept("best", step, psnr, start_psnr)
    keeper.load_into(restorer)                   # the weights to export

Scores come from the validation pairs when the user has them, else from the proxy pairs
(``proxy.py``). A later score must beat the best by ``MIN_GAIN_DB`` to replace it, so a
run that never beats its start exports the start unchanged and says so.

The proxy pairs carry the synthetic noise, so they cannot see what training does to the
real photos. Proxy offers therefore also carry the detail check of the real photos
(``residual_structure.py``): weights that wipe detail the start kept are not kept, however
well they score, and ``Kept.refused`` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .events import refusal_note
from .residual_structure import wipes_detail

MIN_GAIN_DB = 0.02  # below this a score is noise; the earlier (or the start's) weights stay


@dataclass(frozen=True)
class Kept:
    """Which weights a run exports: ``kind`` is "start", "best" or "final"."""

    kind: str
    step: int | None
    psnr: float | None
    start_psnr: float | None
    source: str = ""  # "val" or "proxy": what the scores were measured on
    refused: int = 0  # validations that scored higher but wiped detail off the real photos

    def describe(self) -> str:
        if self.kind == "final" or self.psnr is None:
            return "the last weights"
        return self._which() + self._refusals()

    def _refusals(self) -> str:
        note = refusal_note(self.refused)
        return f"; {note}" if note else ""

    def _which(self) -> str:
        assert self.psnr is not None
        if self.kind == "start":
            passing = " that kept the detail" if self.refused else ""
            return (
                f"the starting model unchanged: no step{passing} beat its {self.psnr:.2f} dB "
                f"on the {_source_name(self.source)}"
            )
        gain = (
            ""
            if self.start_psnr is None
            else f", {self.psnr - self.start_psnr:+.2f} dB over the start"
        )
        source = _source_name(self.source)
        return f"the weights of step {self.step} ({self.psnr:.2f} dB on the {source}{gain})"


def _source_name(source: str) -> str:
    return {"val": "validation pairs", "proxy": "proxy pairs"}.get(source, "validation")


class KeepBest:
    """The best-scoring weights so far, kept on the CPU (a copy of the evaluation restorer)."""

    def __init__(self, source: str = "val") -> None:
        self.source = source
        self.best_step: int | None = None
        self.best_psnr: float | None = None
        self.start_psnr: float | None = None
        self.weights: dict[str, torch.Tensor] | None = None
        self.start_structure: float | None = None  # the start's detail check (proxy runs)
        self.refused = 0

    def offer(
        self, step: int, psnr: float, model: nn.Module, structure: float | None = None
    ) -> bool:
        """Keep ``model``'s weights if ``psnr`` beats the best by ``MIN_GAIN_DB`` and, when
        ``structure`` (the detail check of the real photos) is given, it does not wipe
        detail the start kept; True if kept."""
        if step == 0:
            self.start_psnr, self.start_structure = psnr, structure
        if self.best_psnr is not None and psnr < self.best_psnr + MIN_GAIN_DB:
            return False
        if step and structure is not None and wipes_detail(structure, self.start_structure):
            self.refused += 1
            return False
        self.best_step, self.best_psnr = step, psnr
        self.weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        return True

    @property
    def kept(self) -> Kept:
        if self.best_psnr is None:
            return Kept("final", None, None, self.start_psnr, self.source)
        kind = "start" if self.best_step == 0 else "best"
        return Kept(
            kind, self.best_step, self.best_psnr, self.start_psnr, self.source, self.refused
        )

    def load_into(self, model: nn.Module) -> bool:
        """Load the kept weights into ``model``; False when nothing was kept (use the last)."""
        if self.weights is None:
            return False
        model.load_state_dict(self.weights)
        return True

    def state_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "best_step": self.best_step,
            "best_psnr": self.best_psnr,
            "start_psnr": self.start_psnr,
            "weights": self.weights,
            "start_structure": self.start_structure,
            "refused": self.refused,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.source = str(state.get("source", self.source))
        step, psnr, start = state.get("best_step"), state.get("best_psnr"), state.get("start_psnr")
        self.best_step = None if step is None else int(step)  # type: ignore[arg-type]
        self.best_psnr = None if psnr is None else float(psnr)  # type: ignore[arg-type]
        self.start_psnr = None if start is None else float(start)  # type: ignore[arg-type]
        weights = state.get("weights")
        self.weights = dict(weights) if isinstance(weights, dict) else None
        structure, refused = state.get("start_structure"), state.get("refused", 0)
        self.start_structure = None if structure is None else float(structure)  # type: ignore[arg-type]
        self.refused = int(refused)  # type: ignore[call-overload]


__all__ = ["MIN_GAIN_DB", "KeepBest", "Kept"]
