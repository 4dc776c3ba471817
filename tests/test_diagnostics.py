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
        assert d.grad_res is None and d.grad_dif is None  # no extra backward passes
    # the blind noise estimate only where the run restores anyway (validation/previews)
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


class _TrueErrorLoss(nn.Module):
    """A stand-in diffusion loss: ``sign``·‖out_r − truth‖² (+ a term on the synthetic side)."""

    def __init__(self, truth: torch.Tensor, sign: float = 1.0) -> None:
        super().__init__()
        self.truth, self.sign = truth, sign

    def forward(self, y_s, x_s, out_s, x_r, out_r, generator=None):  # noqa: ANN001
        from noiseda_core.diffusion.loss import DiffusionTerms

        real = (out_r - self.truth).square().mean()
        synthetic = (out_s - 5.0).square().mean()  # must not count: the real branch alone
        dif = self.sign * real + synthetic
        return DiffusionTerms(dif=dif, mse=dif, triplet=dif * 0, mse_neg=dif * 0)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_real_branch_cosine_is_one_for_a_loss_equal_to_the_true_error(sign: float) -> None:
    from noiseda_core.diagnostics import real_branch_cosine
    from noiseda_core.objective import JointObjective

    torch.manual_seed(0)
    restorer = nn.Conv2d(3, 3, 3, padding=1)
    x_s, y_s, x_r, clean_r = (torch.rand(2, 3, 8, 8) for _ in range(4))
    objective = JointObjective(restorer, _TrueErrorLoss(clean_r, sign))
    before = [p.detach().clone() for p in restorer.parameters()]
    cosine = real_branch_cosine(
        objective, (x_s, y_s), (x_r, clean_r), torch.Generator().manual_seed(0), draws=2
    )
    assert cosine == pytest.approx(sign, abs=1e-6)  # -1: the real branch pushes away
    assert all(p.grad is None for p in restorer.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, restorer.parameters(), strict=True))


def test_gradient_cosine_is_zero_for_terms_on_separate_weights() -> None:
    from noiseda_core.diagnostics import gradient_cosine

    a, b = nn.Linear(3, 1), nn.Linear(3, 1)
    x = torch.randn(5, 3)
    params = [*a.parameters(), *b.parameters()]
    assert gradient_cosine(a(x).square().mean(), b(x).square().mean(), params) == 0.0
    loss = a(x).square().mean() + b(x).square().mean()
    assert gradient_cosine(loss, 2 * loss, params) == pytest.approx(1.0)


def test_real_branch_cosine_runs_on_the_real_noise_da_loss() -> None:
    from noiseda_core.diagnostics import real_branch_cosine
    from noiseda_core.diffusion.loss import NoiseDALoss
    from noiseda_core.objective import JointObjective

    torch.manual_seed(0)
    restorer = nn.Conv2d(3, 3, 3, padding=1)
    denoiser = build_denoiser("tiny", 16)
    with torch.no_grad():  # its output layer starts at zero: no gradient would reach G
        for p in denoiser.parameters():
            p.add_(0.05 * torch.randn_like(p))
    objective = JointObjective(restorer, NoiseDALoss(denoiser))
    x_s, y_s, x_r, clean_r = (torch.rand(1, 3, 16, 16) for _ in range(4))
    state = torch.random.get_rng_state()
    cosines = [
        real_branch_cosine(
            objective, (x_s, y_s), (x_r, clean_r), torch.Generator().manual_seed(1), draws=1
        )
        for _ in range(2)
    ]
    assert -1.0 <= cosines[0] <= 1.0 and cosines[0] != 0.0
    assert cosines[0] == pytest.approx(cosines[1])  # seeded: the same draws
    assert torch.equal(state, torch.random.get_rng_state())  # training's randomness untouched
