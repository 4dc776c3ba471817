"""Training diagnostics of the diffusion loss (the ``Diagnostics`` event's numbers).

- ``HingeCounter``: how many steps since the last report had an active triplet hinge,
  accumulated on the device (no GPU sync per step), read once per report;
- ``term_grad_norms``: the norm of the gradient that reaches the restorer's weights from
  the pixel loss and from λ·L_dif, separately (two extra ``autograd.grad`` passes; only on
  logging steps).
- ``real_branch_cosine``: where a benchmark knows the truth of its real photos, the cosine
  between the update the diffusion loss gives the restorer through its real outputs alone
  and the update of the true error on the same photos (> 0: towards the truth).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from .objective import JointObjective


class HingeCounter:
    """Fraction of steps whose triplet hinge was above zero, since the last ``take``."""

    def __init__(self) -> None:
        self.active: torch.Tensor | None = None
        self.steps = 0

    def add(self, triplet: torch.Tensor) -> None:
        """``triplet`` a scalar tensor (the step's hinge); stays on its device."""
        hit = (triplet.detach() > 0).float()
        self.active = hit if self.active is None else self.active + hit
        self.steps += 1

    def take(self) -> float | None:
        """The fraction since the last call (one sync), or None if nothing was added."""
        if self.active is None or not self.steps:
            return None
        value = float(self.active) / self.steps
        self.active, self.steps = None, 0
        return value


def _norm(grads: tuple[torch.Tensor | None, ...]) -> float:
    found = [g.detach().float() for g in grads if g is not None]
    if not found:
        return 0.0
    # torch's fused multi-tensor norm has no public name (one kernel for all the tensors)
    norms = torch._foreach_norm(found)  # pyright: ignore[reportPrivateUsage, reportPrivateImportUsage]
    return float(torch.linalg.vector_norm(torch.stack(norms)))


def term_grad_norms(
    res: torch.Tensor, dif: torch.Tensor, restorer: nn.Module
) -> tuple[float, float]:
    """(‖∂res/∂θ_G‖, ‖∂dif/∂θ_G‖) for the restorer's parameters θ_G; keeps the graph.

    ``dif`` should already carry its weight (λ·L_dif), so the two norms compare what
    each term contributes to the restorer's update.
    """
    params = [p for p in restorer.parameters() if p.requires_grad]
    g_res = torch.autograd.grad(res, params, retain_graph=True, allow_unused=True)
    if not dif.requires_grad:
        return _norm(g_res), 0.0
    g_dif = torch.autograd.grad(dif, params, retain_graph=True, allow_unused=True)
    return _norm(g_res), _norm(g_dif)


def gradient_cosine(a: torch.Tensor, b: torch.Tensor, params: list[nn.Parameter]) -> float:
    """Cosine between ∂a/∂θ and ∂b/∂θ over ``params`` flattened together (0 if one is 0)."""
    g_a = torch.autograd.grad(a, params, retain_graph=True, allow_unused=True)
    g_b = torch.autograd.grad(b, params, retain_graph=True, allow_unused=True)
    dot = norm_a = norm_b = 0.0
    for x, y in zip(g_a, g_b, strict=True):
        # allow_unused gives None for an unused parameter; torch's stubs say Tensor
        x = None if x is None else x.detach().double()  # pyright: ignore[reportUnnecessaryComparison]
        y = None if y is None else y.detach().double()  # pyright: ignore[reportUnnecessaryComparison]
        if x is not None:
            norm_a += float(x.square().sum())
        if y is not None:
            norm_b += float(y.square().sum())
        if x is not None and y is not None:
            dot += float((x * y).sum())
    if norm_a == 0.0 or norm_b == 0.0:
        return 0.0
    return dot / (norm_a * norm_b) ** 0.5


def real_branch_cosine(
    objective: JointObjective,
    synthetic: tuple[torch.Tensor, torch.Tensor],
    real: tuple[torch.Tensor, torch.Tensor],
    generator: torch.Generator,
    draws: int = 4,
) -> float:
    """Cosine between the real branch's update and the true error's, for the restorer.

    ``objective`` a ``JointObjective`` with a diffusion loss; ``synthetic`` = (x_s, y_s)
    and ``real`` = (x_r, clean_r), each ``(B, 3, P, P)``, the real batch a multiple of the
    synthetic one. The diffusion loss (mean of ``draws`` draws of γ and ε from
    ``generator``) reaches the restorer through its real outputs only (the synthetic
    outputs are detached); the true error is ``‖G(x_r) − clean_r‖²``. Both are minimised,
    so a positive cosine means the real branch pushes towards the truth. Changes no
    weight, no ``.grad`` and no global random state (dropout draws are forked); a
    restorer with BatchNorm would update its running statistics (none of ours has one).
    """
    restorer, noise_da = objective.restorer, objective.noise_da
    if noise_da is None:
        raise ValueError("the real branch's cosine needs the diffusion loss (not baseline)")
    (x_s, y_s), (x_r, clean_r) = synthetic, real
    params = [p for p in restorer.parameters() if p.requires_grad]
    devices = [x_r.device] if x_r.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        with torch.no_grad():
            out_s = restorer(x_s)
        out_r = restorer(x_r)
        true_error = torch.nn.functional.mse_loss(out_r.float(), clean_r.float())
        difs = [
            noise_da(y_s, x_s, out_s, x_r, out_r, generator=generator).dif for _ in range(draws)
        ]
        return gradient_cosine(torch.stack(difs).mean(), true_error, params)
