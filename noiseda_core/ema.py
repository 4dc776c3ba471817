"""Exponential moving average of a module's weights, one fused foreach call per update.

    ema = EMA(restorer, decay=0.9999)
    ema.update(restorer)          # after each optimizer step
    ema.copy_to(eval_restorer)

The effective decay warms up as min(decay, (1 + n) / (10 + n)) after n updates, so a
short run's EMA is not dominated by the random initial weights (with a fixed 0.9999
the EMA of a 2,000-step run would still be ≈ 82 % initialisation).
"""

from __future__ import annotations

import torch
from torch import nn


class EMA:
    """Shadow copies (fp32) of a module's floating-point parameters and buffers."""

    def __init__(self, module: nn.Module, decay: float = 0.9999) -> None:
        self.decay = decay
        self.updates = 0
        self.shadow: dict[str, torch.Tensor] = {
            name: t.detach().clone().float()
            for name, t in module.state_dict().items()
            if t.is_floating_point()
        }

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        state = module.state_dict()
        names = list(self.shadow)
        live = [state[n].detach().float() for n in names]
        shadows = [self.shadow[n] for n in names]
        # torch's fused multi-tensor lerp has no public name (one kernel for all the tensors)
        torch._foreach_lerp_(shadows, live, 1.0 - self.current_decay())  # pyright: ignore[reportPrivateUsage, reportPrivateImportUsage]
        self.updates += 1

    @torch.no_grad()
    def copy_to(self, module: nn.Module) -> None:
        """Load the averaged weights into ``module`` (same architecture)."""
        state = module.state_dict()
        for name, value in self.shadow.items():
            state[name].copy_(value)

    def state_dict(self) -> dict[str, object]:
        return {"decay": self.decay, "updates": self.updates, "shadow": dict(self.shadow)}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.decay = float(state["decay"])  # type: ignore[arg-type]
        self.updates = int(state["updates"])  # type: ignore[arg-type]
        shadow = state["shadow"]
        assert isinstance(shadow, dict)
        for name, value in shadow.items():
            self.shadow[name].copy_(value)
