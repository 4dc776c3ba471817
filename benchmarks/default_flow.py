"""The default flow, measured: the demo's config with only the folders changed, no validation
pairs, ``train.minutes`` (10), from the built-in start; scored on held-out real pairs.

    python benchmarks/default_flow.py --datasets phone,polyu --seeds 0,1,2 --jobs 2
    python benchmarks/default_flow.py --modes noise-da --minutes 10 --split tune

For each dataset (``domain_gap_data.py``: the camera-like ``phone`` gap and PolyU's real
camera noise), each seed and each mode (``noise-da``; ``baseline``: the same flow with
the diffusion term off, so noise-da's own share is visible) one run trains with the
product's defaults, then its exported model (whatever keep-best chose) is scored on the
split's real pairs, which the run never saw. The rows a method must beat come first:
the noisy input, the start, the start with pixel-shuffle down-sampling (stride 2, 3).

``--jobs 2`` runs two at a time, one core each: each run sees half of a 2-core machine,
as on a busy one. Writes ``OUT/results.json`` (every run, the resolved config, commit,
command, versions) and ``OUT/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from domain_gap import BUILTIN, GAP, SPLITS, score_model  # noqa: E402
from domain_gap_data import prepare  # noqa: E402
from provenance import collect, write_results  # noqa: E402

from noiseda_core.config import Config, apply_overrides, config_from_dict  # noqa: E402
from noiseda_core.demo import DEMO_CONFIG  # noqa: E402

MODES = {"noise-da": [], "baseline": ["train.mode=baseline"]}


def flow_overrides(root: Path, minutes: float, seed: int, mode: str) -> list[str]:
    """The demo's config, folders swapped for the dataset's, no validation pairs."""
    return [
        f"data.synthetic={root / 'synthetic' / 'clean'}",
        f"data.real={root / 'real'}",
        "data.val=",
        f"train.minutes={minutes}",
        f"train.seed={seed}",
        "train.device=cpu",
        *MODES[mode],
    ]


def demo_defaults() -> Config:
    raw = {section: dict(values) for section, values in DEMO_CONFIG.items()}
    return config_from_dict(raw)


def run_flow(
    overrides: list[str], run_dir: str, score_split: str, root: str, threads: int
) -> dict[str, Any]:
    """One run of the default flow, then its exported model scored (a parallel job)."""
    import shutil

    import torch

    from noiseda_core.events import Finished, Validation
    from noiseda_core.train import train

    torch.set_num_threads(threads)
    cfg = apply_overrides(demo_defaults(), overrides)
    shutil.rmtree(run_dir, ignore_errors=True)
    began, proxy, final = time.perf_counter(), [], None
    for event in train(cfg, Path(run_dir)):
        if isinstance(event, Validation):
            proxy.append(
                {
                    "step": event.step,
                    "psnr": event.psnr,
                    "source": event.source,
                    "structure": event.real_structure,  # the detail check (None: not measured)
                }
            )
        elif isinstance(event, Finished):
            final = event
    assert final is not None, f"{run_dir} did not finish"
    scored = apply_overrides(cfg, [f"data.val={Path(root) / SPLITS[score_split]}"])
    return {
        "seconds": time.perf_counter() - began,
        "steps": final.step,
        "kept": final.kept,
        "kept_step": final.kept_step,
        "kept_refused": final.kept_refused,
        "kept_proxy": final.kept_psnr,
        "start_proxy": final.start_psnr,
        "proxy_curve": proxy,
        "score": score_model(scored, Path(final.model)),
        "config": (Path(run_dir) / "config.toml").read_text(),
    }


def report(results: dict, baselines: dict) -> str:
    lines = [
        "| dataset | row | real PSNR (dB) | Δ vs start | Δ vs baseline flow | SSIM | steps "
        "| kept |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for dataset, rows in baselines.items():
        start = rows["start"]["psnr"]
        for name, key in (
            ("noisy input", "psnr_input"),
            ("start (built-in unet-t)", "psnr"),
            ("start + PD 2", "psnr_pd2"),
            ("start + PD 3", "psnr_pd3"),
        ):
            value = rows["start"].get(key)
            if value is not None:
                lines.append(f"| {dataset} | {name} | {value:.2f} | {value - start:+.2f} | | | | |")
        runs = results.get(dataset, {})
        base = [r["score"]["psnr"] for r in runs.get("baseline", {}).values()]
        for mode in ("baseline", "noise-da"):
            found = list(runs.get(mode, {}).values())
            if not found:
                continue
            psnrs = [r["score"]["psnr"] for r in found]
            ssims = [r["score"]["ssim"] for r in found]
            mean = statistics.mean(psnrs)
            spread = f" ± {statistics.stdev(psnrs):.2f}" if len(psnrs) > 1 else ""
            per_seed = ", ".join(f"{p - start:+.2f}" for p in psnrs)
            vs_base = f"{mean - statistics.mean(base):+.2f}" if base and mode != "baseline" else ""
            kept = ", ".join(f"{r['kept']}@{r['kept_step']}" for r in found)
            steps = ", ".join(str(r["steps"]) for r in found)
            lines.append(
                f"| {dataset} | default flow, {mode} ({len(psnrs)} seeds) | {mean:.2f}{spread} "
                f"| {mean - start:+.2f} ({per_seed}) | {vs_base} | {statistics.mean(ssims):.3f} "
                f"| {steps} | {kept} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--datasets", default="phone,polyu")
    parser.add_argument("--modes", default="noise-da,baseline")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--split", default="test", choices=sorted(SPLITS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads a run (default: cores / jobs)"
    )
    parser.add_argument("--no-baseline", default="", help="datasets without the baseline-mode rows")
    parser.add_argument("--set", action="append", default=[], help="extra overrides for all runs")
    parser.add_argument("--out", default=str(REPO / "runs" / "default_flow"))
    parser.add_argument("--cache", default=str(REPO / "runs" / "datasets"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    saved = json.loads(results_path.read_text()) if results_path.is_file() else {}
    results: dict = saved.get("runs", {})
    baselines: dict = {}
    jobs = []
    roots = {}
    for dataset in args.datasets.split(","):
        root, info = prepare(dataset, Path(args.cache), GAP)
        start_cfg = apply_overrides(
            demo_defaults(),
            [
                f"data.synthetic={root / 'synthetic' / 'clean'}",
                f"data.real={root / 'real'}",
                f"data.val={root / SPLITS[args.split]}",
            ],
        )
        from domain_gap import _score_start

        baselines[dataset] = {
            "info": info,
            "start": _score_start(apply_overrides(start_cfg, [f"model.init_restorer={BUILTIN}"])),
        }
        roots[dataset] = root
    # seeds outer: a study cut short still has every row for its first seeds
    for seed in (int(s) for s in args.seeds.split(",")):
        for dataset, root in roots.items():
            for mode in args.modes.split(","):
                if str(seed) in results.get(dataset, {}).get(mode, {}):
                    continue
                if mode == "baseline" and dataset in args.no_baseline.split(","):
                    continue
                overrides = flow_overrides(root, args.minutes, seed, mode) + args.set
                jobs.append(
                    (
                        dataset,
                        mode,
                        seed,
                        overrides,
                        str(out / "runs" / f"{dataset}-{mode}-seed{seed}"),
                        str(root),
                    )
                )
    import torch  # noqa: F401  (imported first, so the versions name the build in use)

    meta = collect(
        "benchmarks/default_flow.py", sys.argv[1:], config={**vars(args), "demo": DEMO_CONFIG}
    )

    def save() -> None:
        text = report(results, baselines)
        write_results(
            out,
            meta,
            {
                "split": args.split,
                "minutes": args.minutes,
                "baselines": baselines,
                "runs": results,
            },
            f"split {args.split}\n\n{text}\n",
        )
        print(text, flush=True)

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = args.threads or max(1, (os.cpu_count() or 1) // max(args.jobs, 1))
    with ProcessPoolExecutor(
        max(args.jobs, 1), mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        futures = {
            pool.submit(run_flow, o, d, args.split, r, threads): (ds, m, s)
            for ds, m, s, o, d, r in jobs
        }
        for future in as_completed(futures):
            dataset, mode, seed = futures[future]
            result = future.result()
            results.setdefault(dataset, {}).setdefault(mode, {})[str(seed)] = result
            score = result["score"]
            print(
                f"{dataset} {mode} seed {seed}: {score['psnr']:.2f} dB, {result['steps']} steps, "
                f"kept {result['kept']}@{result['kept_step']}",
                flush=True,
            )
            save()
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
