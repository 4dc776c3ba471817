"""After a warm-started run: what the Restore page compares (no Qt, no torch).

    plan = before_after(run_dir)   # BeforeAfter(adapted, start, image, kept_start) or None

The adapted model (the run's ``model.safetensors``) goes in slot A — what Save and
Restore all use — and the model the run started from in slot B; the image is the first
real validation input (or, without validation pairs, the first real image). When no
step beat the start the run exported the start unchanged (``kept_start``): both sides are
the same weights, and slot A's caption says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from noiseda_core.builtin import resolve_init_restorer
from noiseda_core.config import load_config
from noiseda_core.errors import UserError
from noiseda_core.events import Finished
from noiseda_core.run_folder import RunFolder

BEFORE, AFTER = "before adaptation", "after adaptation"
AFTER_KEPT_START = "after adaptation = the start, unchanged (no step beat it)"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


@dataclass(frozen=True)
class BeforeAfter:
    adapted: Path
    start: Path
    image: Path | None
    kept_start: bool = False  # the run exported its start unchanged: A and B are the same

    @property
    def after_caption(self) -> str:
        return AFTER_KEPT_START if self.kept_start else AFTER


def first_image(folder: Path) -> Path | None:
    """The first image file (by name) under ``folder``, subfolders included."""
    if not folder.is_dir():
        return None
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return found[0] if found else None


def before_after(run_dir: Path) -> BeforeAfter | None:
    """The compare for a finished run that started from a model (None for one from scratch)."""
    folder = RunFolder(run_dir)
    adapted = folder.model_path
    try:
        cfg = load_config(folder.config_path)
        if not cfg.model.init_restorer or not adapted.is_file():
            return None
        start = resolve_init_restorer(cfg.model.init_restorer)
    except UserError:  # the starting file moved away: show the adapted model alone
        return None
    image = None
    if cfg.data.val:
        image = first_image(Path(cfg.data.val) / "input")
    if image is None and cfg.data.real:
        image = first_image(Path(cfg.data.real))
    ends = [e for e in folder.timeline() if isinstance(e, Finished)]
    kept_start = bool(ends) and ends[-1].kept == "start"
    return BeforeAfter(adapted, start, image, kept_start)
