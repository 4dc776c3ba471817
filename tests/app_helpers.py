"""Shared bits for the GUI tests: isolated settings, tiny image folders, the fake worker."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

FAKE_TRAINER = Path(__file__).resolve().parent / "fake_trainer.py"
FAKE_WORKER = [sys.executable, str(FAKE_TRAINER)]


def isolate_settings(tmp_path: Path) -> None:
    """Settings and app data under ``tmp_path``, with an organisation name of their own."""
    from app import settings

    settings.use_locations(tmp_path, org=f"NoiseDA-test-{uuid.uuid4().hex[:8]}")


def write_images(folder: Path, names: list[str], size: int = 40, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for name in names:
        path = folder / name
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
        out.append(path)
    return out


def tiny_project(root: Path, pairs: int = 4, size: int = 40) -> dict[str, Path]:
    """Paired synthetic folder, a real folder and validation pairs, all tiny."""
    names = [f"{i:03d}.png" for i in range(pairs)]
    write_images(root / "synthetic" / "input", names, size, seed=1)
    write_images(root / "synthetic" / "target", names, size, seed=2)
    write_images(root / "real" / "sub", names, size, seed=3)
    write_images(root / "val" / "input", names[:2], size, seed=4)
    write_images(root / "val" / "target", names[:2], size, seed=5)
    return {"synthetic": root / "synthetic", "real": root / "real", "val": root / "val"}


def tiny_config(project: dict[str, Path], **train: object):
    """A ``Config`` small enough for the real worker on a busy 2-core CPU."""
    from noiseda_core.config import config_from_dict

    t = {
        "steps": 40,
        "batch": 2,
        "patch": 32,
        "log_every": 1,
        "val_every": 1000,
        "preview_every": 1000,
        "checkpoint_every": 1000,
        "device": "cpu",
        "precision": "fp32",
    }
    t.update(train)
    return config_from_dict(
        {
            "data": {
                "synthetic": str(project["synthetic"]),
                "real": str(project["real"]),
                "cache_mb": 16,
            },
            "model": {"restorer": "unet-tiny", "diffusion": "tiny"},
            "train": t,
        }
    )
