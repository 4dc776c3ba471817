"""The Noise-DA diffusion side: noise schedule, conditional denoiser U-Net, the loss module."""

from __future__ import annotations

from noiseda_core.diffusion.denoiser import (
    DENOISER_SIZES,
    ConditionalDenoiser,
    DenoiserSize,
    build_denoiser,
)
from noiseda_core.diffusion.loss import DiffusionTerms, NoiseDALoss, charbonnier, lambda_at
from noiseda_core.diffusion.schedule import NoiseSchedule

__all__ = [
    "DENOISER_SIZES",
    "ConditionalDenoiser",
    "DenoiserSize",
    "DiffusionTerms",
    "NoiseDALoss",
    "NoiseSchedule",
    "build_denoiser",
    "charbonnier",
    "lambda_at",
]
