"""Training diagnostics of the diffusion loss (the ``Diagnostics`` event's numbers).

- ``HingeCounter``: how many steps since the last report had an active triplet hinge,
  accumulated on the device (no GPU sync per step), read once per report;
- ``term_grad_norms``: the norm of the gradient that reaches the restorer's weights from
  the pixel loss and from λ·L_dif, separately (two extra ``autograd.grad`` passes; only on
  logging steps).
"""

from __future__ import annotations

import torch
from torch import nn


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
