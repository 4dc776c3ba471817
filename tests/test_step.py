"""The one training step (``step.TrainStep``) that train, bench and the batch probe share."""

from __future__ import annotations

import torch

from noiseda_core.config import Config, ModelConfig, TrainConfig
from noiseda_core.objective import Phase
from noiseda_core.parts import build_parts
from noiseda_core.probe import ProbeStep
from noiseda_core.step import TrainStep

CPU = torch.device("cpu")
CFG = Config(
    model=ModelConfig(restorer="unet-tiny", diffusion="tiny"),
    train=TrainConfig(batch=2, patch=32, device="cpu", precision="fp32"),
)


def _inputs() -> tuple:
    torch.manual_seed(1)
    return tuple(torch.rand(2, 3, 32, 32) for _ in range(3)) + (None,)


def _weights(step: TrainStep) -> list[torch.Tensor]:
    return [p.detach().clone() for p in step.params]


def _restorer_state(step: TrainStep) -> dict[str, torch.Tensor]:
    state = step.parts.objective.restorer.state_dict()
    return {k: v.detach().clone().float() for k, v in state.items()}


def test_a_step_updates_networks_and_ema_and_reports_on_logging_steps() -> None:
    torch.manual_seed(0)
    step = TrainStep(build_parts(CFG, CPU), CPU, None)
    before, live = _weights(step), [_restorer_state(step)]
    quiet = step(_inputs(), lam=0.1, phase=Phase.JOINT, generator=None)
    live.append(_restorer_state(step))
    assert quiet.grad_norm is None and not quiet.nonfinite
    assert quiet.terms.dif is not None and quiet.terms.triplet is not None
    loud = step(_inputs(), lam=0.1, phase=Phase.JOINT, generator=None, logging_step=True)
    assert loud.grad_norm is not None and loud.grad_norm > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, _weights(step), strict=True))
    live.append(_restorer_state(step))
    # two EMA updates with the warm-up decays 1/10 and 2/11, from the initial weights
    shadow = step.parts.ema.state_dict()["shadow"]
    assert set(shadow) == {k for k, v in live[0].items() if v.is_floating_point()}
    for k in shadow:
        first = 0.1 * live[0][k] + 0.9 * live[1][k]
        torch.testing.assert_close(shadow[k], 2 / 11 * first + 9 / 11 * live[2][k])


def test_a_non_finite_loss_updates_nothing_on_a_logging_step() -> None:
    torch.manual_seed(0)
    step = TrainStep(build_parts(CFG, CPU), CPU, None)
    x_s, y_s, x_r, ref = _inputs()
    before = _weights(step)
    poisoned = (x_s * float("nan"), y_s, x_r, ref)
    result = step(poisoned, lam=0.1, phase=Phase.JOINT, generator=None, logging_step=True)
    assert result.nonfinite and step.went_nonfinite()
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(step), strict=True))


def test_bench_and_the_batch_probe_run_the_training_step() -> None:
    probe = ProbeStep(CFG, CPU)
    assert type(probe.step) is TrainStep
    terms = probe(3)
    assert probe.inputs(3)[0].shape == (3, 3, 32, 32) and torch.isfinite(terms.total)


def test_the_probe_draws_the_real_crops_training_draws() -> None:
    """train.real_per_pair = 3: the probe (bench, auto batch) steps with 3·B real crops."""
    cfg = Config(model=CFG.model, train=TrainConfig(**{**CFG.train.__dict__, "real_per_pair": 3}))
    probe = ProbeStep(cfg, CPU)
    x_s, _, x_r, _ = probe.inputs(2)
    assert x_s.shape[0] == 2 and x_r.shape[0] == 6
    assert torch.isfinite(probe(2).total)
