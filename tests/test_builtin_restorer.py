"""The shipped starting restorer loads from the package and removes white noise."""

from __future__ import annotations

from pathlib import Path

import torch

from noiseda_core.demo import skimage_data_dir
from noiseda_core.export import load_restorer, read_metadata
from noiseda_core.imageio import read_image
from noiseda_core.inference import restore_image
from noiseda_core.metrics import psnr

SHIPPED = Path(__file__).resolve().parents[1] / "resources" / "restorers" / "unet-t.safetensors"


def test_shipped_unet_t_is_small_documented_and_denoises_awgn_far_better_than_the_input() -> None:
    assert SHIPPED.stat().st_size < 6_000_000  # fp16 keeps the wheel small
    meta = read_metadata(SHIPPED)
    for key in ("training_command", "training_config", "training_data", "test", "step"):
        assert meta.get(key), key
    restorer = load_restorer(SHIPPED)
    assert all(p.dtype == torch.float32 for p in restorer.parameters())
    clean = read_image(skimage_data_dir() / "chelsea.png")[:, 100:228, 150:278]
    noisy = clean + torch.randn(clean.shape, generator=torch.Generator().manual_seed(1)) * 0.1
    noisy = noisy.clamp(0, 1)
    with torch.no_grad():
        restored = restore_image(restorer, noisy, tile=None, device="cpu")
    assert psnr(restored.clamp(0, 1), clean) > psnr(noisy, clean) + 5.0
