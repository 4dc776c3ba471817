"""Train the conditional denoiser once, to ship it: ``model.init_denoiser = "builtin:tiny"``.

    python benchmarks/pretrain_denoiser.py                      # 300 steps on the demo's photos
    python benchmarks/pretrain_denoiser.py --steps 500 --out my.safetensors

The denoiser learns what the diffusion loss asks of it, with the restorer frozen at the
built-in start (``builtin:unet-t``): noised clean synthetic photos, conditioned on the
start's outputs for synthetic pairs (the demo's clean photos with noise fitted to its
real photos, the default flow's synthetic branch) and for the demo's real photos. This
is the training loop's own denoiser-only phase (``train.denoiser_pretrain_steps``) run
for the whole run; its denoiser is then written as safetensors with its size,
``gamma_scale`` and how it was made in the metadata. The demo's photos (scikit-image's
samples) are none of the benchmark's, so the shipped file knows nothing of its splits.

An existing ``--out`` is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from provenance import collect  # noqa: E402

from noiseda_core.checkpoint import load_resume_state  # noqa: E402
from noiseda_core.config import apply_overrides, load_config  # noqa: E402
from noiseda_core.demo import write_demo_project  # noqa: E402
from noiseda_core.denoiser_start import save_denoiser  # noqa: E402
from noiseda_core.diffusion import build_denoiser  # noqa: E402
from noiseda_core.events import Finished, Progress  # noqa: E402
from noiseda_core.train import train  # noqa: E402

PREFIX = "noise_da.denoiser."  # the denoiser's keys in the training objective's state


def pretrain_overrides(steps: int, seed: int, diffusion: str) -> list[str]:
    """The demo's config turned into a denoiser-only run of ``steps`` (restorer frozen)."""
    return [
        "train.mode=noise-da",
        f"model.diffusion={diffusion}",
        f"train.steps={steps}",
        f"train.denoiser_pretrain_steps={steps}",
        "train.minutes=0",
        "train.keep_best=off",
        "data.val=",
        f"train.seed={seed}",
        "train.device=cpu",
        "train.precision=fp32",
        "train.log_every=25",
        f"train.val_every={steps}",
        f"train.preview_every={steps}",
        f"train.checkpoint_every={steps}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--diffusion", default="tiny", help="model.diffusion: the size to train")
    parser.add_argument("--out", default=str(REPO / "resources" / "denoisers" / "tiny.safetensors"))
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        print(f"{out} exists; pass --overwrite to replace it", file=sys.stderr)
        return 1
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="pretrain_denoiser-") as tmp:
        project = write_demo_project(Path(tmp) / "demo")
        overrides = pretrain_overrides(args.steps, args.seed, args.diffusion)
        cfg = load_config(project.toml)
        cfg = apply_overrides(cfg, overrides)
        run_dir = Path(tmp) / "run"
        for event in train(cfg, run_dir):
            if isinstance(event, Progress):
                print(f"step {event.step}: L_dif {event.loss_dif:.4f}", flush=True)
            elif isinstance(event, Finished):
                print(
                    f"finished at step {event.step} in {event.elapsed_s / 60:.1f} min", flush=True
                )
        state = load_resume_state(run_dir)
        weights = {
            k[len(PREFIX) :]: v for k, v in state["objective"].items() if k.startswith(PREFIX)
        }
        denoiser = build_denoiser(args.diffusion, cfg.train.patch, cfg.model.gamma_scale)
        denoiser.load_state_dict(weights, strict=True)
    meta = collect("benchmarks/pretrain_denoiser.py", sys.argv[1:], config=vars(args))
    note = (
        f"{meta['command']}; commit {meta['commit']} (dirty {meta['dirty']}), torch "
        f"{meta['versions'].get('torch')}, {meta['date']}; {args.steps} denoiser-only steps, "
        f"restorer frozen at builtin:unet-t, the demo's photos (noiseda demo-data, seed 0), "
        f"synthetic noise {cfg.data.degradation}, batch {cfg.train.batch} of "
        f"{cfg.train.patch}², lr {cfg.train.lr:g}"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    save_denoiser(out, denoiser, size=args.diffusion, gamma_scale=cfg.model.gamma_scale, note=note)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
