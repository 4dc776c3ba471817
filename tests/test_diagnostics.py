"""Diagnostics of the diffusion loss, the blind noise estimate and the faithful switches."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import tiny_config, write_project
from torch import nn

from noiseda_core.checkpoint import export_run
from noiseda_core.config import Config, apply_overrides
from noiseda_core.diagnostics import HingeCounter, term_grad_norms
from noiseda_core.diffusion import build_denoiser
from noiseda_core.errors import UserError
from noiseda_core.events import Diagnostics, Validation
from noiseda_core.export import load_restorer
from noiseda_core.init_scheme import apply_init
from noiseda_core.monitor import RunMonitor
from noiseda_core.noise_level import blind_noise_sigma
from noiseda_core.train import train


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("project"))


def test_hinge_counter_reports_the_active_fraction_and_resets() -> None:
    counter = HingeCounter()
    assert counter.take() is None
    for value in (0.0, 0.3, 0.0, 0.1):
        counter.add(torch.tensor(value))
    assert counter.take() == pytest.approx(0.5)
    counter.add(torch.tensor(0.0))
    assert counter.take() == 0.0


def test_term_grad_norms_separate_the_two_terms() -> None:
    restorer, other = nn.Linear(3, 3), nn.Linear(3, 3)
    x = torch.randn(4, 3)
    res = restorer(x).square().mean()
    expected = torch.autograd.grad(res, list(restorer.parameters()), retain_graph=True)
    g_res, g_dif = term_grad_norms(res, other(x).square().mean(), restorer)
    assert g_res == pytest.approx(
        float(torch.cat([g.flatten() for g in expected]).norm()), rel=1e-5
    )
    assert g_dif == 0.0  # the second term does not touch the restorer
    _, g_both = term_grad_norms(res, 3 * res, restorer)
    assert g_both == pytest.approx(3 * g_res, rel=1e-5)


def test_noise_da_run_emits_diagnostics_on_logging_steps(project: Path, tmp_path: Path) -> None:
    cfg = tiny_config(
        project,
        "train.steps=4",
        "train.log_every=2",
        "train.lambda_ramp=0.5",
        "train.checkpoint_every=4",
        "train.val_every=4",
        "train.preview_every=4",
    )
    found = [e for e in train(cfg, tmp_path / "run") if isinstance(e, Diagnostics)]
    assert [d.step for d in found] == [2, 4]
    for d in found:
        assert 0.0 <= d.hinge_active <= 1.0
        assert d.mse_pos > 0 and d.mse_neg > 0
    # the gradient norms (two extra backward passes) and the blind noise estimate only at
    # validation/preview steps, where the run restores anyway
    assert found[0].grad_res is None and found[0].grad_dif is None
    assert found[1].grad_res > 0 and found[1].grad_dif > 0  # λ > 0 from step 1 on
    assert found[0].noise_real_input is None and found[0].noise_real_restored is None
    assert found[1].noise_real_input > 0 and found[1].noise_real_restored >= 0


def test_baseline_diagnostics_carry_only_the_noise_estimate(project: Path, tmp_path: Path) -> None:
    cfg = tiny_config(project, "train.mode=baseline", "train.steps=2", "train.val_every=1")
    found = [e for e in train(cfg, tmp_path / "run") if isinstance(e, Diagnostics)]
    assert found and all(
        d.hinge_active is None and d.grad_dif is None and d.mse_pos is None for d in found
    )
    assert all(d.noise_real_input is not None for d in found)


def test_blind_noise_estimate_grows_with_the_noise() -> None:
    gen = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0, 1, 128).repeat(3, 128, 1)
    levels = [
        blind_noise_sigma((ramp + torch.randn(ramp.shape, generator=gen) * s / 255).clamp(0, 1))
        for s in (0, 10, 30)
    ]
    assert levels[0] < 1 < levels[1] < levels[2]
    assert levels[2] == pytest.approx(15, rel=0.2)  # white noise reads σ/2 at half resolution


def test_kaiming_init_overrides_the_zero_outputs() -> None:
    x, gamma = torch.rand(2, 9, 16, 16), torch.rand(2)
    ours = apply_init(build_denoiser("tiny", 16), "ours")
    assert float(ours(x, gamma).abs().max()) == 0.0
    kaiming = apply_init(build_denoiser("tiny", 16), "kaiming")
    assert float(kaiming(x, gamma).abs().max()) > 0.0
    assert all(
        float(m.bias.abs().max()) == 0.0
        for m in kaiming.modules()
        if isinstance(m, nn.Conv2d) and m.bias is not None
    )


def test_gamma_scale_changes_the_embedding_and_is_validated() -> None:
    gamma = torch.tensor([0.2, 0.9])
    as_is, scaled = build_denoiser("tiny", 16, gamma_scale=1.0), build_denoiser("tiny", 16)
    scaled.load_state_dict(as_is.state_dict())
    assert not torch.allclose(as_is.embed(gamma), scaled.embed(gamma))
    # a config that leaves gamma_scale out trains with the authors' embedding (γ as is)
    from noiseda_core.config import ModelConfig, TrainConfig
    from noiseda_core.parts import build_parts

    cfg = Config(
        model=ModelConfig(restorer="unet-tiny", diffusion="tiny"),
        train=TrainConfig(patch=16, device="cpu", precision="fp32"),
    )
    trained = build_parts(cfg, torch.device("cpu")).objective.noise_da.denoiser
    trained.load_state_dict(as_is.state_dict())
    torch.testing.assert_close(trained.embed(gamma), as_is.embed(gamma))
    for bad in ("model.gamma_scale=0", "model.init_scheme=xavier", "train.eval_weights=best"):
        with pytest.raises(UserError):
            apply_overrides(Config(), [bad])


@pytest.mark.parametrize("weights", ["raw", "ema"])
def test_validation_scores_the_chosen_weights(project: Path, tmp_path: Path, weights: str) -> None:
    cfg = tiny_config(
        project,
        "train.mode=baseline",
        "train.steps=3",
        "train.lr=3e-3",
        "train.ema_decay=0.5",
        f"train.eval_weights={weights}",
        "train.keep_best=off",
    )  # the last weights: raw and EMA differ
    run = tmp_path / "run"
    last = [e for e in train(cfg, run) if isinstance(e, Validation)][-1]
    monitor = RunMonitor(cfg, torch.device("cpu"))
    scores = {}
    for kind in ("raw", "ema"):
        export_run(run, tmp_path / f"{kind}.safetensors", weights=kind)
        scores[kind] = monitor.validate(load_restorer(tmp_path / f"{kind}.safetensors"), 3).psnr
    assert scores["raw"] != pytest.approx(scores["ema"], abs=1e-4)
    assert last.psnr == pytest.approx(scores[weights], abs=1e-3)
