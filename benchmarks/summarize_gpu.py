"""Turn ``gpu_all.sh``'s ``bench.jsonl`` into a Markdown summary beside the release's figures.

    python benchmarks/summarize_gpu.py gpu_results/bench.jsonl gpu_results/env.txt > summary.md

The goals (issues 4 and 10, paper preset): batch 24 at ≥ 4× the release's images/s with at
most half its peak memory; restoration ≥ 4× the release's megapixels/s at 1024² and
the same rate on 4K frames. The release was measured on an H200: on another card the
goal check is printed but says which card it ran on.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RELEASE_TRAIN = {3: (23.8, None), 24: (96.3, 33.0), 64: (106.2, 85.9)}  # images/s, GiB
RELEASE_RESTORE_MPIX = 79.0  # 1024×1024, U-Net
GOAL_FACTOR = 4.0
GOAL_TRAIN_B24 = 400.0  # the issue rounds 4 × 96.3 up to 400 on an H200
GOAL_TRAIN_B3 = 95.0  # issue 19: 4 × the release's 23.8 at batch 3
GFLOP_PER_SAMPLE = 767.0  # issue 10: one joint step of the paper's networks at 128²
CHIP_TFLOPS_BF16 = 790.0  # H200 dense bf16 → ≈ 1,030 img/s at best


def _fmt(value: object, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _compile_cell(r: dict) -> str:
    """``False``, or the mode with Dynamo's graph breaks and recompiles (issue 19)."""
    if not r.get("compile"):
        return "False"
    return (
        f"{r.get('compile_mode', 'default')}, {r.get('graph_breaks', '?')} breaks, "
        f"{r.get('recompiles', '?')} recompiles"
    )


def _mfu(r: dict) -> str:
    return f" (MFU {100 * r['mfu']:.1f} %)" if r.get("mfu") is not None else ""


def _transfers(r: dict) -> str:
    rate = r.get("mpix_per_s_with_transfers")
    return f"; {_fmt(rate)} with transfers" if rate is not None else ""


def summarize(lines: list[dict], env: str = "") -> str:
    sections = {x["name"]: x for x in lines if x.get("what") == "section" and "name" in x}
    command_of: dict[int, str] = {}
    current: list[dict] = []
    for record in lines:  # a section line follows the lines its command printed
        if record.get("what") == "section":
            for r in current:
                command_of[id(r)] = record.get("command", "")
            current = []
        else:
            current.append(record)
    out = ["# GPU measurements (benchmarks/gpu_all.sh)", ""]
    device = next((x.get("device") for x in lines if x.get("device")), "unknown device")
    out.append(f"Device: **{device}**. Release figures: NVIDIA H200, fp32, its defaults.")
    out += [
        "",
        (
            "| what | preset | batch | precision | compile | ours | release | peak GiB "
            "(release) | command |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in lines:
        if r.get("what") == "train":
            rel = RELEASE_TRAIN.get(r["batch"]) if r.get("preset") == "paper" else None
            out.append(
                f"| train {r['patch']}² | {r['preset']} | {r['batch']} | {r['precision']} | "
                f"{_compile_cell(r)} | {_fmt(r['images_per_s'])} img/s{_mfu(r)} | "
                f"{_fmt(rel[0]) + ' img/s' if rel else '—'} | {_fmt(r.get('peak_mem_gib'))} "
                f"({_fmt(rel[1]) if rel else '—'}) | `{command_of.get(id(r), '')}` |"
            )
        elif r.get("what") == "restore":
            rel = RELEASE_RESTORE_MPIX if r.get("width") == r.get("height") == 1024 else None
            out.append(
                f"| restore {r['width']}×{r['height']} {r.get('variant', '')} (tile "
                f"{r.get('tile')}) | {r['preset']} | 1 | {r['precision']} | "
                f"{r.get('variant') == 'compiled'} | {_fmt(r['mpix_per_s'])} Mpix/s{_mfu(r)}"
                f"{_transfers(r)} | "
                f"{_fmt(rel) + ' Mpix/s' if rel else '—'} | {_fmt(r.get('peak_mem_gib'))} | "
                f"`{command_of.get(id(r), '')}` |"
            )
        elif r.get("what") in ("compile-fallback", "error", "suggest-batch"):
            out.append(
                f"| {r['what']} | {r.get('preset', '')} | {r.get('batch', '')} | | | "
                f"{r.get('message') or r.get('error')} | | | `{command_of.get(id(r), '')}` |"
            )
    out += ["", "## Goals (issues 4 and 10)", ""]
    main = [
        r
        for r in lines
        if r.get("what") == "train"
        and r.get("preset") == "paper"
        and r.get("batch") == 24
        and r.get("precision") == "bf16"
    ]
    if main:
        best = max(main, key=lambda r: r["images_per_s"])
        limit = CHIP_TFLOPS_BF16 * 1e3 / GFLOP_PER_SAMPLE
        out.append(
            f"- chip limit for this step ≈ {limit:.0f} img/s ({GFLOP_PER_SAMPLE:.0f} GFLOP a "
            f"sample at {CHIP_TFLOPS_BF16:.0f} TFLOP/s bf16, an H200): batch 24 runs at "
            f"{100 * best['images_per_s'] / limit:.1f} % of it"
        )
        ok_speed = best["images_per_s"] >= GOAL_TRAIN_B24
        peak = best.get("peak_mem_gib")
        ok_mem = peak is not None and peak <= RELEASE_TRAIN[24][1] / 2
        out.append(
            f"- batch 24 bf16: {best['images_per_s']:.1f} img/s (goal ≥ "
            f"{GOAL_TRAIN_B24:.0f}): {'MET' if ok_speed else 'NOT met'}; "
            f"peak {_fmt(peak, 2)} GiB (goal ≤ {RELEASE_TRAIN[24][1] / 2:.1f}): "
            f"{'MET' if ok_mem else 'NOT met'} (compile={best.get('compile')})"
        )
    else:
        out.append("- batch 24 bf16 paper: not measured")
    small = [
        r
        for r in lines
        if r.get("what") == "train"
        and r.get("preset") == "paper"
        and r.get("batch") == 3
        and r.get("precision") == "bf16"
    ]
    if small:
        best3 = max(small, key=lambda r: r["images_per_s"])
        out.append(
            f"- batch 3 bf16: {best3['images_per_s']:.1f} img/s (goal ≥ {GOAL_TRAIN_B3:.0f}): "
            f"{'MET' if best3['images_per_s'] >= GOAL_TRAIN_B3 else 'NOT met'} "
            f"(compile={_compile_cell(best3)})"
        )
    restores = [
        r
        for r in lines
        if r.get("what") == "restore"
        and r.get("preset") == "paper"
        and r.get("precision") != "fp32"
    ]
    for r in restores:
        goal = GOAL_FACTOR * RELEASE_RESTORE_MPIX
        out.append(
            f"- restore {r['width']}×{r['height']} {r['precision']}: {r['mpix_per_s']:.1f} "
            f"Mpix/s (goal ≥ {goal:.0f}): {'MET' if r['mpix_per_s'] >= goal else 'NOT met'}"
        )
    prec = next((r for r in lines if r.get("what") == "precision-summary"), None)
    if prec:
        out.append(
            f"- bf16 vs fp32 ({prec['steps']} steps, batch {prec['batch']}): final real PSNR "
            f"diff {_fmt(prec.get('psnr_diff_db'), 3)} dB (bound 0.1: "
            f"{'MET' if prec.get('psnr_ok') else 'NOT met'}); loss curves: median relative "
            f"diff {_fmt(prec.get('median_rel_diff'), 4)}, smoothed max "
            f"{_fmt(prec.get('max_rel_diff_smoothed'), 4)}"
        )
    for r in (x for x in lines if x.get("what") == "profile"):
        out += [
            "",
            f"## Where a step's time goes (torch.profiler, {r.get('preset')} batch "
            f"{r.get('batch')}, {r.get('precision')}, {r.get('clock')} time per step)",
            "",
        ]
        phases = r.get("phases_ms", {})
        out.append(
            "Phases (ms a step, CPU-side range / device kernels): "
            + ", ".join(
                f"{k.removeprefix('step.')} {v['cpu_ms']:.1f} / {_fmt(v.get('device_ms'))}"
                for k, v in phases.items()
            )
        )
        out += ["", "| op | ms/step | share | calls/step |", "| --- | --- | --- | --- |"]
        out += [
            f"| `{t['op']}` | {t['ms']:.2f} | {100 * t['share']:.1f} % | {t['calls']} |"
            for t in r.get("top", [])
        ]
    failed = [s for s in sections.values() if s.get("rc") not in (0, None) or s.get("skipped")]
    if failed:
        out += ["", "## Sections that did not finish cleanly", ""]
        out += [
            f"- {s['name']}: rc {s.get('rc')}, {s.get('skipped', '')}"
            f"{' timed out' if s.get('timed_out') else ''} (see log.txt)"
            for s in failed
        ]
    if env:
        out += ["", "## Environment", "", "```", env.strip(), "```"]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    lines = []
    for text in Path(argv[0]).read_text().splitlines():
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:
            continue  # a stray print is not a measurement
    env = Path(argv[1]).read_text() if len(argv) > 1 and Path(argv[1]).is_file() else ""
    print(summarize(lines, env), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
