"""Merge ``default_flow.py`` invocations (one variant each) into one table, Δ vs the start.

    python benchmarks/flow_variants.py reference=runs/flowtune/reference \\
        trial=runs/flowtune/trial --out benchmarks/domain_gap/DATE/flow-tune

Each ``NAME=DIR`` is the ``--out`` of one invocation (the same split and minutes, the
variant's ``--set`` overrides in its ``results.json``). For every dataset the table has
the rows a method must beat (the noisy input, the start, the start with pixel-shuffle
down-sampling), then each variant: mean ± sd over seeds, the per-seed Δ against the
start and against the first variant's run of the same seed, the steps, the kept weights
and, for a λ trial, the λ it chose (from the run's ``events.jsonl``). Writes
``OUT/results.md`` and ``OUT/results.json`` (the merge's provenance, and every
invocation's runs with its own).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def chosen_lambda(run_dir: Path) -> str | None:
    """The λ a trial chose in ``run_dir`` and, after a step down, the λ it went on with
    ("2 → 0.2 at 306"); None: no trial."""
    path = run_dir / "events.jsonl"
    if not path.is_file():
        return None
    chosen = [
        json.loads(line) for line in path.read_text().splitlines() if '"type": "strength"' in line
    ]
    if not chosen:
        return None
    text = f"{chosen[0]['lambda_weight']:g}"
    for event in chosen[1:]:
        text += f" → {event['lambda_weight']:g} at {event['step']}"
    return text


def load(name: str, folder: Path) -> dict[str, Any]:
    data = json.loads((folder / "results.json").read_text())
    for dataset, modes in data["runs"].items():
        for seed, run in modes.get("noise-da", {}).items():
            run["chosen_lambda"] = chosen_lambda(folder / "runs" / f"{dataset}-noise-da-seed{seed}")
    return {"name": name, "folder": str(folder), **data}


def table(variants: list[dict[str, Any]]) -> str:
    lines = [
        "| dataset | row | real PSNR (dB) | Δ vs start (per seed) | Δ vs first variant, same seed "
        "| SSIM | steps | kept | λ chosen |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    datasets = sorted({d for v in variants for d in v["runs"]})
    for dataset in datasets:
        base = next(v["baselines"][dataset] for v in variants if dataset in v["baselines"])
        start = base["start"]["psnr"]
        for label, key in (
            ("noisy input", "psnr_input"),
            ("start (built-in unet-t)", "psnr"),
            ("start + PD 2", "psnr_pd2"),
        ):
            if (value := base["start"].get(key)) is not None:
                lines.append(
                    f"| {dataset} | {label} | {value:.2f} | {value - start:+.2f} | | | | | |"
                )
        reference: dict[str, float] = {}
        for variant in variants:
            runs = variant["runs"].get(dataset, {}).get("noise-da", {})
            if not runs:
                continue
            seeds = sorted(runs, key=int)
            psnrs = [runs[s]["score"]["psnr"] for s in seeds]
            first = not reference  # the dataset's first variant is the reference
            if first:
                reference = dict(zip(seeds, psnrs, strict=True))
            mean = statistics.mean(psnrs)
            sd = f" ± {statistics.stdev(psnrs):.2f}" if len(psnrs) > 1 else ""
            per_seed = ", ".join(f"{p - start:+.2f}" for p in psnrs)
            paired = [(s, p) for s, p in zip(seeds, psnrs, strict=True) if s in reference]
            versus = ", ".join(f"{p - reference[s]:+.2f}" for s, p in paired)
            ssim = statistics.mean(runs[s]["score"]["ssim"] for s in seeds)
            steps = ", ".join(str(runs[s]["steps"]) for s in seeds)
            kept = ", ".join(
                f"{runs[s]['kept']}@{runs[s]['kept_step']}"
                + (f" ({n} refused)" if (n := runs[s].get("kept_refused")) else "")
                for s in seeds
            )
            lams = [runs[s].get("chosen_lambda") for s in seeds]
            chosen = "; ".join(str(x) for x in lams if x is not None)
            lines.append(
                f"| {dataset} | {variant['name']} ({len(seeds)} seeds) | {mean:.2f}{sd} | "
                f"{mean - start:+.2f} ({per_seed}) | {'—' if first else versus} | {ssim:.3f} | "
                f"{steps} | {kept} | {chosen} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("variants", nargs="+", metavar="NAME=DIR")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    variants = []
    for item in args.variants:
        name, _, folder = item.partition("=")
        if not folder or not (Path(folder) / "results.json").is_file():
            print(f"{item}: expected NAME=DIR with DIR/results.json", file=sys.stderr)
            return 2
        variants.append(load(name, Path(folder)))
    text = table(variants)
    print(text)
    if args.out:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from provenance import collect, write_results

        meta = collect("benchmarks/flow_variants.py", sys.argv[1:] if argv is None else argv)
        merged = {"variants": [{k: v for k, v in x.items() if k != "folder"} for x in variants]}
        write_results(Path(args.out), meta, merged, f"{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
