"""The training step on random inputs at any batch: what ``bench`` times and what the
batch policy measures.

    probe = ProbeStep(cfg, device)
    terms = probe(24)        # one full step (forward, backward, Adam, EMA) at batch 24

It is ``step.TrainStep`` over ``parts.build_parts(cfg)``, the very step ``train``
runs; only the data differ (uniform noise, so the data pipeline is not measured).
"""

from __future__ import annotations

import torch

from .config import Config, Mode
from .device import autocast_dtype
from .diffusion.denoiser import ConditionalDenoiser
from .objective import Phase, StepTerms
from .parts import build_parts
from .step import TrainStep, to_device


class ProbeStep:
    """``probe(batch)``: one joint training step of ``cfg`` on (batch, 3, P, P) noise."""

    def __init__(
        self,
        cfg: Config,
        device: torch.device,
        *,
        compile_mode: str | None = "auto",
        compile_backend: str = "inductor",
        checkpoint: bool = False,
    ) -> None:
        t = cfg.train
        self.device, self.patch = device, t.patch
        parts = build_parts(cfg, device)
        if checkpoint and parts.objective.noise_da is not None:
            denoiser = parts.objective.noise_da.denoiser
            assert isinstance(denoiser, ConditionalDenoiser)  # what build_parts builds
            denoiser.checkpoint_full_res = True
        self.step = TrainStep(
            parts,
            device,
            autocast_dtype(t.precision, device),
            compile=t.compile,
            compile_mode=compile_mode,
            compile_backend=compile_backend,
        )
        self.generator = torch.Generator(device=device).manual_seed(0)
        self.unpaired = t.mode == Mode.NOISE_DA_UNPAIRED
        self.real_per_pair = t.real_per_pair
        self._inputs: dict[int, tuple[torch.Tensor | None, ...]] = {}

    @property
    def amp(self) -> torch.dtype | None:
        return self.step.amp

    def inputs(self, batch: int) -> tuple[torch.Tensor | None, ...]:
        """(x_s, y_s, x_r, ref) on the device, cached for one batch size at a time; x_r holds
        ``train.real_per_pair`` crops per pair, as in training."""
        if batch not in self._inputs:
            self._inputs.clear()
            shape = (batch, 3, self.patch, self.patch)
            tensors: list[torch.Tensor | None] = [
                torch.rand(shape, device=self.device) for _ in range(2)
            ]
            tensors.append(torch.rand((batch * self.real_per_pair, *shape[1:]), device=self.device))
            tensors.append(torch.rand(shape, device=self.device) if self.unpaired else None)
            self._inputs[batch] = to_device(tensors, self.device)
        return self._inputs[batch]

    def __call__(self, batch: int, lam: float = 0.1) -> StepTerms:
        return self.step(
            self.inputs(batch), lam=lam, phase=Phase.JOINT, generator=self.generator
        ).terms
