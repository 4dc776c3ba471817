"""A plain fp32 Noise-DA training step, timed beside ours (``noiseda bench``'s step).

"Plain" means the straightforward way to write the same step with the same
networks from our registry: two separate denoiser forwards (positive, then
residual-swapped negative), ``torch.optim.Adam(foreach=False)``, an EMA that
loops over the parameters in Python, fp32, no channels-last, no compile. The maths
is the same as ``NoiseDALoss`` (γ, ε, channel shuffling, residual swapping,
Charbonnier + λ·½(MSE + triplet)).

    OMP_NUM_THREADS=2 python benchmarks/plain_reference.py --preset paper --batch 2 \
        --patch 128 --steps 2 --repeats 3

Each repeat times ours, then plain (interleaved, so a load change on a shared
machine hits both); prints one JSON line per timing and a summary line with the
median and the minimum of each, and ``ours_vs_plain`` = plain step time / ours
(> 1: ours is faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from noiseda_core.bench import PRESETS, time_train_step  # noqa: E402
from noiseda_core.config import Config, Precision, TrainConfig  # noqa: E402
from noiseda_core.device import describe_device, resolve_device, synchronize  # noqa: E402
from noiseda_core.diffusion import build_denoiser  # noqa: E402
from noiseda_core.diffusion.schedule import NoiseSchedule  # noqa: E402
from noiseda_core.nets import build_restorer  # noqa: E402


def charbonnier(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return torch.sqrt((a - b) ** 2 + eps * eps).mean()


class PlainStep:
    """The Noise-DA joint step written without any of our speed measures."""

    def __init__(
        self,
        preset: str,
        patch: int,
        device: torch.device,
        lr: float = 1e-4,
        margin: float = 0.1,
        ema_decay: float = 0.999,
    ) -> None:
        model = PRESETS[preset]
        self.device = device
        self.restorer = build_restorer(model.restorer).to(device)
        self.denoiser = build_denoiser(model.diffusion, patch).to(device)
        self.schedule = NoiseSchedule()
        self.margin, self.decay = margin, ema_decay
        params = list(self.restorer.parameters()) + list(self.denoiser.parameters())
        self.optimizer = torch.optim.Adam(params, lr=lr, foreach=False)
        self.ema = [p.detach().clone() for p in self.restorer.parameters()]
        self.generator = torch.Generator(device=device).manual_seed(0)

    def shuffle(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        firsts, seconds = [], []
        coins = torch.rand(a.shape[0], generator=self.generator, device=self.device)
        for i in range(a.shape[0]):
            swap = bool(coins[i] < 0.5)
            firsts.append(b[i] if swap else a[i])
            seconds.append(a[i] if swap else b[i])
        return torch.stack(firsts), torch.stack(seconds)

    def __call__(
        self, x_s: torch.Tensor, y_s: torch.Tensor, x_r: torch.Tensor, lam: float = 0.1
    ) -> torch.Tensor:
        out_s = self.restorer(x_s)
        out_r = self.restorer(x_r)
        loss_res = charbonnier(out_s, y_s)
        gamma = self.schedule.sample_gamma(
            y_s.shape[0], generator=self.generator, device=self.device
        )
        eps = torch.randn(y_s.shape, generator=self.generator, device=self.device)
        noisy = NoiseSchedule.q_sample(y_s, gamma, eps)
        c1, c2 = self.shuffle(out_s, out_r)
        pred_pos = self.denoiser(torch.cat([noisy, c1, c2], dim=1), gamma)
        n_s = x_s + (out_r - x_r)
        n_r = x_r + (out_s - x_s)
        n1, n2 = self.shuffle(n_s, n_r)
        pred_neg = self.denoiser(torch.cat([noisy, n1, n2], dim=1), gamma)
        mse = F.mse_loss(pred_pos, eps)
        mse_neg = F.mse_loss(pred_neg, eps)
        triplet = torch.clamp(mse - mse_neg + self.margin, min=0.0)
        loss = loss_res + lam * 0.5 * (mse + triplet)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            for shadow, p in zip(self.ema, self.restorer.parameters(), strict=True):
                shadow.mul_(self.decay).add_(p, alpha=1.0 - self.decay)
        return loss


def time_plain(
    preset: str, batch: int, patch: int, device: torch.device, steps: int, warmup: int
) -> dict:
    step = PlainStep(preset, patch, device)
    shape = (batch, 3, patch, patch)
    x_s, y_s, x_r = (torch.rand(shape, device=device) for _ in range(3))
    times = []
    for i in range(warmup + steps):
        synchronize(device)
        start = time.perf_counter()
        loss = step(x_s, y_s, x_r)
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    return {
        "precision": "fp32",
        "step_s": round(step_s, 5),
        "images_per_s": round(batch / step_s, 3),
        "loss": float(loss.detach()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--patch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per repeat")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="ours only (plain is always fp32)",
    )
    parser.add_argument("--impl", default="both", choices=["both", "ours", "plain"])
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    name = describe_device(device).name
    cfg = Config(
        model=PRESETS[args.preset],
        train=TrainConfig(
            batch=args.batch,
            patch=args.patch,
            precision=Precision(args.precision),
            device=args.device,
        ),
    )
    impls = ["ours", "plain"] if args.impl == "both" else [args.impl]
    seen: dict[str, list[float]] = {impl: [] for impl in impls}
    common = {
        "preset": args.preset,
        "device": name,
        "batch": args.batch,
        "patch": args.patch,
        "threads": torch.get_num_threads(),
    }
    for repeat in range(args.repeats):
        for impl in impls:
            torch.manual_seed(0)
            if impl == "ours":
                result = time_train_step(cfg, device, steps=args.steps, warmup=args.warmup)
            else:
                result = time_plain(
                    args.preset, args.batch, args.patch, device, args.steps, args.warmup
                )
            seen[impl].append(result["step_s"])
            print(
                json.dumps(
                    {
                        "what": "train",
                        "impl": impl,
                        "repeat": repeat,
                        **common,
                        **{k: result[k] for k in ("precision", "step_s", "images_per_s")},
                    }
                ),
                flush=True,
            )
    summary = {"what": "summary", **common, "repeats": args.repeats, "steps": args.steps}
    for impl, times in seen.items():
        summary[f"{impl}_median_step_s"] = round(statistics.median(times), 5)
        summary[f"{impl}_min_step_s"] = round(min(times), 5)
        summary[f"{impl}_median_images_per_s"] = round(args.batch / statistics.median(times), 4)
    if len(seen) == 2:
        summary["ours_vs_plain_median"] = round(
            statistics.median(seen["plain"]) / statistics.median(seen["ours"]), 4
        )
        summary["ours_vs_plain_min"] = round(min(seen["plain"]) / min(seen["ours"]), 4)
    from provenance import collect

    called_with = sys.argv[1:] if argv is None else argv
    summary["provenance"] = collect("benchmarks/plain_reference.py", called_with, vars(args))
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
