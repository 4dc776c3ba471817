"""The training step compiles whole (issue 19): no graph break, no recompile over a λ
ramp, the compiled loss equal to the eager one; the compile mode and checkpointing
decisions. ``aot_eager`` runs Dynamo and AOTAutograd exactly as inductor does (the
graph breaks and recompiles are theirs) without generating C++, so the tests stay fast."""

from __future__ import annotations

import copy

import pytest
import torch

from noiseda_core.diffusion.denoiser import ConditionalDenoiser, DenoiserSize
from noiseda_core.diffusion.loss import NoiseDALoss
from noiseda_core.ema import EMA
from noiseda_core.nets import build_restorer
from noiseda_core.objective import JointObjective, Phase
from noiseda_core.parts import Parts
from noiseda_core.policy import CUDA_GRAPH_MAX_BATCH, compile_mode_for, wants_checkpointing
from noiseda_core.step import TrainStep, compile_counts, reset_compile_counts

CPU = torch.device("cpu")
SMALL = DenoiserSize(8, (1, 2), 1, 0.0, 4, head_channels=8)


def _parts(seed: int = 0) -> Parts:
    """The smallest joint objective that has every part: restorer, denoiser with attention."""
    torch.manual_seed(seed)
    restorer = build_restorer("unet-tiny", base=4, depth=2)
    objective = JointObjective(restorer, NoiseDALoss(ConditionalDenoiser(SMALL)))
    optimizer = torch.optim.Adam(objective.parameters(), lr=1e-3, foreach=True)
    return Parts(objective, optimizer, EMA(restorer), copy.deepcopy(restorer))


def _inputs() -> tuple:
    g = torch.Generator().manual_seed(1)
    return tuple(torch.rand(2, 3, 8, 8, generator=g) for _ in range(3)) + (None,)


LAMBDAS = (0.0, 0.05, 0.13, 0.2)  # a λ ramp: a new value every step


def _losses(step: TrainStep) -> list[float]:
    g = torch.Generator().manual_seed(7)
    return [
        float(step(_inputs(), lam=lam, phase=Phase.JOINT, generator=g).terms.total.detach())
        for lam in LAMBDAS
    ]


def test_the_step_compiles_whole_once_over_a_lambda_ramp_and_matches_eager() -> None:
    reset_compile_counts()
    compiled = TrainStep(_parts(), CPU, None, compile=True, compile_backend="aot_eager")
    got = _losses(compiled)
    counts = compile_counts()
    assert compiled.compile_error is None  # fullgraph=True: a break would have raised
    assert counts == {"graphs": 1, "graph_breaks": 0}  # one graph: no recompile
    want = _losses(TrainStep(_parts(), CPU, None))
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)  # after three updates too


def test_drawing_outside_the_objective_keeps_the_generators_stream() -> None:
    """The eager step with pre-drawn noise is the old in-loss draw, value for value."""
    parts = _parts()
    x_s, y_s, x_r, _ = _inputs()
    inside = parts.objective(x_s, y_s, x_r, lam=0.1, generator=torch.Generator().manual_seed(3))
    noise = parts.objective.noise_da.draw_noise_for(y_s, len(x_r), torch.Generator().manual_seed(3))
    outside = parts.objective(x_s, y_s, x_r, lam=torch.tensor(0.1), noise=noise)
    assert float(outside.total.detach()) == float(inside.total.detach())


def test_compile_mode_uses_cuda_graphs_for_small_cuda_batches_only() -> None:
    cuda = torch.device("cuda")
    assert compile_mode_for(cuda, 3) == "reduce-overhead"
    assert compile_mode_for(cuda, CUDA_GRAPH_MAX_BATCH) == "reduce-overhead"
    assert compile_mode_for(cuda, 24) is None
    assert compile_mode_for(CPU, 3) is None  # CUDA graphs exist only on CUDA
    assert compile_mode_for(CPU, 3, "reduce-overhead") is None
    assert compile_mode_for(cuda, 24, "reduce-overhead") == "reduce-overhead"
    assert compile_mode_for(cuda, 3, "default") is None
    with pytest.raises(ValueError):
        compile_mode_for(cuda, 3, "fastest")


def test_checkpointing_only_when_a_measured_peak_exceeds_the_budget() -> None:
    assert wants_checkpointing(20e9, 16.5e9)
    assert not wants_checkpointing(12e9, 16.5e9)
    assert not wants_checkpointing(20e9, None)


def test_checkpointed_denoiser_gives_the_same_loss_and_gradients() -> None:
    parts = _parts()
    x_s, y_s, x_r, _ = _inputs()

    def run(checkpointed: bool) -> tuple[float, list[torch.Tensor]]:
        parts.objective.noise_da.denoiser.checkpoint_full_res = checkpointed
        parts.objective.zero_grad()
        total = parts.objective(
            x_s, y_s, x_r, lam=0.2, generator=torch.Generator().manual_seed(3)
        ).total
        total.backward()
        return float(total), [p.grad.clone() for p in parts.objective.parameters()]

    loss_plain, grads_plain = run(False)
    loss_ckpt, grads_ckpt = run(True)
    assert loss_ckpt == loss_plain
    for a, b in zip(grads_plain, grads_ckpt, strict=True):
        torch.testing.assert_close(a, b)
