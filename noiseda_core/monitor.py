"""Watching a run: validation metrics and preview strips from the EMA restorer.

Both run on a separate evaluation copy of the restorer loaded with the EMA weights,
so the training networks (and their RNG streams) are never touched.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .config import Config, Task
from .data import load_pairs, preview_inputs
from .events import Preview, Validation
from .imageio import write_image
from . import policy
from .metrics import psnr, ssim
from .run_folder import RunFolder

PREVIEW_SIZE = 128


class RunMonitor:
    """Holds the fixed validation pairs and preview crops of a run."""

    def __init__(self, cfg: Config, device: torch.device) -> None:
        self.device = device
        self.y_channel = cfg.train.task == Task.DERAIN
        self.val = load_pairs(Path(cfg.data.val), max_side=cfg.train.val_max_side) if cfg.data.val else []
        size = min(PREVIEW_SIZE, max(cfg.train.patch, 64))
        self.previews = preview_inputs(cfg.data, cfg.train.preview_count, size, cfg.train.seed)

    def _restore(self, model: nn.Module, image: torch.Tensor) -> torch.Tensor:
        return policy.restore(model, image, device=self.device).cpu()

    @torch.no_grad()
    def validate(self, model: nn.Module, step: int) -> Validation | None:
        """PSNR/SSIM of ``model`` over the validation pairs (None when there are none)."""
        if not self.val:
            return None
        scores, ssims, inputs = [], [], []
        for sample in self.val:
            restored = self._restore(model, sample.input)
            scores.append(psnr(restored, sample.target, y_channel=self.y_channel))
            ssims.append(ssim(restored, sample.target, y_channel=self.y_channel))
            inputs.append(psnr(sample.input, sample.target, y_channel=self.y_channel))
        n = len(scores)
        return Validation(
            step=step,
            psnr=sum(scores) / n,
            ssim=sum(ssims) / n,
            psnr_input=sum(inputs) / n,
            count=n,
        )

    @torch.no_grad()
    def write_previews(self, model: nn.Module, step: int, folder: RunFolder) -> Preview:
        """Strips: synthetic (input | restored | target) and real (input | restored)."""
        x_s, y_s = self.previews.synthetic
        synthetic = folder.preview_name(step, "synthetic")
        strip = torch.cat([x_s.clamp(0, 1), self._restore(model, x_s), y_s], dim=2)
        write_image(strip, folder.root / synthetic)
        real = []
        for index, x_r in enumerate(self.previews.real):
            name = folder.preview_name(step, f"real_{index}")
            write_image(torch.cat([x_r, self._restore(model, x_r)], dim=2), folder.root / name)
            real.append(name)
        return Preview(step=step, synthetic=synthetic, real=real)
