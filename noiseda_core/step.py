"""One training step, the only one: ``train``, ``bench`` and the batch probe all run it.

    step = TrainStep(parts, device, amp=torch.bfloat16, compile=True)
    result = step(inputs, lam=0.1, phase=Phase.JOINT, generator=g, logging_step=True)
    result.terms.total, result.grad_norm, result.nonfinite

Forward under autocast; the loss's finiteness is accumulated on the device without a
sync and checked (over all ranks) only on logging steps, before anything is updated;
backward through the gradient scaler (active for fp16 only); on logging steps the
gradient norm and the diagnostics of the diffusion loss (``diagnostics.py``: the
fraction of steps with an active triplet hinge, counted on the device, and the
gradient norms reaching the restorer from each term, when asked); Adam; the EMA of the
restorer. A compiled model that fails is dropped for the eager one at its first call,
once, with a line on stderr.

Compiling: the objective is compiled whole (``fullgraph=True``) at the first call; the
noise levels, ε and the shuffle masks are drawn outside it (``StepNoise``) and λ enters
as a tensor, so a λ ramp never recompiles. ``compile_mode="auto"`` lets
``policy.compile_mode_for`` pick CUDA graphs for small batches on CUDA.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.profiler import record_function

from . import parts as layout
from .diagnostics import HingeCounter, term_grad_norms
from .diffusion.loss import StepNoise
from .objective import Phase, StepTerms
from .parts import Parts


@dataclass
class StepResult:
    """What one step gives the loop: the loss terms and, on logging steps, figures."""

    terms: StepTerms
    grad_norm: float | None = None  # logging steps: ‖∇‖ over G and D (unscaled)
    nonfinite: bool = False  # a loss went NaN/inf on some rank: nothing was updated
    diagnostics: dict[str, float] = field(default_factory=dict)  # more logging-step figures


def to_device(
    tensors: Sequence[torch.Tensor | None], device: torch.device
) -> tuple[torch.Tensor | None, ...]:
    """Batch tensors (B, 3, P, P) moved to ``device`` (channels-last where the nets are)."""
    fmt = torch.channels_last if layout.channels_last(device) else torch.contiguous_format
    return tuple(
        None if t is None else t.to(device, non_blocking=True).contiguous(memory_format=fmt)
        for t in tensors
    )


def grad_norm(parameters: Sequence[nn.Parameter]) -> float:
    """Euclidean norm of all gradients together (0 when none has one)."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.nn.utils.get_total_norm(grads))


class TrainStep:
    """The joint step over ``parts``; ``model`` is the objective, maybe wrapped in DDP."""

    def __init__(
        self,
        parts: Parts,
        device: torch.device,
        amp: torch.dtype | None,
        *,
        model: nn.Module | None = None,
        compile: bool = False,
        compile_mode: str | None = "auto",
        compile_backend: str = "inductor",
        any_rank: Callable[[bool], bool] | None = None,
    ) -> None:
        self.parts, self.device, self.amp = parts, device, amp
        self.eager: nn.Module = model if model is not None else parts.objective
        if device.type == "cuda":  # fixed shapes every step: let cuDNN pick its fastest kernels
            torch.backends.cudnn.benchmark = True
        self.compile_mode, self.compile_backend = compile_mode, compile_backend
        # compiled lazily, at the first call (the batch decides the mode; a failure shows there)
        self.model: Callable[..., Any] = self.eager
        self.compile_pending = compile
        self.compile_error: str | None = None
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp == torch.float16)
        self.params = [p for g in parts.optimizer.param_groups for p in g["params"]]
        self.finite = torch.ones((), dtype=torch.bool, device=device)  # every loss so far
        self.any_rank = any_rank or (lambda flag: flag)
        self.hinges = HingeCounter()

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    def _compile(self, batch: int) -> None:
        """Wrap the objective in ``torch.compile`` (whole graph; the mode its caller resolved
        with ``policy.compile_mode_for``: the step decides nothing)."""
        mode = None if self.compile_mode in (None, "auto", "default") else self.compile_mode
        self.compile_mode, self.compile_pending = mode, False
        # DDP splits its graph at gradient buckets on purpose: no fullgraph there
        whole = self.eager is self.parts.objective
        if self.compile_backend != "inductor":  # modes are inductor's (tests: aot_eager)
            mode = self.compile_mode = None
        self.model = torch.compile(
            self.eager, fullgraph=whole, mode=mode, backend=self.compile_backend
        )

    def draw_noise(
        self, inputs: Sequence[torch.Tensor | None], phase: Phase, generator: torch.Generator | None
    ) -> StepNoise | None:
        """The diffusion loss's random draws, made outside the (compiled) objective."""
        noise_da = self.parts.objective.noise_da
        _, y_s, x_r, _ = inputs
        if noise_da is None or phase == Phase.WARMUP_RESTORER or x_r is None or y_s is None:
            return None
        return noise_da.draw_noise_for(y_s, x_r.shape[0], generator)

    def forward(
        self,
        inputs: Sequence[torch.Tensor | None],
        lam: float,
        phase: Phase,
        generator: torch.Generator | None,
    ) -> StepTerms:
        """The loss terms; a failing compiled model is replaced by the eager one for good.

        λ goes in as a 0-dim tensor and the random draws as ``StepNoise``: a λ ramp and
        a generator neither recompile nor break the compiled graph.
        """
        x_s, y_s, x_r, ref = inputs
        if self.compile_pending:
            assert y_s is not None  # every batch has clean targets (x_s waits for later noise)
            self._compile(y_s.shape[0])
        noise = self.draw_noise(inputs, phase, generator)
        lam_t = torch.full((), float(lam), device=self.device)
        if self.compile_mode == "reduce-overhead" and self.model is not self.eager:
            torch.compiler.cudagraph_mark_step_begin()  # last step's graph outputs are done with
        try:
            with self.autocast():
                return self.model(x_s, y_s, x_r, ref, lam=lam_t, phase=phase, noise=noise)
        except Exception as exc:  # torch.compile fails in many ways; eager always works
            if self.model is self.eager or isinstance(exc, torch.OutOfMemoryError):
                raise
            self.compile_error = f"{exc.__class__.__name__}: {exc}".splitlines()[0][:300]
            print(
                f"torch.compile failed ({self.compile_error}); continuing without it",
                file=sys.stderr,
            )
            self.model = self.eager
        with self.autocast():
            return self.model(x_s, y_s, x_r, ref, lam=lam_t, phase=phase, noise=noise)

    def went_nonfinite(self) -> bool:
        """Whether any loss on any rank was NaN/inf so far (a sync: call it rarely)."""
        return self.any_rank(not bool(self.finite))

    def __call__(
        self,
        inputs: Sequence[torch.Tensor | None],
        *,
        lam: float,
        phase: Phase,
        generator: torch.Generator | None,
        logging_step: bool = False,
        diagnose: bool | None = None,
    ) -> StepResult:
        """One update from ``inputs`` = (x_s, y_s, x_r, ref), each (B, 3, P, P) in [0, 1].

        On a logging step a non-finite loss returns ``nonfinite=True`` before the
        update, so a checkpoint (always on a logging step) never holds NaN weights.
        ``diagnose``: the per-term gradient norms (two extra backward passes) on this
        logging step; off by default (they said nothing about the real branch, issue 18:
        the benchmark measures ``real_branch_cosine``, a user sees the proxy score).
        """
        opt = self.parts.optimizer
        with record_function("step.forward"):  # named ranges for ``noiseda bench --profile``
            terms = self.forward(inputs, lam, phase, generator)
            self.finite &= torch.isfinite(terms.total.detach())
        if (
            terms.mse_neg is not None
            and terms.triplet is not None
            and phase != Phase.WARMUP_RESTORER
        ):
            self.hinges.add(terms.triplet)  # on the device: no sync
        if logging_step and self.went_nonfinite():
            return StepResult(terms, nonfinite=True)
        diagnose = bool(diagnose) and logging_step
        diagnostics = self._diagnostics(terms, lam, phase, diagnose) if logging_step else {}
        with record_function("step.backward"):
            opt.zero_grad(set_to_none=True)
            self.scaler.scale(terms.total).backward()
        norm = None
        if logging_step:
            self.scaler.unscale_(opt)
            norm = grad_norm(self.params)
        with record_function("step.optimizer"):
            self.scaler.step(opt)
            self.scaler.update()
        with record_function("step.ema"):
            self.parts.ema.update(self.parts.objective.restorer)
        return StepResult(terms, grad_norm=norm, diagnostics=diagnostics)

    def _diagnostics(
        self, terms: StepTerms, lam: float, phase: Phase, grads: bool = True
    ) -> dict[str, float]:
        """Logging-step figures: hinge-active fraction since the last one, ‖∇G‖ per term.

        The per-term gradients are two extra backward passes (``autograd.grad``), only on
        logging steps asked for, and only in an eager step without DDP (DDP's hooks
        expect one backward per step; a compiled backward frees its buffers as it goes).
        """
        out: dict[str, float] = {}
        if (hinge := self.hinges.take()) is not None:
            out["hinge_active"] = hinge
        if (
            grads
            and phase == Phase.JOINT
            and lam > 0
            and terms.dif is not None
            and self.model is self.parts.objective
        ):
            out["grad_res"], out["grad_dif"] = term_grad_norms(
                terms.res, lam * terms.dif, self.parts.objective.restorer
            )
        return out


def compile_counts() -> dict[str, int]:
    """What ``torch._dynamo`` counted in this process so far: graphs compiled and graph
    breaks (``torch._dynamo.utils.counters``; ``reset_compile_counts`` starts again)."""
    from torch._dynamo.utils import counters

    return {
        "graphs": int(counters["stats"]["unique_graphs"]),
        "graph_breaks": int(sum(counters["graph_break"].values())),
    }


def reset_compile_counts() -> None:
    """Start ``compile_counts`` from zero (and forget compiled code: a fresh compile)."""
    import torch._dynamo

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
