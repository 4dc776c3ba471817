"""Watching a run: validation metrics and preview strips from the EMA restorer.

Both run on a separate evaluation copy of the restorer loaded with the EMA weights,
so the training networks (and their RNG streams) are never touched.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from . import policy
from .config import Config, Task
from .data import load_pairs, preview_inputs, real_crops
from .events import Preview, Validation
from .folders import Sample
from .imageio import write_image
from .metrics import psnr, ssim
from .run_folder import RunFolder

PREVIEW_SIZE = 128
CHECK_COUNT, CHECK_SIZE = 6, 192  # real crops of the detail check (residual_structure.py)


class RunMonitor:
    """Holds the fixed validation pairs and preview crops of a run."""

    def __init__(self, cfg: Config, device: torch.device) -> None:
        self.device = device
        self.y_channel = cfg.train.task == Task.DERAIN
        self.val = (
            load_pairs(Path(cfg.data.val), max_side=cfg.train.val_max_side) if cfg.data.val else []
        )
        size = min(PREVIEW_SIZE, max(cfg.train.patch, 64))
        self.previews = preview_inputs(cfg.data, cfg.train.preview_count, size, cfg.train.seed)
        self.proxy: list[Sample] = []  # proxy pairs (proxy.py) when the run keeps its best by them
        self.proxy_input: tuple[float, float] | None = None
        self.proxy_start: tuple[float, float] | None = None
        self.input_scores: tuple[float, float] | None = None  # the noisy inputs: PSNR, SSIM
        self.start_scores: tuple[float, float] | None = None  # the starting model's
        self._noise_input: float | None = None
        self._real_folder = cfg.data.real
        self._real_check: list[torch.Tensor] | None = None  # loaded on first use

    def _restore(self, model: nn.Module, image: torch.Tensor) -> torch.Tensor:
        return policy.restore(model, image, device=self.device).cpu()

    @torch.no_grad()
    def _scores(
        self, model: nn.Module | None, samples: list[Sample] | None = None
    ) -> tuple[float, float]:
        """Mean PSNR and SSIM of ``model``'s outputs (of the inputs when ``model`` is None)
        over ``samples`` (the validation pairs by default)."""
        scores, ssims = [], []
        for sample in self.val if samples is None else samples:
            out = sample.input if model is None else self._restore(model, sample.input)
            scores.append(psnr(out, sample.target, y_channel=self.y_channel))
            ssims.append(ssim(out, sample.target, y_channel=self.y_channel))
        return sum(scores) / len(scores), sum(ssims) / len(ssims)

    def score_start(self, model: nn.Module, *, report: bool = True) -> float:
        """Score the starting model once (and the noisy inputs); returns the seconds it took.

        With ``report`` its PSNR/SSIM go on every later ``Validation`` as ``psnr_start`` /
        ``ssim_start`` (a run from scratch only measures the time).
        """
        if not self.val:
            return 0.0
        began = time.perf_counter()
        start = self._scores(model)
        seconds = time.perf_counter() - began
        self.input_scores = self._scores(None)
        if report:
            self.start_scores = start
        return seconds

    def validate_start(self) -> Validation:
        """A step-0 ``Validation`` of the starting model (after ``score_start``)."""
        assert self.start_scores is not None and self.input_scores is not None
        (value, structure), (noisy, noisy_ssim) = self.start_scores, self.input_scores
        return Validation(
            step=0,
            psnr=value,
            ssim=structure,
            psnr_input=noisy,
            ssim_input=noisy_ssim,
            count=len(self.val),
            psnr_start=value,
            ssim_start=structure,
        )

    @torch.no_grad()
    def validate(self, model: nn.Module, step: int) -> Validation | None:
        """PSNR/SSIM of ``model`` over the validation pairs (None when there are none)."""
        if not self.val:
            return None
        if self.input_scores is None:
            self.input_scores = self._scores(None)
        value, structure = self._scores(model)
        start = self.start_scores
        return Validation(
            step=step,
            psnr=value,
            ssim=structure,
            psnr_input=self.input_scores[0],
            ssim_input=self.input_scores[1],
            count=len(self.val),
            psnr_start=start[0] if start else None,
            ssim_start=start[1] if start else None,
        )

    @torch.no_grad()
    def validate_proxy(self, model: nn.Module, step: int) -> Validation | None:
        """PSNR/SSIM of ``model`` on the proxy pairs (``source="proxy"``); step 0 is the start."""
        if not self.proxy:
            return None
        if self.proxy_input is None:
            self.proxy_input = self._scores(None, self.proxy)
        value, structure = self._scores(model, self.proxy)
        if step == 0:
            self.proxy_start = (value, structure)
        start = self.proxy_start
        return Validation(
            step=step,
            psnr=value,
            ssim=structure,
            psnr_input=self.proxy_input[0],
            ssim_input=self.proxy_input[1],
            count=len(self.proxy),
            psnr_start=start[0] if start else None,
            ssim_start=start[1] if start else None,
            source="proxy",
            real_structure=self.real_structure(model),
        )

    @torch.no_grad()
    def real_structure(self, model: nn.Module) -> float | None:
        """How much image detail ``model`` removes from fixed crops of the real photos
        (``residual_structure.mean_structure``); None without real photos."""
        from .residual_structure import mean_structure

        if self._real_check is None:
            self._real_check = real_crops(self._real_folder, CHECK_COUNT, CHECK_SIZE)
        if not self._real_check:
            return None
        restored = [self._restore(model, x).clamp(0, 1) for x in self._real_check]
        return mean_structure(self._real_check, restored)

    @torch.no_grad()
    def real_noise(self, model: nn.Module) -> tuple[float | None, float | None]:
        """Blind noise σ (8-bit levels) of the fixed real crops before and after ``model``."""
        from .noise_level import mean_noise_sigma

        if not self.previews.real:
            return None, None
        if self._noise_input is None:
            self._noise_input = mean_noise_sigma(self.previews.real)
        restored = [self._restore(model, x).clamp(0, 1) for x in self.previews.real]
        return self._noise_input, mean_noise_sigma(restored)

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


def saved_start_scores(events_path: Path) -> tuple[float, float] | None:
    """The starting model's PSNR/SSIM as a run logged them (so a resumed run keeps them)."""
    from .event_log import read_events
    from .events import Validation

    for event in read_events(Path(events_path)):
        if isinstance(event, Validation) and event.psnr_start is not None:
            return event.psnr_start, event.ssim_start or 0.0
    return None
