"""The Noise-DA losses: Charbonnier, the λ ramp, channel shuffling, residual swapping, L_dif."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from noiseda_core.config import Mode
from noiseda_core.diffusion import NoiseSchedule, build_denoiser
from noiseda_core.diffusion.loss import (
    NoiseDALoss,
    charbonnier,
    lambda_at,
    shuffle_pair,
    swap_residuals,
)


class Recorder(nn.Module):
    """Stand-in denoiser: records inputs, predicts ``value`` (first B) / ``neg_value`` (rest)."""

    def __init__(self, value: float = 0.0, neg_value: float = 0.0) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.value, self.neg_value = value, neg_value

    def forward(self, x: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        self.calls.append((x.detach().clone(), gamma.detach().clone()))
        out = torch.full_like(x[:, :3], self.value)
        if self.neg_value != self.value:  # only used with the batched 2B forward
            out[x.shape[0] // 2 :] = self.neg_value
        return out


class TinyRestorer(nn.Module):
    """out = x + conv(x)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


def _batch(b: int = 3, size: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    y_s = torch.rand(b, 3, size, size, generator=g)
    x_s = (y_s + 0.1 * torch.randn(b, 3, size, size, generator=g)).clamp(0, 1)
    x_r = torch.rand(b, 3, size, size, generator=g)
    out_s = x_s + 0.05 * torch.randn(b, 3, size, size, generator=g)
    out_r = x_r + 0.05 * torch.randn(b, 3, size, size, generator=g)
    return y_s, x_s, out_s, x_r, out_r


# --------------------------------------------------------------------------- small pieces


def test_charbonnier():
    a, b = torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    b[0, 0, 0, 0] = 0.5
    n = a.numel()
    expected = ((n - 1) * 1e-3 + math.sqrt(0.25 + 1e-6)) / n
    assert charbonnier(a, b).item() == pytest.approx(expected, rel=1e-5)
    assert charbonnier(a, a, eps=0.1).item() == pytest.approx(0.1)


def test_lambda_ramp():
    end = 0.2 * (2 / (1 + math.exp(-5)) - 1)
    assert lambda_at(0, 100) == 0.0
    assert lambda_at(100, 100) == pytest.approx(end)
    assert end == pytest.approx(0.1973, abs=1e-4)
    assert lambda_at(1000, 100) == pytest.approx(end)
    assert 0 < lambda_at(30, 100) < lambda_at(60, 100) < end
    assert lambda_at(50, 100, weight=1.0) == pytest.approx(2 / (1 + math.exp(-2.5)) - 1)
    assert lambda_at(5, 0) == pytest.approx(end)


def test_shuffle_pair_swaps_whole_blocks_per_sample():
    a = torch.arange(4 * 3 * 2 * 2, dtype=torch.float32).view(4, 3, 2, 2)
    b = -a - 1
    mask = torch.tensor([False, True, True, False])
    c1, c2 = shuffle_pair(a, b, mask)
    for i, m in enumerate(mask.tolist()):
        assert torch.equal(c1[i], b[i] if m else a[i])  # whole block, RGB order kept
        assert torch.equal(c2[i], a[i] if m else b[i])


def test_swap_residuals():
    _, x_s, out_s, x_r, out_r = _batch()
    n_s, n_r = swap_residuals(x_s, out_s, x_r, out_r)
    assert torch.allclose(n_s, x_s + (out_r - x_r))
    assert torch.allclose(n_r, x_r + (out_s - x_s))


def test_baseline_mode_builds_no_loss():
    with pytest.raises(ValueError):
        NoiseDALoss(Recorder(), mode=Mode.BASELINE)


# --------------------------------------------------------------------------- the step


def test_denoiser_inputs_with_shuffling_and_negatives():
    y_s, x_s, out_s, x_r, out_r = _batch(b=4)
    rec = Recorder()
    loss = NoiseDALoss(rec, Mode.NOISE_DA, channel_shuffle=True, residual_swap=True)
    seen_orders = set()
    for seed in range(6):
        rec.calls.clear()
        loss(y_s, x_s, out_s, x_r, out_r, generator=torch.Generator().manual_seed(seed))
        assert len(rec.calls) == 1  # one batched forward of 2B
        x, gamma = rec.calls[0]
        assert x.shape == (8, 9, 16, 16)
        pos, neg = x[:4], x[4:]
        assert torch.equal(pos[:, :3], neg[:, :3])  # same ỹ
        assert torch.equal(gamma[:4], gamma[4:])  # same γ
        n_s, n_r = swap_residuals(x_s, out_s, x_r, out_r)
        for i in range(4):
            pos_swapped = torch.equal(pos[i, 3:6], out_r[i])
            assert torch.equal(pos[i, 3:6], out_r[i] if pos_swapped else out_s[i])
            assert torch.equal(pos[i, 6:9], out_s[i] if pos_swapped else out_r[i])
            neg_swapped = torch.allclose(neg[i, 3:6], n_r[i])
            assert torch.allclose(neg[i, 3:6], n_r[i] if neg_swapped else n_s[i])
            assert torch.allclose(neg[i, 6:9], n_s[i] if neg_swapped else n_r[i])
            seen_orders.add((pos_swapped, neg_swapped))
    assert len(seen_orders) == 4  # independent masks: all four combinations occur


def test_no_shuffle_keeps_the_order_and_no_swap_means_no_negatives():
    y_s, x_s, out_s, x_r, out_r = _batch()
    rec = Recorder(value=0.0)
    loss = NoiseDALoss(rec, Mode.NOISE_DA, channel_shuffle=False, residual_swap=False)
    g = torch.Generator().manual_seed(1)
    terms = loss(y_s, x_s, out_s, x_r, out_r, generator=g)
    assert len(rec.calls) == 1
    x, gamma = rec.calls[0]
    assert x.shape[0] == 3
    assert torch.equal(x[:, 3:6], out_s) and torch.equal(x[:, 6:9], out_r)
    # ỹ = √γ y_s + √(1−γ) ε with the draws in the documented order
    g = torch.Generator().manual_seed(1)
    gamma_ref = NoiseSchedule().sample_gamma(3, generator=g)
    eps = torch.randn(y_s.shape, generator=g)
    assert torch.equal(gamma, gamma_ref)
    assert torch.allclose(x[:, :3], NoiseSchedule.q_sample(y_s, gamma_ref, eps))
    assert terms.triplet.item() == 0.0
    assert terms.dif.item() == pytest.approx(
        eps.square().mean().item()
    )  # predicting 0: MSE = mean ε²
    assert terms.dif is terms.mse


def test_unpaired_uses_the_reference_not_y_s():
    y_s, x_s, out_s, x_r, out_r = _batch()
    ref = torch.rand(3, 3, 16, 16)
    rec = Recorder()
    loss = NoiseDALoss(rec, Mode.NOISE_DA_UNPAIRED, channel_shuffle=True, residual_swap=True)
    terms = loss(y_s, x_s, out_s, x_r, out_r, ref=ref, generator=torch.Generator().manual_seed(2))
    assert len(rec.calls) == 1 and rec.calls[0][0].shape[0] == 3  # no negatives even with RS on
    g = torch.Generator().manual_seed(2)
    gamma = NoiseSchedule().sample_gamma(3, generator=g)
    eps = torch.randn(ref.shape, generator=g)
    noisy = rec.calls[0][0][:, :3]
    assert torch.allclose(noisy, NoiseSchedule.q_sample(ref, gamma, eps))
    assert not torch.allclose(noisy, NoiseSchedule.q_sample(y_s, gamma, eps))
    assert terms.triplet.item() == 0.0 and torch.equal(terms.dif, terms.mse)
    with pytest.raises(ValueError, match="ref"):
        loss(y_s, x_s, out_s, x_r, out_r)


def test_triplet_hinge():
    y_s, x_s, out_s, x_r, out_r = _batch()
    # negatives predicted far worse than positives: hinge inactive, L_dif = ½ MSE
    loss = NoiseDALoss(Recorder(value=0.0, neg_value=3.0), Mode.NOISE_DA)
    t = loss(y_s, x_s, out_s, x_r, out_r, generator=torch.Generator().manual_seed(0))
    assert t.mse_neg.item() > t.mse.item() + 0.1
    assert t.triplet.item() == 0.0
    assert t.dif.item() == pytest.approx(0.5 * t.mse.item())
    # negatives predicted better: hinge active, L_dif = ½(MSE + MSE − MSE⁻ + m)
    loss = NoiseDALoss(Recorder(value=3.0, neg_value=0.0), Mode.NOISE_DA, margin=0.1)
    t = loss(y_s, x_s, out_s, x_r, out_r, generator=torch.Generator().manual_seed(0))
    assert t.triplet.item() == pytest.approx(t.mse.item() - t.mse_neg.item() + 0.1, rel=1e-6)
    assert t.dif.item() == pytest.approx(0.5 * (t.mse.item() + t.triplet.item()), rel=1e-6)


def _live_denoiser() -> nn.Module:
    """Tiny denoiser with its zero-initialised convs filled, so its output depends on the input."""
    torch.manual_seed(0)
    net = build_denoiser("tiny", 16).eval()
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() > 1 and torch.count_nonzero(p) == 0:
                p.normal_(std=0.05)
    return net


def test_batched_equals_two_passes_and_draws_are_reproducible():
    y_s, x_s, out_s, x_r, out_r = _batch()
    net = _live_denoiser()
    one = NoiseDALoss(net, Mode.NOISE_DA, batched=True)
    two = NoiseDALoss(net, Mode.NOISE_DA, batched=False)
    with torch.no_grad():
        a = one(y_s, x_s, out_s, x_r, out_r, generator=torch.Generator().manual_seed(5))
        b = two(y_s, x_s, out_s, x_r, out_r, generator=torch.Generator().manual_seed(5))
        c = one(y_s, x_s, out_s, x_r, out_r, generator=torch.Generator().manual_seed(5))
    for name in ("dif", "mse", "triplet", "mse_neg"):
        assert getattr(a, name).item() == pytest.approx(getattr(b, name).item(), rel=1e-5)
        assert torch.equal(getattr(a, name), getattr(c, name))


@pytest.mark.parametrize("mode", [Mode.NOISE_DA, Mode.NOISE_DA_UNPAIRED])
def test_k_real_crops_per_pair_repeat_each_synthetic_sample_k_times(mode):
    """x_r/out_r with 2·B images = the same loss with the synthetic side repeated per sample."""
    y_s, x_s, out_s, x_r, out_r = _batch(b=2)
    *_, x_r2, out_r2 = _batch(b=2, seed=1)
    real_x = torch.stack([x_r[0], x_r2[0], x_r[1], x_r2[1]])
    real_out = torch.stack([out_r[0], out_r2[0], out_r[1], out_r2[1]])
    ref = torch.rand(2, 3, 16, 16)
    loss = NoiseDALoss(_live_denoiser(), mode)
    twice = lambda t: t.repeat_interleave(2, dim=0)  # noqa: E731
    with torch.no_grad():
        a = loss(
            y_s, x_s, out_s, real_x, real_out, ref=ref, generator=torch.Generator().manual_seed(3)
        )
        b = loss(
            twice(y_s),
            twice(x_s),
            twice(out_s),
            real_x,
            real_out,
            ref=twice(ref),
            generator=torch.Generator().manual_seed(3),
        )
        one = loss(y_s, x_s, out_s, x_r, out_r, ref=ref, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.dif, b.dif) and torch.equal(a.mse, b.mse)
    assert not torch.equal(a.mse, one.mse)  # the second real crop of each pair counts
    with pytest.raises(ValueError, match="whole multiple"):
        loss(y_s, x_s, out_s, real_x[:3], real_out[:3], ref=ref)


def test_one_restorer_pass_over_unequal_domain_batches_equals_two():
    from noiseda_core.objective import JointObjective

    torch.manual_seed(0)
    objective = JointObjective(TinyRestorer(), None)
    x_s, x_r = torch.rand(2, 3, 16, 16), torch.rand(6, 3, 16, 16)
    out_s, out_r = objective._restore_both(x_s, x_r)
    assert out_s.shape == x_s.shape and out_r.shape == x_r.shape
    assert torch.allclose(out_s, objective.restorer(x_s), atol=1e-6)
    assert torch.allclose(out_r, objective.restorer(x_r), atol=1e-6)


@pytest.mark.parametrize("detach", [False, True])
def test_diffusion_term_reaches_the_restorer_only_through_attached_outputs(detach):
    torch.manual_seed(1)
    restorer, net = TinyRestorer(), _live_denoiser()
    y_s, x_s, _, x_r, _ = _batch()
    out_s, out_r = restorer(x_s), restorer(x_r)
    if detach:
        out_s, out_r = out_s.detach(), out_r.detach()
    loss = NoiseDALoss(net, Mode.NOISE_DA, channel_shuffle=True, residual_swap=True, margin=10.0)
    terms = loss(y_s, x_s, out_s, x_r, out_r, generator=torch.Generator().manual_seed(0))
    assert terms.triplet.item() > 0  # big margin: the negatives contribute too
    terms.dif.backward()
    grads = [p.grad for p in restorer.parameters()]
    if detach:
        assert all(g is None for g in grads)
    else:
        assert all(g is not None and g.abs().sum() > 0 for g in grads)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
