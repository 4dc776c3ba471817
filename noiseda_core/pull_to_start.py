"""A pull toward the starting restorer's weights against forgetting (L2-SP).

    pull = PullToStart(restorer, weight=0.01)      # remembers the weights it is given
    loss = loss + pull(restorer)                   # + weight · ‖θ − θ_start‖²

Li, Grandvalet and Davoine, "Explicit inductive bias for transfer learning with
convolutional networks" (ICML 2018) call this L2-SP: the penalty's pull grows with the
distance from the start, so an adaptation keeps what the start knew unless the loss pays
for leaving it. The starting weights are buffers of this module: they travel in the
training objective's state (checkpoints), so a resumed run pulls toward the same start.
"""

from __future__ import annotations

import torch
from torch import nn


class PullToStart(nn.Module):
    """``weight · Σ (θ − θ_start)²`` over the restorer's trainable parameters."""

    def __init__(self, restorer: nn.Module, weight: float) -> None:
        super().__init__()
        self.weight = float(weight)
        trainable = [(n, p) for n, p in restorer.named_parameters() if p.requires_grad]
        self.names = [name for name, _ in trainable]
        for index, (_, param) in enumerate(trainable):
            self.register_buffer(f"start_{index}", param.detach().clone().float())

    def starts(self) -> list[torch.Tensor]:
        return [getattr(self, f"start_{i}") for i in range(len(self.names))]

    def forward(self, restorer: nn.Module) -> torch.Tensor:
        """The penalty (a scalar tensor, fp32) for ``restorer``'s current weights."""
        params = dict(restorer.named_parameters())
        distances = [
            (params[name].float() - start).square().sum()
            for name, start in zip(self.names, self.starts(), strict=True)
        ]
        return self.weight * torch.stack(distances).sum()
