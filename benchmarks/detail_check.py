"""Does the detail check tell good runs from bad ones? Checked where the truth is known.

For each finished run folder given (the default flow's benchmark runs), the exported
weights and the last EMA weights are scored twice: against the truth, on the benchmark's
held-out real pairs (PSNR), and without it, by the detail check the app uses
(``RunMonitor.real_structure``: 6 centre crops of 192² of the run's own real photos,
``residual_structure.py``). The starting model is scored the same way. A good check
separates the runs that ended below the start from those that gained.

    python benchmarks/detail_check.py --dataset phone --split tune \\
        --runs 'runs/flowtune/*/runs/phone-*' --out benchmarks/domain_gap/DATE/detail-check
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from domain_gap import SPLITS  # noqa: E402
from provenance import collect  # noqa: E402


def _models(run: Path) -> list[tuple[str, Any]]:
    """(which, restorer): the exported weights and, when they differ, the last EMA."""
    import torch

    from noiseda_core.checkpoint import checkpoint_path, load_resume_state
    from noiseda_core.config import config_from_dict
    from noiseda_core.export import load_restorer
    from noiseda_core.starting_model import restorer_for_checkpoint

    kept = load_restorer(run / "model.safetensors")
    state = load_resume_state(run)
    last = restorer_for_checkpoint(config_from_dict(state["config"]), state, checkpoint_path(run))
    last.load_state_dict(dict(state["ema"]["shadow"]), strict=False)
    a, b = kept.state_dict(), last.state_dict()
    if all(torch.equal(a[k], b[k]) for k in a):
        return [("kept = last", kept)]
    return [("kept", kept), (f"last (step {state['step']})", last)]


def _blurred(model: Any, sigma: float) -> Any:
    """A control that wipes detail on purpose: ``model``'s output blurred by ``sigma`` px."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    radius = int(3 * sigma) + 1
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()

    class Blurred(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model
            self.pad_multiple = getattr(model, "pad_multiple", 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.inner(x)
            c = y.shape[1]
            y = F.pad(y, (radius,) * 4, mode="reflect")
            y = F.conv2d(y, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
            return F.conv2d(y, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)

    return Blurred()


def main() -> int:
    import torch

    from noiseda_core.config import load_config
    from noiseda_core.export import load_restorer
    from noiseda_core.monitor import RunMonitor

    parser = argparse.ArgumentParser(description="The detail check against the truth.")
    parser.add_argument("--dataset", required=True, help="phone or polyu (for the row labels)")
    parser.add_argument("--split", default="tune", choices=sorted(SPLITS))
    parser.add_argument("--runs", required=True, help="a glob of finished run folders")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = sorted(
        Path(p) for p in glob.glob(args.runs) if (Path(p) / "model.safetensors").is_file()
    )
    if not runs:
        print(f"no finished runs match {args.runs}", file=sys.stderr)
        return 2
    cfg = load_config(runs[0] / "config.toml")
    root = Path(cfg.data.real).parent
    from noiseda_core.config import apply_overrides

    cfg = apply_overrides(
        cfg, [f"data.val={root / SPLITS[args.split]}", "data.degradation=awgn:25"]
    )
    monitor = RunMonitor(cfg, torch.device("cpu"))  # the truth pairs, and the run's real photos

    rows: list[dict[str, Any]] = []

    def score(name: str, which: str, model: Any) -> None:
        truth = monitor.validate(model.eval(), 0)
        assert truth is not None
        rows.append(
            {
                "run": name,
                "weights": which,
                "psnr": truth.psnr,
                "structure": monitor.real_structure(model),
            }
        )
        print(
            f"{name} {which}: {truth.psnr:.2f} dB, detail {rows[-1]['structure']:+.3f}", flush=True
        )

    score("start", "built-in unet-t", load_restorer(cfg.model.init_restorer))
    for sigma in (0.7, 1.5):  # controls: the start, then detail wiped on purpose
        blurred = _blurred(load_restorer(cfg.model.init_restorer), sigma)
        score(f"control: start + {sigma:g} px blur", "built-in unet-t", blurred)
    for run in runs:
        name = f"{run.parent.parent.name}/{run.name}"
        for which, model in _models(run):
            score(name, which, model)
    start = rows[0]
    for row in rows:
        row["delta_psnr"] = row["psnr"] - start["psnr"]
        row["rise"] = row["structure"] - start["structure"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = collect("benchmarks/detail_check.py", sys.argv[1:], vars(args))
    (out / f"{args.dataset}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        f"# Detail check against the truth: {args.dataset}, {args.split} split",
        "",
        "| run | weights | Δ PSNR vs start (truth) | detail check | rise over the start |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['run']} | {r['weights']} | {r['delta_psnr']:+.2f} | {r['structure']:+.3f} "
        f"| {r['rise']:+.3f} |"
        for r in rows
    ]
    (out / f"{args.dataset}.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
