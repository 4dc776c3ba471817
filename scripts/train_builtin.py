"""Train a built-in starting restorer and write it into ``resources/restorers/``.

The shipped ``unet-t.safetensors`` was made by exactly this script::

    python scripts/train_builtin.py --arch unet-t --steps 6000 --work /tmp/builtin

A stopped run (Ctrl-C keeps a checkpoint) continues with ``--resume``; ``--package``
stores whatever the run folder's exported model holds, at the step it reached.

What it does, step by step (everything with this project's own CLI):

1. writes the training photos: scikit-image's bundled colour and grey photographs
   whose terms allow sharing the weights (public domain or CC0, listed in
   ``PHOTOS`` with their terms), none of which is used by the demo's real or
   validation sets;
2. trains ``noiseda train`` in ``baseline`` mode on them with the paper's synthetic
   recipe: white Gaussian noise, σ ~ U[0, 75]/255 per crop, added on the fly;
3. scores the EMA restorer on a stated test (``TEST_PHOTOS``, centre 256² crops,
   AWGN σ = 15, 25, 50 with a fixed seed) against the noisy input;
4. stores the weights as fp16 safetensors with metadata: architecture, the command
   and config that trained it, the data and its terms, steps, and the test's PSNR.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from noiseda_core.config import load_config
from noiseda_core.demo import skimage_data_dir
from noiseda_core.export import load_restorer
from noiseda_core.imageio import read_image, write_image
from noiseda_core.inference import restore_image
from noiseda_core.metrics import psnr

# (file inside skimage/data, terms)
PHOTOS = [
    ("astronaut.png", "public domain (NASA)"),
    ("coffee.png", "CC0 (Rachel Michetti)"),
    ("ihc.png", "CC0 (Stefan van der Walt)"),
    ("hubble_deep_field.jpg", "public domain (NASA)"),
    ("camera.png", "CC0 (Lav Varshney)"),
    ("brick.png", "CC0 (CC0Textures)"),
]
TEST_PHOTOS = ["chelsea.png", "retina.jpg", "grass.png"]  # CC0; never trained on
TEST_SIGMAS = (15, 25, 50)
OUT_DIR = ROOT / "resources" / "restorers"


def write_photos(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, _ in PHOTOS:
        img = read_image(skimage_data_dir() / name)
        write_image(img, folder / (Path(name).stem + ".png"))


def test_scores(model_path: Path) -> dict[str, float]:
    """Mean PSNR (dB) of input and output on TEST_PHOTOS with AWGN at each σ."""
    restorer = load_restorer(model_path)
    gen = torch.Generator().manual_seed(0)
    out: dict[str, float] = {}
    for sigma in TEST_SIGMAS:
        noisy_db, restored_db = [], []
        for name in TEST_PHOTOS:
            img = read_image(skimage_data_dir() / name)
            _, h, w = img.shape
            top, left = (h - 256) // 2, (w - 256) // 2
            clean = img[:, top : top + 256, left : left + 256]
            noisy = clean + torch.randn(clean.shape, generator=gen) * (sigma / 255.0)
            restored = restore_image(restorer, noisy.clamp(0, 1), tile=None, device="cpu")
            noisy_db.append(psnr(noisy.clamp(0, 1), clean))
            restored_db.append(psnr(restored.clamp(0, 1), clean))
        out[f"awgn{sigma}_input_psnr"] = round(float(np.mean(noisy_db)), 2)
        out[f"awgn{sigma}_psnr"] = round(float(np.mean(restored_db)), 2)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--arch", default="unet-t")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--work", type=Path, default=Path("/tmp/noiseda-builtin"))
    parser.add_argument("--resume", action="store_true", help="continue the run in --work")
    parser.add_argument(
        "--package", action="store_true", help="only store the run's current model (no training)"
    )
    args = parser.parse_args()

    work = args.work.resolve()
    photos = work / "photos"
    run_dir = work / f"run-{args.arch}"
    config = work / f"{args.arch}.toml"
    if args.package:
        return package(args, config, run_dir)
    if not args.resume:
        write_photos(photos)
        config.write_text(
            "[data]\n"
            f'synthetic = "{photos}"\n'
            'degradation = "awgn:0-75"\n'
            "cache_mb = 512\n"
            "[model]\n"
            f'restorer = "{args.arch}"\n'
            "[train]\n"
            'mode = "baseline"\n'
            f"steps = {args.steps}\nbatch = {args.batch}\npatch = {args.patch}\nlr = {args.lr}\n"
            "ema_decay = 0.999\nval_every = 100000\npreview_every = 100000\n"
            "checkpoint_every = 250\nlog_every = 50\n",
            encoding="utf-8",
        )
        cmd = [
            sys.executable,
            "-m",
            "noiseda_core",
            "train",
            str(config),
            "--run-dir",
            str(run_dir),
        ]
    else:
        cmd = [sys.executable, "-m", "noiseda_core", "train", "--resume", str(run_dir)]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return package(args, config, run_dir)


def package(args: argparse.Namespace, config: Path, run_dir: Path) -> int:
    """Score the run's EMA model and store it as fp16 under resources/restorers/."""
    model = run_dir / "model.safetensors"
    scores = test_scores(model)
    print(json.dumps(scores, indent=1))
    restorer = load_restorer(model)
    cfg = load_config(config)
    from safetensors.torch import save_file

    from noiseda_core.export import export_metadata, read_metadata

    steps = read_metadata(model).get("step", "?")

    metadata = export_metadata(
        restorer,
        {
            "name": f"builtin:{args.arch}",
            "weights": "ema",
            "step": steps,
            "training_command": "python scripts/train_builtin.py "
            + shlex.join(
                [
                    f"--arch={cfg.model.restorer}",
                    f"--steps={cfg.train.steps}",
                    f"--batch={cfg.train.batch}",
                    f"--patch={cfg.train.patch}",
                    f"--lr={cfg.train.lr:g}",
                ]
            )
            + f" (stopped and stored at step {steps})" * (steps != str(cfg.train.steps)),
            "training_config": load_text(config),
            "training_data": json.dumps(
                {
                    "source": "scikit-image bundled sample photographs",
                    "degradation": "awgn:0-75",
                    "photos": {name: terms for name, terms in PHOTOS},
                }
            ),
            "trained_on": "a 2-core CPU (fp32)",
            "test": json.dumps(
                {
                    "photos": TEST_PHOTOS,
                    "crop": "centre 256x256",
                    "noise": "AWGN, torch seed 0",
                    "scores_db": scores,
                }
            ),
            "storage": "fp16 (loaded as fp32)",
        },
    )
    tensors = {k: v.detach().half().contiguous() for k, v in restorer.net.state_dict().items()}
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    target = OUT_DIR / f"{args.arch}.safetensors"
    save_file(tensors, str(target), metadata=metadata)
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


def load_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
