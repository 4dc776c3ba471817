"""Tiny on-disk datasets and configs shared by the tests (no shared/ data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from noiseda_core.config import Config, apply_overrides


def smooth_image(rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A smooth colourful (size, size, 3) uint8 image: gradients plus a few blobs."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    channels = []
    for _ in range(3):
        a, b, c = rng.uniform(-1, 1, 3)
        channels.append(0.5 + 0.25 * np.sin(3 * a * xx + 2 * b * yy + c))
    return (np.stack(channels, -1) * 255).clip(0, 255).astype(np.uint8)


def write_project(
    root: Path, *, n_syn: int = 4, n_real: int = 3, n_val: int = 2, size: int = 48, seed: int = 0
) -> Path:
    """clean/, real/, val/input+target under ``root``; returns ``root``."""
    rng = np.random.default_rng(seed)
    for folder in ("clean", "real", "val/input", "val/target", "ref"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for i in range(n_syn):
        Image.fromarray(smooth_image(rng, size)).save(root / "clean" / f"c{i}.png")
        Image.fromarray(smooth_image(rng, size)).save(root / "ref" / f"r{i}.png")
    for i in range(n_real):
        noisy = smooth_image(rng, size).astype(np.float32) + rng.normal(0, 20, (size, size, 1))
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(root / "real" / f"x{i}.png")
    for i in range(n_val):
        clean = smooth_image(rng, size)
        noisy = clean.astype(np.float32) + rng.normal(0, 20, (size, size, 1))
        Image.fromarray(clean).save(root / "val/target" / f"v{i}.png")
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(root / "val/input" / f"v{i}.png")
    return root


def tiny_config(root: Path, *extra: str) -> Config:
    """A config that trains in about a second on the CPU."""
    return apply_overrides(
        Config(),
        [
            f"data.synthetic={root / 'clean'}",
            "data.degradation=awgn:0-50",
            f"data.real={root / 'real'}",
            f"data.val={root / 'val'}",
            f"data.reference={root / 'ref'}",
            "model.restorer=unet-tiny",
            "model.diffusion=tiny",
            "train.steps=6",
            "train.batch=2",
            "train.patch=32",
            "train.log_every=1",
            "train.val_every=3",
            "train.preview_every=3",
            "train.checkpoint_every=3",
            "train.preview_count=2",
            "train.device=cpu",
            "train.precision=fp32",
            *extra,
        ],
    )


def fake_run(run: Path) -> Path:
    """A run folder with a valid unet-tiny resume state (no training needed)."""
    from noiseda_core.checkpoint import save_resume_state
    from noiseda_core.config import config_to_dict, save_config
    from noiseda_core.ema import EMA
    from noiseda_core.nets import build_restorer

    cfg = config_to_dict(Config())
    cfg["model"]["restorer"] = "unet-tiny"
    restorer = build_restorer("unet-tiny")
    save_config(Config(), run / "config.toml")
    save_resume_state(
        run,
        {
            "step": 3,
            "config": cfg,
            "objective": {},
            "optimizer": {},
            "ema": EMA(restorer).state_dict(),
            "restorer": restorer.state_dict(),
            "data": {},
            "rng": {},
        },
    )
    return run
