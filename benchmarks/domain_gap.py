"""Does it adapt? Train baseline / Noise-DA / ablations on a synthetic→real gap and compare.

One command, same steps, seeds and restorer for every variant:

    python benchmarks/domain_gap.py --dataset demo --seeds 0,1,2 --steps 1500
    python benchmarks/domain_gap.py --dataset kodak --study fast --seeds 0,1,2

Datasets (the "real" domain always has held-out pairs with ground truth):
  demo   the project's demo data (`noiseda demo-data`): AWGN synthetic → camera-noise real
  kodak  ../shared/data/clean split three ways: synthetic clean images (AWGN on the fly),
         real images degraded once by the camera-noise simulator, held-out real pairs

Writes ``OUT/results.json`` (every run's validation curve), ``OUT/results.md`` (a table of
real-domain PSNR/SSIM per variant, mean ± std over seeds) and ``OUT/curves.png``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from noiseda_core.checkpoint import export_run  # noqa: E402
from noiseda_core.config import Config, apply_overrides  # noqa: E402
from noiseda_core.events import Finished, Validation  # noqa: E402

SHARED_CLEAN = REPO.parent / "shared" / "data" / "clean"

# Each variant is a list of --set overrides on top of the preset.
VARIANTS: dict[str, list[str]] = {
    "baseline": ["train.mode=baseline"],
    "noise-da": ["train.mode=noise-da"],
    "noise-da-no-cs": ["train.mode=noise-da", "train.channel_shuffle=false"],
    "noise-da-no-rs": ["train.mode=noise-da", "train.residual_swap=false"],
}
# Not a method: supervised training on pairs with the *real* degradation (which a user
# never has). It bounds what any adaptation could reach from the same start.
ORACLE = "oracle-real-pairs"

# Options studied for making the adaptation appear sooner (each on top of noise-da).
STUDIES: dict[str, dict[str, list[str]]] = {
    "paper": {k: v for k, v in VARIANTS.items()},
    "fast": {
        "baseline": ["train.mode=baseline"],
        "noise-da": ["train.mode=noise-da"],
        "pretrain-D": ["train.mode=noise-da", "train.denoiser_pretrain_steps=0.3"],
        "lambda-1.0": ["train.mode=noise-da", "train.lambda_weight=1.0"],
        "ramp-short": ["train.mode=noise-da", "train.lambda_ramp=0.1"],
        "denoiser-lr-x4": ["train.mode=noise-da", "train.denoiser_lr=1.6e-3"],
        "denoiser-small": ["train.mode=noise-da", "model.diffusion=small"],
        # The triplet hinge hits zero within ~200 steps at m = 0.1 (D separates the
        # negatives by more than m), after which residual swapping sends no gradient.
        "margin-1.0": ["train.mode=noise-da", "train.margin=1.0"],
        "pretrain-D+lambda-1.0": ["train.mode=noise-da", "train.denoiser_pretrain_steps=0.3",
                                  "train.lambda_weight=1.0", "train.lambda_ramp=0.1"],
    },
}

PRESETS: dict[str, list[str]] = {
    # A few minutes per run on 2 CPU cores.
    "cpu": ["model.restorer=unet-tiny", "model.diffusion=tiny", "train.batch=4", "train.patch=32",
            "train.lr=4e-4", "train.device=cpu", "train.precision=fp32", "train.val_max_side=192"],
    # One H100/H200, the paper's networks.
    "gpu": ["model.restorer=unet-s", "model.diffusion=paper", "train.batch=24", "train.patch=128",
            "train.lr=1e-4", "train.val_max_side=512", "data.workers=6"],
}


def prepare_dataset(name: str, cache: Path, gap: str) -> Path:
    """A project folder with synthetic/, real/, real_val/ (demo layout); returns it."""
    from noiseda_core.demo import write_demo_data

    target = cache / f"{name}-{gap.replace(':', '_')}"
    if (target / "ready").is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)
    if name == "demo":
        write_demo_data(target, seed=0)
    elif name == "kodak":
        split_clean_folder(SHARED_CLEAN, target, gap)
    else:
        raise SystemExit(f"unknown dataset {name!r} (demo or kodak)")
    (target / "ready").write_text("ok")
    return target


def split_clean_folder(source: Path, target: Path, gap: str) -> None:
    """Synthetic clean (AWGN on the fly), real (camera noise, no labels), held-out real pairs."""
    import numpy as np

    from noiseda_core.degrade import parse_degradation
    from noiseda_core.imageio import read_image, scan_images, write_image

    if not source.is_dir():
        raise SystemExit(f"{source} does not exist; use --dataset demo")
    images = scan_images(source).images
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))
    groups = {"synthetic/clean": order[: len(images) // 2],
              "real": order[len(images) // 2: len(images) * 3 // 4],
              "real_val": order[len(images) * 3 // 4:]}
    camera = parse_degradation(gap)
    for group, indices in groups.items():
        for index in indices:
            path = images[index]
            clean = read_image(path)
            if group == "synthetic/clean":
                write_image(clean, target / group / f"{path.stem}.png")
                continue
            degraded = camera.apply(clean.permute(1, 2, 0).numpy(), rng)
            import torch

            noisy = torch.from_numpy(degraded).permute(2, 0, 1)
            if group == "real":
                write_image(noisy, target / "real" / f"{path.stem}.png")
            else:
                write_image(noisy, target / "real_val" / "input" / f"{path.stem}.png")
                write_image(clean, target / "real_val" / "target" / f"{path.stem}.png")


def dataset_overrides(root: Path) -> list[str]:
    if (root / "synthetic" / "clean").is_dir():  # kodak split: clean + AWGN on the fly
        synthetic = [f"data.synthetic={root / 'synthetic' / 'clean'}", "data.degradation=awgn:0-50"]
    else:  # demo: pre-made pairs
        synthetic = [f"data.synthetic={root / 'synthetic'}", "data.degradation="]
    return synthetic + [f"data.real={root / 'real'}", f"data.val={root / 'real_val'}"]


def oracle_overrides(root: Path, gap: str) -> list[str]:
    clean = root / "synthetic" / "clean"
    if not clean.is_dir():
        clean = root / "synthetic" / "target"
    return ["train.mode=baseline", f"data.synthetic={clean}", f"data.degradation={gap}"]


def resolve_fractions(overrides: list[str], steps: int) -> list[str]:
    """``train.warmup_restorer_steps=0.3`` means 30 % of the run (phase lengths are steps)."""
    out = []
    for item in overrides:
        key, value = item.split("=", 1)
        if key in ("train.warmup_restorer_steps", "train.denoiser_pretrain_steps") and "." in value:
            value = str(int(float(value) * steps))
        out.append(f"{key}={value}")
    return out


def run_one(cfg: Config, run_dir: Path) -> dict[str, object]:
    from noiseda_core.train import train

    shutil.rmtree(run_dir, ignore_errors=True)
    curve, began, final = [], time.perf_counter(), None
    for event in train(cfg, run_dir):
        if isinstance(event, Validation):
            curve.append({"step": event.step, "psnr": event.psnr, "ssim": event.ssim,
                          "psnr_input": event.psnr_input})
        if isinstance(event, Finished):
            final = event
    if final is None:
        raise SystemExit(f"run {run_dir} did not finish; see its events.jsonl")
    return {"curve": curve, "seconds": time.perf_counter() - began}


def summarise(results: dict[str, dict[str, dict]]) -> str:
    lines = ["| variant | real PSNR (dB) | real SSIM | Δ vs baseline (dB) | best PSNR on the curve | "
             "minutes/run |", "| --- | --- | --- | --- | --- | --- |"]
    base = [r["curve"][-1]["psnr"] for r in results.get("baseline", {}).values()]
    base_mean = statistics.mean(base) if base else None
    for variant, runs in results.items():
        psnrs = [r["curve"][-1]["psnr"] for r in runs.values()]
        ssims = [r["curve"][-1]["ssim"] for r in runs.values()]
        best = [max(p["psnr"] for p in r["curve"]) for r in runs.values()]
        minutes = statistics.mean(r["seconds"] for r in runs.values()) / 60
        sd = statistics.stdev(psnrs) if len(psnrs) > 1 else 0.0
        delta = f"{statistics.mean(psnrs) - base_mean:+.2f}" if base_mean is not None else "n/a"
        lines.append(f"| {variant} | {statistics.mean(psnrs):.2f} ± {sd:.2f} | "
                     f"{statistics.mean(ssims):.4f} | {delta} | {statistics.mean(best):.2f} | "
                     f"{minutes:.1f} |")
    first = next(iter(next(iter(results.values())).values()))
    lines.append(f"\nNoisy real input: {first['curve'][-1]['psnr_input']:.2f} dB.")
    return "\n".join(lines)


def plot_curves(results: dict[str, dict[str, dict]], path: Path) -> None:
    """Mean real-domain PSNR over steps per variant, drawn with Pillow (no plotting deps)."""
    from PIL import Image, ImageDraw

    width, height, pad = 900, 500, 60
    series = {}
    for variant, runs in results.items():
        curves = [r["curve"] for r in runs.values()]
        steps = [p["step"] for p in curves[0]]
        series[variant] = (steps, [statistics.mean(c[i]["psnr"] for c in curves)
                                   for i in range(len(steps))])
    all_x = [x for s, _ in series.values() for x in s]
    all_y = [y for _, v in series.values() for y in v]
    x0, x1, y0, y1 = min(all_x), max(all_x), min(all_y) - 0.1, max(all_y) + 0.1
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    sx = lambda x: pad + (x - x0) / max(x1 - x0, 1) * (width - 2 * pad)  # noqa: E731
    sy = lambda y: height - pad - (y - y0) / max(y1 - y0, 1e-6) * (height - 2 * pad)  # noqa: E731
    draw.rectangle([pad, pad, width - pad, height - pad], outline="black")
    for k in range(5):
        y = y0 + (y1 - y0) * k / 4
        draw.text((5, sy(y) - 6), f"{y:.2f}", fill="black")
    draw.text((width // 2 - 80, height - 30), f"step ({x0} to {x1}); y: real PSNR (dB)", fill="black")
    colours = ["black", "red", "blue", "green", "orange", "purple", "brown", "magenta"]
    for index, (variant, (xs, ys)) in enumerate(series.items()):
        colour = colours[index % len(colours)]
        draw.line([(sx(x), sy(y)) for x, y in zip(xs, ys)], fill=colour, width=2)
        draw.text((pad + 10, pad + 10 + 14 * index), variant, fill=colour)
    image.save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--dataset", default="demo", choices=["demo", "kodak"])
    parser.add_argument("--study", default="paper", choices=sorted(STUDIES))
    parser.add_argument("--variants", default="", help="comma-separated subset of the study")
    parser.add_argument("--preset", default="cpu", choices=sorted(PRESETS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--val-every", type=int, default=0, help="default: steps/10")
    parser.add_argument("--warm-start-steps", type=int, default=0,
                        help="first train a baseline this long per seed; all variants start from it")
    parser.add_argument("--oracle", action="store_true",
                        help="also train on pairs with the real degradation (an upper bound)")
    parser.add_argument("--gap", default="camera", help="the real domain's degradation (kodak)")
    parser.add_argument("--set", action="append", default=[], help="extra overrides for all runs")
    parser.add_argument("--out", default="", help="results folder")
    parser.add_argument("--cache", default=str(REPO / "runs" / "datasets"))
    parser.add_argument("--replot", metavar="DIR", help="redraw DIR's table and curves, no training")
    args = parser.parse_args()
    if args.replot:
        results = json.loads((Path(args.replot) / "results.json").read_text())
        print(summarise(results))
        plot_curves(results, Path(args.replot) / "curves.png")
        return 0

    root = prepare_dataset(args.dataset, Path(args.cache), args.gap)
    out = Path(args.out or REPO / "runs" / f"domain_gap-{args.dataset}-{args.study}-{args.preset}")
    out.mkdir(parents=True, exist_ok=True)
    study = STUDIES[args.study]
    names = [v for v in args.variants.split(",") if v] or list(study)
    if args.oracle:
        names.append(ORACLE)
    val_every = args.val_every or max(args.steps // 10, 1)
    results: dict[str, dict[str, dict]] = {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        warm: list[str] = []
        if args.warm_start_steps:
            # The product's use: adapt a restorer already trained on the synthetic pairs.
            # One baseline run per seed gives every variant the same starting weights.
            start = apply_overrides(Config(), PRESETS[args.preset] + dataset_overrides(root) + [
                "train.mode=baseline", f"train.steps={args.warm_start_steps}", f"train.seed={seed}",
                f"train.val_every={args.warm_start_steps}", "train.log_every=100",
                f"train.preview_every={args.warm_start_steps}",
                f"train.checkpoint_every={args.warm_start_steps}"] + args.set)
            warm_dir = out / "runs" / f"warm-start-seed{seed}"
            if not (warm_dir / "model.safetensors").is_file():
                run_one(start, warm_dir)
            export_run(warm_dir, out / f"warm-seed{seed}.safetensors", weights="ema")
            warm = [f"model.init_restorer={out / f'warm-seed{seed}.safetensors'}"]
        for name in names:
            overrides = (PRESETS[args.preset] + dataset_overrides(root) + warm
                         + [f"train.steps={args.steps}", f"train.seed={seed}",
                            f"train.val_every={val_every}", f"train.preview_every={args.steps}",
                            f"train.checkpoint_every={args.steps}", "train.log_every=50"]
                         + (oracle_overrides(root, args.gap) if name == ORACLE
                            else resolve_fractions(study[name], args.steps)) + args.set)
            cfg = apply_overrides(Config(), overrides)
            result = run_one(cfg, out / "runs" / f"{name}-seed{seed}")
            result["overrides"] = overrides
            results.setdefault(name, {})[str(seed)] = result
            last = result["curve"][-1]
            print(f"{name:>18} seed {seed}: real PSNR {last['psnr']:.2f} dB SSIM {last['ssim']:.4f} "
                  f"({result['seconds'] / 60:.1f} min)", flush=True)
            (out / "results.json").write_text(json.dumps(results, indent=1))
    table = summarise(results)
    header = (f"dataset {args.dataset}, study {args.study}, preset {args.preset}, steps {args.steps}, "
              f"warm start {args.warm_start_steps} baseline steps, "
              f"seeds {args.seeds}\ncommand: python benchmarks/domain_gap.py "
              + " ".join(sys.argv[1:]) + "\n\n")
    (out / "results.md").write_text(header + table + "\n")
    plot_curves(results, out / "curves.png")
    print(header + table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
