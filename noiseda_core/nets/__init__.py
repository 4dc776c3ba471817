"""Restoration networks: our paper U-Net and third-party nets via spandrel.

``build_restorer(name, **overrides) -> Restorer``; ``RESTORERS`` lists the names.
"""

from __future__ import annotations

from .base import Restorer, pad_to_multiple
from .registry import RESTORERS, RestorerSpec, build_restorer
from .unet import UNet

__all__ = ["RESTORERS", "Restorer", "RestorerSpec", "UNet", "build_restorer", "pad_to_multiple"]
