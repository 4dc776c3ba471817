"""Does bf16 hurt? Train the same short run in fp32 and in bf16 and compare.

Same config, same seed, same data (the demo project, written if missing): the
loss curves (every step) and the final real-domain PSNR of the EMA restorer on the
held-out real pairs. The issue asks for curves that agree closely and a final PSNR
within 0.1 dB of fp32.

    python benchmarks/precision_check.py --steps 300 --out gpu_results/precision   # GPU
    OMP_NUM_THREADS=1 python benchmarks/precision_check.py --device cpu --steps 4 \
        --restorer unet-tiny --diffusion tiny --batch 1 --patch 32                 # CPU smoke

Prints one JSON line per run and a ``summary`` line; writes ``OUT/precision.json``
with both curves, each run's resolved config and the provenance (``provenance.py``).
Exit status 0 whatever the outcome (the summary's ``psnr_ok`` says whether the 0.1 dB
bound held), 2 on a user error.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from noiseda_core.config import apply_overrides, load_config  # noqa: E402
from noiseda_core.errors import UserError  # noqa: E402
from noiseda_core.events import Failed, Finished, Progress, Validation  # noqa: E402

PSNR_BOUND_DB = 0.1


def run_one(config: Path, out: Path, precision: str, args: argparse.Namespace) -> dict:
    """Train one run; return its curve, final validation and timing."""
    from noiseda_core.train import train

    sets = [
        f"train.precision={precision}",
        f"train.steps={args.steps}",
        f"train.batch={args.batch}",
        f"train.patch={args.patch}",
        f"train.seed={args.seed}",
        f"train.device={args.device}",
        f"model.restorer={args.restorer}",
        f"model.diffusion={args.diffusion}",
        "model.init_restorer=",  # the demo's warm start would replace --restorer's architecture
        "train.log_every=1",
        f"train.val_every={args.steps}",
        f"train.preview_every={args.steps}",
        f"train.checkpoint_every={args.steps + 1}",
        f"train.lambda_ramp={args.lambda_ramp}",
        f"data.workers={args.workers}",
    ]
    cfg = apply_overrides(load_config(config), sets)
    curve: list[float] = []
    final: Validation | None = None
    began = time.perf_counter()
    run_dir = out / f"run_{precision}"
    for event in train(cfg, run_dir):
        if isinstance(event, Progress):
            curve.append(event.loss_total)
        elif isinstance(event, Validation):
            final = event
        elif isinstance(event, Failed):
            raise UserError(f"the {precision} run failed: {event.message}")
        elif isinstance(event, Finished):
            pass
    return {
        "precision": precision,
        "curve": curve,
        "psnr": final.psnr if final else None,
        "ssim": final.ssim if final else None,
        "psnr_input": final.psnr_input if final else None,
        "seconds": round(time.perf_counter() - began, 2),
        "config": (run_dir / "config.toml").read_text(),  # as resolved by the run
    }


def compare(a: list[float], b: list[float]) -> dict[str, float]:
    """How closely two loss curves agree (b against reference a)."""
    n = min(len(a), len(b))
    rel = [abs(b[i] - a[i]) / max(abs(a[i]), 1e-12) for i in range(n)]
    # Curves are noisy step to step; compare them also smoothed over windows of 10 %.
    w = max(1, n // 10)
    mean_a = [statistics.fmean(a[i : i + w]) for i in range(0, n - w + 1, w)]
    mean_b = [statistics.fmean(b[i : i + w]) for i in range(0, n - w + 1, w)]
    rel_smooth = [abs(y - x) / max(abs(x), 1e-12) for x, y in zip(mean_a, mean_b, strict=True)]
    return {
        "steps_compared": n,
        "max_rel_diff": max(rel) if rel else math.nan,
        "median_rel_diff": statistics.median(rel) if rel else math.nan,
        "max_rel_diff_smoothed": max(rel_smooth) if rel_smooth else math.nan,
        "final_loss_fp32": statistics.fmean(a[-w:]) if a else math.nan,
        "final_loss_other": statistics.fmean(b[-w:]) if b else math.nan,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--data",
        default=None,
        help="demo.toml to train on (default: write demo data under OUT/demo)",
    )
    parser.add_argument("--out", default="precision_check")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--restorer", default="unet-s")
    parser.add_argument("--diffusion", default="paper")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument(
        "--lambda-ramp",
        type=float,
        default=0.2,
        help="λ ramp as a fraction of the steps (short runs: reach λ early)",
    )
    parser.add_argument("--other", default="bf16", choices=["bf16", "fp16"])
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        if args.data:
            config = Path(args.data)
        else:
            from noiseda_core.demo import write_demo_data

            demo = out / "demo"
            config = demo / "demo.toml" if (demo / "demo.toml").is_file() else write_demo_data(demo)
        runs = [run_one(config, out, p, args) for p in ("fp32", args.other)]
    except UserError as exc:
        print(f"precision_check: error: {exc}", file=sys.stderr)
        return 2
    for run in runs:
        print(
            json.dumps(
                {
                    "what": "precision-run",
                    **{k: v for k, v in run.items() if k not in ("curve", "config")},
                    "final_loss": run["curve"][-1] if run["curve"] else None,
                }
            ),
            flush=True,
        )
    ref, other = runs
    summary = {
        "what": "precision-summary",
        "other": args.other,
        "steps": args.steps,
        "batch": args.batch,
        "patch": args.patch,
        "restorer": args.restorer,
        "diffusion": args.diffusion,
        "seed": args.seed,
        **compare(ref["curve"], other["curve"]),
    }
    if ref["psnr"] is not None and other["psnr"] is not None:
        summary["psnr_fp32"] = round(ref["psnr"], 4)
        summary[f"psnr_{args.other}"] = round(other["psnr"], 4)
        summary["psnr_diff_db"] = round(other["psnr"] - ref["psnr"], 4)
        summary["psnr_ok"] = abs(other["psnr"] - ref["psnr"]) <= PSNR_BOUND_DB
    print(json.dumps(summary), flush=True)
    from provenance import collect, write_results

    meta = collect(
        "benchmarks/precision_check.py", sys.argv[1:] if argv is None else argv, vars(args)
    )
    write_results(out, meta, {"summary": summary, "runs": runs}, stem="precision")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
