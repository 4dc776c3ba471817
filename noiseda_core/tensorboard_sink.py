"""TensorBoard events for a run, written next to ``events.jsonl`` (optional extra).

When the ``tensorboard`` package is installed, every run writes
``RUN_DIR/tensorboard/``: each loss term, λ, the learning rate, images/s and the
gradient norm (``train/…``), validation PSNR/SSIM (``val/…``) and the preview strips
(``preview/…``). ``tensorboard --logdir runs`` shows every run side by side. Set
``NOISEDA_TENSORBOARD=0`` to turn it off. A resumed run purges the steps it redoes.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

from .events import Checkpoint, Event, Failed, Finished, Preview, Progress, Started, Validation

SCALARS = {  # Progress field → TensorBoard tag
    "loss_total": "train/loss_total",
    "loss_res": "train/loss_res",
    "loss_dif": "train/loss_dif",
    "loss_mse": "train/loss_mse",
    "loss_triplet": "train/loss_triplet",
    "lam": "train/lambda",
    "lr": "train/lr",
    "images_per_s": "train/images_per_s",
    "grad_norm": "train/grad_norm",
}


def tensorboard_available() -> bool:
    """True when the extra is installed and not switched off."""
    if os.environ.get("NOISEDA_TENSORBOARD", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return importlib.util.find_spec("tensorboard") is not None


class TensorBoardSink:
    """A ``RunFolder`` sink: ``write(event)`` per event, ``close()`` at the end.

    ``log_dir`` is the run folder's ``RunFolder.tensorboard_path``."""

    def __init__(self, run_dir: Path, log_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.log_dir = Path(log_dir)
        self._writer = None

    def _open(self, purge_step: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        if self._writer is not None:
            self._writer.close()
        self._writer = SummaryWriter(str(self.log_dir), purge_step=purge_step, flush_secs=30)

    def write(self, event: Event) -> None:
        if isinstance(event, Started):  # a resume drops what it will redo
            self._open(event.step + 1 if event.resumed else None)
            return
        if self._writer is None:
            self._open(None)
        writer = self._writer
        assert writer is not None
        if isinstance(event, Progress):
            for field, tag in SCALARS.items():
                value = getattr(event, field, None)
                if value is not None:
                    writer.add_scalar(tag, float(value), event.step)
        elif isinstance(event, Validation):
            writer.add_scalar("val/psnr", event.psnr, event.step)
            writer.add_scalar("val/ssim", event.ssim, event.step)
            if event.psnr_input:
                writer.add_scalar("val/psnr_input", event.psnr_input, event.step)
        elif isinstance(event, Preview):
            named = [("synthetic", event.synthetic)] if event.synthetic else []
            named += [(f"real_{i}", path) for i, path in enumerate(event.real)]
            for name, rel in named:
                image = self._read(rel)
                if image is not None:
                    writer.add_image(f"preview/{name}", image, event.step, dataformats="HWC")
        elif isinstance(event, (Checkpoint, Finished, Failed)):
            writer.flush()

    def _read(self, rel: str) -> npt.NDArray[np.uint8] | None:
        """A preview file as an (H, W, 3) uint8 array, or None if it cannot be read."""
        import numpy as np
        from PIL import Image

        try:
            with Image.open(self.run_dir / rel) as image:
                return np.asarray(image.convert("RGB"))
        except OSError:
            return None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
