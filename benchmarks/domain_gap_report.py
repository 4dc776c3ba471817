"""Tables and curves of the domain-gap benchmark (``domain_gap.py``'s results.json)."""

from __future__ import annotations

import statistics
from pathlib import Path

Results = dict[str, dict[str, dict]]


def _mean_sd(values: list[float], signed: bool = False) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):{'+' if signed else ''}.2f} ± {sd:.2f}"


def _diag_mean(run: dict, key: str, second_half: bool = True) -> float | None:
    rows = [d[key] for d in run.get("diagnostics", []) if d.get(key) is not None]
    if second_half:
        rows = rows[len(rows) // 2 :]
    return statistics.mean(rows) if rows else None


def _cosine_mean(run: dict) -> float | None:
    """The real branch's cosine with the true error over the second half of the run."""
    rows = [c["real_cosine"] for c in run.get("real_cosine", [])]
    rows = rows[len(rows) // 2 :]
    return statistics.mean(rows) if rows else None


def summarise(results: Results) -> str:
    """Markdown: final real PSNR per variant (mean ± sd over seeds), Δ vs the baseline of the
    same seeds and vs the starting restorer (warm starts), the best point of the curve, and
    diagnostics over the second half; "real-branch cos" is the cosine between the real
    branch's update and the true error's (``real_cosine.py``; > 0: towards the truth)."""
    lines = [
        "| variant | seeds | real PSNR (dB) | real SSIM | Δ vs baseline (dB) | Δ vs start (dB) | "
        "best on curve | hinge active | real-branch cos | noise left (σ, 8-bit) | min/run |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = results.get("baseline", {})
    for variant, runs in results.items():
        seeds = sorted(runs)
        psnrs = [runs[s]["curve"][-1]["psnr"] for s in seeds]
        ssims = [runs[s]["curve"][-1]["ssim"] for s in seeds]
        best = [max(p["psnr"] for p in runs[s]["curve"]) for s in seeds]
        paired = [
            runs[s]["curve"][-1]["psnr"] - base[s]["curve"][-1]["psnr"] for s in seeds if s in base
        ]
        delta = _mean_sd(paired, signed=True) if paired and variant != "baseline" else "—"
        gained = [
            runs[s]["curve"][-1]["psnr"] - runs[s]["start"]["psnr"]
            for s in seeds
            if runs[s].get("start")
        ]
        from_start = _mean_sd(gained, signed=True) if gained else "—"
        hinge = [h for s in seeds if (h := _diag_mean(runs[s], "hinge_active")) is not None]
        cosines = [c for s in seeds if (c := _cosine_mean(runs[s])) is not None]
        noise = [n for s in seeds if (n := _diag_mean(runs[s], "noise_real_restored")) is not None]
        minutes = statistics.mean(runs[s]["seconds"] for s in seeds) / 60
        lines.append(
            f"| {variant} | {len(seeds)} | {_mean_sd(psnrs)} | {statistics.mean(ssims):.4f} "
            f"| {delta} | "
            f"{from_start} | "
            f"{statistics.mean(best):.2f} | {f'{statistics.mean(hinge):.2f}' if hinge else '—'} | "
            f"{f'{statistics.mean(cosines):+.3f}' if cosines else '—'} | "
            f"{f'{statistics.mean(noise):.2f}' if noise else '—'} | {minutes:.1f} |"
        )
    first = next(iter(next(iter(results.values())).values()))
    note = f"\nNoisy real input: {first['curve'][-1]['psnr_input']:.2f} dB."
    if first.get("start"):
        note += f" Starting restorer: {first['start']['psnr']:.2f} dB."
    return "\n".join(lines) + note


def curve_table(results: Results) -> str:
    """Markdown: mean real PSNR (± sd over seeds) of every variant at every validation step
    all its seeds reached: the budget curve as numbers."""
    steps = sorted(
        {p["step"] for runs in results.values() for r in runs.values() for p in r["curve"]}
    )
    lines = [
        "| variant | " + " | ".join(f"step {s}" for s in steps) + " |",
        "| --- |" + " --- |" * len(steps),
    ]
    for variant, runs in results.items():
        cells = []
        for step in steps:
            values = [p["psnr"] for r in runs.values() for p in r["curve"] if p["step"] == step]
            cells.append(_mean_sd(values) if len(values) == len(runs) else "—")
        lines.append(f"| {variant} ({len(runs)}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cosine_table(results: Results) -> str:
    """Markdown: the real branch's cosine with the true error at each validation step (mean
    over the seeds that have it); empty when no run has one."""
    steps = sorted(
        {
            c["step"]
            for runs in results.values()
            for r in runs.values()
            for c in r.get("real_cosine", [])
        }
    )
    if not steps:
        return ""
    lines = [
        "| variant | " + " | ".join(f"step {s}" for s in steps) + " |",
        "| --- |" + " --- |" * len(steps),
    ]
    for variant, runs in results.items():
        at = {
            step: [
                c["real_cosine"]
                for r in runs.values()
                for c in r.get("real_cosine", [])
                if c["step"] == step
            ]
            for step in steps
        }
        if any(at.values()):
            cells = [f"{statistics.mean(v):+.3f}" if (v := at[step]) else "—" for step in steps]
            lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _start_of(run: dict) -> float | None:
    """The starting restorer's PSNR: the recorded start, else the run's step-0 validation."""
    if run.get("start"):
        return run["start"]["psnr"]
    return next((p["psnr"] for p in run["curve"] if p["step"] == 0), None)


def start_delta_table(results: Results) -> str:
    """Markdown: Δ over the starting restorer at each validation step, mean ± sd and per
    seed, and whether every seed ends at or above the start (the bar for a default);
    first the inference-only rows (the start, the start with pixel-shuffle stride 2)."""
    steps = sorted(
        {p["step"] for runs in results.values() for r in runs.values() for p in r["curve"]} - {0}
    )
    lines = [
        "| row | seeds | "
        + " | ".join(f"Δ step {s} (per seed)" for s in steps)
        + " | every seed ≥ start at the last step |",
        "| --- | --- |" + " --- |" * (len(steps) + 1),
    ]
    starts = [r["start"] for runs in results.values() for r in runs.values() if r.get("start")]
    if starts:
        start, pd2 = starts[0]["psnr"], starts[0].get("psnr_pd2")
        lines.append(f"| start ({start:.2f} dB) | — |" + " — |" * (len(steps) + 1))
        if pd2 is not None:
            lines.append(
                "| start + PD 2 (inference) | — |"
                + f" {pd2 - start:+.2f} |" * len(steps)
                + f" {'yes' if pd2 >= start else 'no'} |"
            )
    for variant, runs in results.items():
        cells, last = [], []
        for step in steps:
            gains = [
                p["psnr"] - base
                for seed in sorted(runs)
                if (base := _start_of(runs[seed])) is not None
                for p in runs[seed]["curve"]
                if p["step"] == step
            ]
            if not gains:
                cells.append("—")
                continue
            per_seed = ", ".join(f"{g:+.2f}" for g in gains)
            cells.append(f"{_mean_sd(gains, signed=True)} ({per_seed})")
            last = gains
        verdict = ("yes" if min(last) >= 0 else "no") if last else "—"
        lines.append(f"| {variant} | {len(runs)} | " + " | ".join(cells) + f" | {verdict} |")
    return "\n".join(lines)


def full_report(results: Results) -> str:
    """The summary table, the budget curve as numbers, Δ over the start per seed and the
    real branch's cosines."""
    cosines = cosine_table(results)
    return (
        summarise(results)
        + "\n\nReal PSNR over steps (dB, mean ± sd of seeds):\n\n"
        + curve_table(results)
        + "\n\nΔ over the starting restorer (dB, mean ± sd, then per seed):\n\n"
        + start_delta_table(results)
        + (
            "\n\nCosine between the real branch's update and the true error's (> 0: towards"
            " the truth):\n\n" + cosines
            if cosines
            else ""
        )
    )


def plot_curves(results: Results, path: Path) -> None:
    """Mean real-domain PSNR over steps per variant, drawn with Pillow (no plotting deps)."""
    from PIL import Image, ImageDraw

    width, height, pad = 900, 500, 60
    series = {}
    # baseline black and the oracle red in every plot, whatever order the runs finished in
    first = [v for v in ("baseline", "oracle-real-pairs") if v in results]
    for variant in first + [v for v in results if v not in first]:
        runs = results[variant]
        curves = [r["curve"] for r in runs.values()]
        n = min(len(c) for c in curves)
        steps = [p["step"] for p in curves[0][:n]]
        series[variant] = (steps, [statistics.mean(c[i]["psnr"] for c in curves) for i in range(n)])
    all_x = [x for s, _ in series.values() for x in s]
    all_y = [y for _, v in series.values() for y in v]
    x0, x1, y0, y1 = 0, max(all_x), min(all_y) - 0.2, max(all_y) + 0.2
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    sx = lambda x: pad + (x - x0) / max(x1 - x0, 1) * (width - 2 * pad)  # noqa: E731
    sy = lambda y: height - pad - (y - y0) / max(y1 - y0, 1e-6) * (height - 2 * pad)  # noqa: E731
    draw.rectangle([pad, pad, width - pad, height - pad], outline="black")
    for k in range(5):
        y = y0 + (y1 - y0) * k / 4
        draw.text((5, sy(y) - 6), f"{y:.2f}", fill="black")
    draw.text(
        (width // 2 - 120, height - 30),
        f"step (0 to {x1}); y: real PSNR (dB), mean of seeds",
        fill="black",
    )
    colours = [
        "black",
        "red",
        "blue",
        "green",
        "orange",
        "purple",
        "brown",
        "magenta",
        "teal",
        "grey",
    ]
    for index, (variant, (xs, ys)) in enumerate(series.items()):
        colour = colours[index % len(colours)]
        if len(xs) > 1:
            draw.line([(sx(x), sy(y)) for x, y in zip(xs, ys, strict=True)], fill=colour, width=2)
        for x, y in zip(xs, ys, strict=True):
            draw.ellipse([sx(x) - 2, sy(y) - 2, sx(x) + 2, sy(y) + 2], fill=colour)
        draw.text((pad + 10, pad + 10 + 14 * index), variant, fill=colour)
    image.save(path)
