"""Plain-word tooltips for the training options, and people's names for config keys.

Tooltips say what an option does and when to change it, without config key names;
``human_message`` rewrites a config error ("config key train.lr: ...") with the
label the user sees on the form.
"""

from __future__ import annotations

import re

TIPS: dict[str, str] = {
    "task": "What the images suffer from. Sets a suitable learning rate.",
    "restorer": "The network that cleans your images. Bigger ones restore better and train slower.",
    "mode": (
        "Baseline learns from the synthetic pairs only. Noise-DA also looks at your real "
        "images and pulls the results towards clean-looking pictures."
    ),
    "steps": "How many training steps. More steps: better results, longer training.",
    "batch": "Image crops per step. Larger uses more memory and gives smoother training.",
    "patch": "Side of the square crops the networks see, in pixels. Larger uses more memory.",
    "lr": "How big each learning step is for the restorer. Lower it if the losses jump about.",
    "lambda_weight": (
        "How strongly the real images steer the restorer (the diffusion part). "
        "0 turns the adaptation off; 0.2 is the paper's. 1 to 2 did better on strong, "
        "blotchy phone noise but blurred milder noise away; 5 ruined the restorer."
    ),
    "lambda_ramp": (
        "How long that weight takes to grow from 0 to its value: a fraction of the "
        "steps if 1 or less, otherwise a number of steps."
    ),
    "ema_decay": (
        "The saved model is a slow running average of the weights; closer to 1 averages "
        "longer and gives a steadier model."
    ),
    "denoiser": "Size of the helper network used only during training to judge the results.",
    "warmup": (
        "Steps that train the restorer alone on the synthetic pairs before the adaptation starts."
    ),
    "pretrain": (
        "Steps that train only the helper network first (the restorer is frozen), so it "
        "can judge the restorer from the start. 0 = none."
    ),
    "denoiser_lr": "Learning step size of the helper network. 0 = the same as the restorer's.",
    "margin": (
        "How much better the helper must find real restored images than swapped ones before "
        "it stops pushing. Larger pushes longer."
    ),
    "real_per_pair": (
        "How many crops of your real images go with each synthetic pair in a "
        "step. More shows the adaptation more real detail per step, and each step "
        "takes longer."
    ),
    "precision": (
        "Number format of the arithmetic. auto picks a fast one the device supports; "
        "fp32 is slowest and safest."
    ),
    "device": "Where to train. auto picks a GPU when there is one.",
    "seed": "Starting point of the random numbers: the same seed repeats a run.",
    "workers": "Background processes that prepare image crops. 0 = none (fine on a CPU).",
    "cs": (
        "Channel shuffle: shuffles colour channels inside the helper network so it cannot "
        "cheat on colour."
    ),
    "rs": "Residual swap: also shows the helper swapped images and asks it to tell them apart.",
    "log_every": "How often (in steps) the curves get a new point.",
    "val_every": "How often (in steps) the validation pairs are measured.",
    "preview_every": "How often (in steps) the preview images are refreshed.",
    "checkpoint_every": "How often (in steps) a resume point is saved.",
}

LABELS: dict[str, str] = {  # "section.key" → the form's label
    "train.steps": "Steps",
    "train.batch": "Batch",
    "train.patch": "Patch",
    "train.lr": "Learning rate",
    "train.seed": "Seed",
    "train.ema_decay": "EMA decay",
    "train.lambda_weight": "λ weight",
    "train.lambda_ramp": "λ ramp",
    "train.margin": "Margin",
    "train.denoiser_lr": "Denoiser learning rate",
    "train.log_every": "Log every",
    "train.denoiser_pretrain_steps": "Denoiser pre-training",
    "train.real_per_pair": "Real crops per pair",
    "train.val_every": "Validate every",
    "train.preview_every": "Preview every",
    "train.checkpoint_every": "Checkpoint every",
    "train.warmup_restorer_steps": "Warm-up steps",
    "data.degradation": "Degradation",
    "data.synthetic": "Synthetic pairs",
    "data.real": "Real images",
    "data.val": "Validation pairs",
    "data.reference": "Clean references",
    "data.workers": "Data workers",
}

_KEY = re.compile(r"config key ([a-z_]+\.[a-z_]+)")


def human_message(text: str) -> str:
    """``config key train.lr: must be positive`` → ``Learning rate: must be positive``."""

    def name(match: re.Match[str]) -> str:
        key = match.group(1)
        return LABELS.get(key, key.split(".", 1)[1].replace("_", " ").capitalize())

    return _KEY.sub(name, text)
