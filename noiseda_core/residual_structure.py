"""Does a restorer wipe image detail off the real photos? A check with no ground truth.

On a real photo, what a denoiser removes (the residual, input − output) should be noise:
its local energy should not follow the picture. A restorer that smooths detail away
leaves that detail in the residual, and the residual's energy then rises wherever the
output has edges. The score is that coupling:

    score = residual_structure(noisy, restored)   # (3, H, W) each in [0, 1] → [-1, 1]

the correlation, over pixels, between the residual's local energy and the output's local
gradient magnitude (both averaged over ``WINDOW``×``WINDOW`` pixels, channels pooled).
About 0 or below: the residual looks like noise. Clearly above the start's own score:
the restorer removes structure the start kept. The check is blunter under strong noise,
where the noise's energy dilutes the detail's in the residual (a 2.5 px blur of a photo
scores about +0.5 at σ 5 levels, +0.3 at 16 and +0.2 at 25).

Checked against the truth before use (``benchmarks/DOMAIN_GAP.md`` section 7): on the
camera-like benchmark the runs that lost 0.5–1.1 dB below their start scored +0.55 and
+0.62, every run that gained scored −0.12 to +0.09, and the start −0.04.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: the app's start reads the rule only
    import torch

WINDOW = 7
MIN_SIDE = 32  # smaller images say too little
MAX_RISE = 0.3  # a rise over the start's score beyond this marks weights that wipe detail


def _local_mean(x: torch.Tensor) -> torch.Tensor:
    """Box average of ``(H, W)`` over ``WINDOW``² (valid part only)."""
    import torch.nn.functional as F

    return F.avg_pool2d(x[None, None], WINDOW, stride=1)[0, 0]


def residual_structure(noisy: torch.Tensor, restored: torch.Tensor) -> float:
    """Correlation of the residual's local energy with the output's local gradient.

    ``noisy``, ``restored``: ``(3, H, W)`` (or ``(C, H, W)``) in [0, 1], H, W > ``WINDOW``.
    """
    residual = (noisy - restored).double()
    out = restored.double().mean(0)
    gradient = (out[:, 1:] - out[:, :-1]).abs()[:-1] + (out[1:] - out[:-1]).abs()[:, :-1]
    energy = (residual * residual).mean(0)[:-1, :-1]
    a, b = _local_mean(gradient).flatten(), _local_mean(energy).flatten()
    a, b = a - a.mean(), b - b.mean()
    denominator = float(a.norm() * b.norm())
    return float((a * b).sum()) / denominator if denominator > 0 else 0.0


def mean_structure(noisy: list[torch.Tensor], restored: list[torch.Tensor]) -> float | None:
    """``residual_structure`` averaged over pairs of images (same order); images smaller
    than ``MIN_SIDE`` are left out (None when nothing is left)."""
    scores = [
        residual_structure(x, y)
        for x, y in zip(noisy, restored, strict=True)
        if min(x.shape[-2:]) >= MIN_SIDE
    ]
    return sum(scores) / len(scores) if scores else None


def wipes_detail(score: float, start_score: float | None) -> bool:
    """Whether ``score`` rose beyond ``MAX_RISE`` over the starting model's."""
    return start_score is not None and score > start_score + MAX_RISE


__all__ = ["MAX_RISE", "MIN_SIDE", "WINDOW", "mean_structure", "residual_structure", "wipes_detail"]
