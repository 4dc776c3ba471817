"""The default flow's config: what the demo writes and what the app explains.

    from noiseda_core.demo_config import DEMO_CONFIG, FLOW_LAMBDA, FLOW_LR

Chosen on the tuning split of ``benchmarks/DOMAIN_GAP.md`` (section 1; the reasons are in
``docs/deviations.md``): noise fitted to the real photos, the release's λ, lr 5e-4, the
best weights kept. Plain data, no imports, so the app's start-up may read it.
"""

from __future__ import annotations

FLOW_LAMBDA = 0.2  # the release's λ w
FLOW_LR = 5e-4  # adapts within minutes on a CPU
DEMO_MINUTES = 8.0  # ends within 10 minutes on 2 CPU cores, start-up and export included
# The default flow (issue 18, chosen on the camera-like benchmark's tuning split,
# benchmarks/DOMAIN_GAP.md): synthetic noise fitted to the real photos, batch 8 of 64² at
# lr 5e-4, the release's λ w 0.2, the best weights kept (the start's included), and the
# denoiser started from the shipped one when its size ships (tiny: the CPU plan's;
# +0.21 dB over a fresh one at the flow's length, section 7).
DEMO_CONFIG = {
    "data": {"synthetic": "synthetic/target", "degradation": "fit", "real": "real",
             "val": "real_val", "cache_mb": 256},
    "model": {"restorer": "unet-t", "diffusion": "tiny", "init_restorer": "builtin:unet-t",
              "init_denoiser": "builtin:auto"},
    "train": {"mode": "noise-da", "minutes": DEMO_MINUTES, "steps": 2000, "batch": 8,
              "patch": 64, "lr": FLOW_LR, "lambda_weight": FLOW_LAMBDA, "keep_best": "auto",
              "val_every": 200, "preview_every": 100, "checkpoint_every": 500, "log_every": 10},
}  # fmt: skip
