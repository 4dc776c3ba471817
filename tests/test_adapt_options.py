"""Issue 18 item 5's adaptation options: each a config key, off by default.

Real-branch pixel-shuffle down-sampling in training (``train.real_pd``), a pull toward
the starting weights (``train.pull_to_start``), noise steps up to ``train.max_noise_step``
with min-SNR weighting (``train.snr_weight``), a starting denoiser read with safetensors
(``model.init_denoiser``).
"""

from __future__ import annotations

import pickle
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from noiseda_core.config import Config, ModelConfig, TrainConfig, apply_overrides
from noiseda_core.denoiser_start import save_denoiser
from noiseda_core.diffusion import NoiseSchedule
from noiseda_core.diffusion.loss import NoiseDALoss, StepNoise
from noiseda_core.diffusion.schedule import min_snr_weight
from noiseda_core.errors import UserError
from noiseda_core.objective import Phase
from noiseda_core.parts import build_parts
from noiseda_core.pixel_shuffle import from_sub_images, to_sub_images

CPU = torch.device("cpu")
CFG = Config(
    model=ModelConfig(restorer="unet-tiny", diffusion="tiny"),
    train=TrainConfig(batch=2, patch=32, device="cpu", precision="fp32"),
)


def _with(**train: object) -> Config:
    return replace(CFG, train=replace(CFG.train, **train))


def _batch(n: int = 2, size: int = 32) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(3)
    return tuple(torch.rand(n, 3, size, size) for _ in range(3))


# ----------------------------------------------------------------------------- defaults


def test_every_option_is_off_by_default_so_the_release_step_is_unchanged() -> None:
    objective = build_parts(CFG, CPU).objective
    assert objective.real_pd == 0 and objective.pull is None
    assert objective.noise_da.schedule.t_range == (1, 999)
    assert objective.noise_da.snr_weight == 0.0
    assert CFG.model.init_denoiser == ""


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("train.real_pd", "5", "stride 2 to 4"),
        ("train.pull_to_start", "-1", "0 (off) or more"),
        ("train.snr_weight", "-2", "0 (off) or more"),
        ("train.max_noise_step", "1001", "1 to 1000"),
    ],
)
def test_out_of_range_options_are_refused_naming_the_key(key, value, words) -> None:
    with pytest.raises(UserError, match=re.escape(key) + ".*" + re.escape(words)):
        apply_overrides(Config(), [f"{key}={value}"])


def test_real_pd_needs_a_patch_the_stride_divides() -> None:
    with pytest.raises(UserError, match="train.patch 30 is not a multiple of the stride 4"):
        apply_overrides(Config(), ["train.patch=30", "train.real_pd=4"])


# ----------------------------------------------------------------------------- a) real PD


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(1, 5),
    st.integers(1, 5),
    st.integers(2, 4),
)
def test_sub_images_are_every_stride_th_pixel_and_reassemble_exactly(b, c, h, w, stride) -> None:
    x = torch.rand(b, c, h * stride, w * stride)
    subs = to_sub_images(x, stride)
    assert subs.shape == (b * stride * stride, c, h, w)
    for i in range(b):
        for dy in range(stride):
            for dx in range(stride):
                sub = subs[i * stride * stride + dy * stride + dx]
                assert torch.equal(sub, x[i, :, dy::stride, dx::stride])
    assert torch.equal(from_sub_images(subs, stride), x)


class ShapeRecorder(nn.Module):
    """A restorer that records the shapes it sees and doubles its input (shape-blind)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(x.shape))
        return x * self.scale


def test_with_real_pd_the_restorer_sees_real_crops_as_sub_images_put_back_in_place() -> None:
    parts = build_parts(_with(real_pd=2), CPU, restorer=ShapeRecorder())
    objective, restorer = parts.objective, parts.objective.restorer
    x_s, y_s, x_r = _batch()
    out_s, out_r = objective._restore_both(x_s, x_r)
    assert (2, 3, 32, 32) in restorer.shapes and (8, 3, 16, 16) in restorer.shapes
    assert torch.allclose(out_r, 2 * x_r) and torch.allclose(out_s, 2 * x_s)
    terms = objective(x_s, y_s, x_r, lam=0.1, phase=Phase.JOINT, generator=torch.Generator())
    terms.total.backward()  # the diffusion loss reaches the restorer through the sub-images
    assert restorer.scale.grad is not None and torch.isfinite(restorer.scale.grad)


# ----------------------------------------------------------------------------- b) pull to start


def test_the_pull_is_weight_times_squared_distance_from_the_starting_weights() -> None:
    parts = build_parts(_with(pull_to_start=0.5, mode="baseline"), CPU)
    objective = parts.objective
    x_s, y_s, x_r = _batch()
    plain = objective(x_s, y_s, x_r, phase=Phase.WARMUP_RESTORER)
    assert torch.allclose(plain.total, plain.res)  # at the start the pull is zero
    with torch.no_grad():
        for p in objective.restorer.parameters():
            p.add_(0.01)
    n = sum(p.numel() for p in objective.restorer.parameters())
    moved = objective(x_s, y_s, x_r, phase=Phase.WARMUP_RESTORER)
    assert moved.total.item() == pytest.approx(moved.res.item() + 0.5 * n * 1e-4, rel=1e-4)


def test_the_pull_alone_moves_the_weights_back_toward_the_start() -> None:
    pull_cfg = _with(pull_to_start=1.0, mode="baseline", lr=1e-3)
    objective = build_parts(pull_cfg, CPU).objective
    start = [p.detach().clone() for p in objective.restorer.parameters()]
    with torch.no_grad():
        for p in objective.restorer.parameters():
            p.add_(0.05)
    before = sum(
        (p - s).square().sum() for p, s in zip(objective.restorer.parameters(), start, strict=True)
    )
    opt = torch.optim.SGD(objective.restorer.parameters(), lr=0.1)
    opt.zero_grad()
    objective.pull(objective.restorer).backward()
    opt.step()
    after = sum(
        (p - s).square().sum() for p, s in zip(objective.restorer.parameters(), start, strict=True)
    )
    assert after < 0.7 * before


def test_a_resumed_objective_pulls_toward_the_first_start_not_its_own_weights() -> None:
    first = build_parts(_with(pull_to_start=0.1, mode="baseline"), CPU).objective
    start = [p.detach().clone() for p in first.restorer.parameters()]
    with torch.no_grad():
        for p in first.restorer.parameters():
            p.add_(0.02)
    state = first.state_dict()  # what a checkpoint keeps
    torch.manual_seed(99)  # a different fresh restorer, as a resume builds before loading
    resumed = build_parts(_with(pull_to_start=0.1, mode="baseline"), CPU).objective
    resumed.load_state_dict(state)
    for kept, original in zip(resumed.pull.starts(), start, strict=True):
        assert torch.equal(kept, original)


# ----------------------------------------------------------------------------- c) t ≤ 300, SNR


def test_max_noise_step_draws_only_noise_levels_up_to_that_step() -> None:
    noise_da = build_parts(_with(max_noise_step=300), CPU).objective.noise_da
    assert noise_da.schedule.t_range == (1, 300)
    gamma = noise_da.schedule.sample_gamma(4000, generator=torch.Generator().manual_seed(0))
    floor = float(NoiseSchedule().gammas[300])
    assert float(gamma.min()) >= floor - 1e-6
    assert float(gamma.min()) < floor + 0.01  # and reaches down to it


def test_min_snr_weights_are_one_below_k_and_k_over_snr_above() -> None:
    gamma = torch.tensor([0.5, 0.8, 0.9, 0.99])  # SNR 1, 4, 9, 99
    weights = min_snr_weight(gamma, 5.0)
    assert torch.allclose(weights, torch.tensor([1.0, 1.0, 5 / 9, 5 / 99]), rtol=1e-4)


class ConstantDenoiser(nn.Module):
    """Predicts zeros: the per-sample MSE is then the mean of ε²."""

    def forward(self, x: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x[:, :3])


def test_snr_weighting_weights_each_samples_mse_of_the_diffusion_loss() -> None:
    loss = NoiseDALoss(ConstantDenoiser(), residual_swap=False, channel_shuffle=False, snr_weight=5)
    y, x, out = _batch(n=3, size=8)
    gamma = torch.tensor([0.5, 0.9, 0.99])
    eps = torch.randn(3, 3, 8, 8)
    terms = loss(y, x, out, x, out, noise=StepNoise(gamma, eps))
    per_sample = eps.square().mean(dim=(1, 2, 3))
    expected = (torch.tensor([1.0, 5 / 9, 5 / 99]) * per_sample).mean()
    assert terms.mse.item() == pytest.approx(expected.item(), rel=1e-4)
    plain = NoiseDALoss(ConstantDenoiser(), residual_swap=False, channel_shuffle=False)
    unweighted = plain(y, x, out, x, out, noise=StepNoise(gamma, eps))
    assert unweighted.mse.item() == pytest.approx(per_sample.mean().item(), rel=1e-4)


# ----------------------------------------------------------------------------- d) a starting D


def test_a_saved_denoiser_is_the_next_runs_starting_denoiser(tmp_path: Path) -> None:
    made = build_parts(CFG, CPU).objective.noise_da.denoiser
    with torch.no_grad():
        for p in made.parameters():
            p.normal_()
    path = tmp_path / "d.safetensors"
    save_denoiser(path, made, size="tiny", gamma_scale=1.0, note="test")
    cfg = apply_overrides(CFG, [f"model.init_denoiser={path}"])
    loaded = build_parts(cfg, CPU).objective.noise_da.denoiser
    for a, b in zip(made.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_denoiser_of_another_size_is_refused_naming_the_file(tmp_path: Path) -> None:
    made = build_parts(CFG, CPU).objective.noise_da.denoiser
    path = tmp_path / "d.safetensors"
    save_denoiser(path, made, size="tiny", gamma_scale=1.0)
    cfg = apply_overrides(CFG, ["model.diffusion=small", f"model.init_denoiser={path}"])
    with pytest.raises(
        UserError, match=r"d\.safetensors: a 'tiny' denoiser.*model\.diffusion=tiny"
    ):
        build_parts(cfg, CPU)


class Bomb:
    """Unpickling this would run code: the loader must never do that."""

    def __reduce__(self):  # pragma: no cover - must never run
        return (exec, ("raise SystemExit('unpickled')",))


def test_a_pickle_is_never_unpickled_but_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "d.safetensors"
    path.write_bytes(pickle.dumps(Bomb()))
    cfg = apply_overrides(CFG, [f"model.init_denoiser={path}"])
    with pytest.raises(UserError, match="not a readable safetensors file.*pretrain_denoiser"):
        build_parts(cfg, CPU)


def test_a_missing_denoiser_file_or_builtin_name_is_refused(tmp_path: Path) -> None:
    cfg = apply_overrides(CFG, [f"model.init_denoiser={tmp_path / 'none.safetensors'}"])
    with pytest.raises(UserError, match="file not found"):
        build_parts(cfg, CPU)
    cfg = apply_overrides(CFG, ["model.init_denoiser=builtin:nonesuch"])
    with pytest.raises(UserError, match="no such built-in denoiser"):
        build_parts(cfg, CPU)


def test_the_shipped_denoiser_is_small_and_starts_the_tiny_denoiser() -> None:
    from noiseda_core.denoiser_start import resolve_denoiser

    path = resolve_denoiser("builtin:tiny")
    assert (
        path is not None and path.stat().st_size < 4_000_000
    )  # a few MB at most, like the shipped restorers
    fresh = build_parts(CFG, CPU).objective.noise_da.denoiser
    cfg = apply_overrides(CFG, ["model.init_denoiser=builtin:tiny"])
    shipped = build_parts(cfg, CPU).objective.noise_da.denoiser
    fresh_state, shipped_state = fresh.state_dict(), shipped.state_dict()
    assert any(not torch.equal(fresh_state[k], shipped_state[k]) for k in fresh_state)


def test_pretraining_trains_only_the_denoiser_for_the_whole_run() -> None:
    from pretrain_denoiser import pretrain_overrides

    from noiseda_core.train import phase_at

    cfg = apply_overrides(Config(), pretrain_overrides(40, 0, "tiny"))
    assert {phase_at(step, cfg) for step in range(cfg.train.steps)} == {Phase.PRETRAIN_DENOISER}
    assert cfg.train.keep_best.value == "off" and cfg.data.val == ""


def test_builtin_auto_starts_from_the_shipped_denoiser_of_the_runs_size_only() -> None:
    from noiseda_core.denoiser_start import starting_denoiser_name

    shipped = apply_overrides(CFG, ["model.init_denoiser=builtin:tiny"])
    auto = apply_overrides(CFG, ["model.init_denoiser=builtin:auto"])
    a = build_parts(shipped, CPU).objective.noise_da.denoiser.state_dict()
    b = build_parts(auto, CPU).objective.noise_da.denoiser.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # tiny: the shipped one
    assert "the shipped 'tiny' denoiser" in starting_denoiser_name("builtin:auto", "tiny")
    # no 'small' one ships: initialised as model.init_scheme says, not refused
    small = apply_overrides(CFG, ["model.diffusion=small"])
    torch.manual_seed(0)
    fresh = build_parts(small, CPU).objective.noise_da.denoiser.state_dict()
    small_auto = apply_overrides(small, ["model.init_denoiser=builtin:auto"])
    torch.manual_seed(0)
    made = build_parts(small_auto, CPU).objective.noise_da.denoiser.state_dict()
    assert all(torch.equal(fresh[k], made[k]) for k in fresh)
    assert "no 'small' denoiser is shipped" in starting_denoiser_name("builtin:auto", "small")
