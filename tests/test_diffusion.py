"""The noise schedule and the conditional denoiser U-Net."""

from __future__ import annotations

import math

import pytest
import torch

from noiseda_core.diffusion import (
    DENOISER_SIZES,
    ConditionalDenoiser,
    NoiseSchedule,
    build_denoiser,
)
from noiseda_core.diffusion.denoiser import AttentionBlock
from noiseda_core.errors import UserError


def _count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# --------------------------------------------------------------------------- schedule


def test_schedule_values():
    s = NoiseSchedule()
    assert s.betas.shape == (1000,)
    assert s.betas[0].item() == pytest.approx(1e-6)
    assert s.betas[-1].item() == pytest.approx(1e-2)
    assert s.gammas.shape == (1001,)
    assert s.gammas[0].item() == 1.0
    assert s.gammas[1].item() == pytest.approx(1 - 1e-6, abs=1e-12)
    assert s.gammas[3].item() == pytest.approx(
        math.prod(1 - b for b in s.betas[:3].tolist()), rel=1e-12
    )
    assert bool((s.gammas[1:] < s.gammas[:-1]).all())
    # ∑β ≈ 5.0005 so γ_T ≈ e^-5: the whole range from almost clean to almost pure noise
    assert 0.003 < s.gammas[-1].item() < 0.01


@pytest.mark.parametrize("t_range", [None, (1, 100), (900, 1000)])
def test_gamma_lies_between_neighbouring_levels(t_range):
    s = NoiseSchedule(t_range=t_range)
    g = torch.Generator().manual_seed(0)
    t, gamma = s.sample_t_gamma(4096, generator=g)
    lo, hi = t_range or (1, 999)
    assert t.min().item() >= lo and t.max().item() <= hi
    assert t.max().item() - t.min().item() > 0.9 * (hi - lo)  # covers the range
    table = s.gammas.float()
    assert bool((gamma <= table[t - 1]).all()) and bool((gamma >= table[t]).all())
    assert gamma.dtype == torch.float32 and gamma.shape == (4096,)
    # continuous: not stuck on the grid
    frac = (table[t - 1] - gamma) / (table[t - 1] - table[t])
    assert 0.4 < frac[t > 50].mean().item() < 0.6


def test_sampling_is_reproducible_with_a_generator():
    s = NoiseSchedule()
    a = s.sample_gamma(8, generator=torch.Generator().manual_seed(3))
    b = s.sample_gamma(8, generator=torch.Generator().manual_seed(3))
    c = s.sample_gamma(8, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_t_range_is_a_user_error():
    with pytest.raises(UserError, match="t_range"):
        NoiseSchedule(t_range=(0, 10))


def test_q_sample():
    y, eps = torch.rand(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    gamma = torch.tensor([0.25, 1.0])
    out = NoiseSchedule.q_sample(y, gamma, eps)
    assert torch.allclose(out[0], 0.5 * y[0] + math.sqrt(0.75) * eps[0])
    assert torch.allclose(out[1], y[1])


# --------------------------------------------------------------------------- denoiser


def test_paper_parameter_count_matches_the_paper():
    net = build_denoiser("paper", 128)
    assert abs(_count(net) - 62.6e6) / 62.6e6 < 0.02
    assert all(
        isinstance(n.num_groups, int) and n.num_groups == 32
        for n in net.modules()
        if isinstance(n, torch.nn.GroupNorm)
    )
    heads = [m.heads for m in net.modules() if isinstance(m, AttentionBlock)]
    assert heads == [
        512 // 32
    ]  # one attention block (middle, 16×16 at 128 px), 32 channels per head


def test_paper_forward_shape_small_input():
    net = build_denoiser("paper", 32).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 9, 32, 32), torch.rand(1))
    assert out.shape == (1, 3, 32, 32)


def test_small_and_tiny_sizes():
    assert 2e6 < _count(build_denoiser("small", 64)) < 6e6
    assert _count(build_denoiser("tiny", 32)) < 1e6
    for size in DENOISER_SIZES.values():
        net = ConditionalDenoiser(size)
        for m in net.modules():
            if isinstance(m, torch.nn.GroupNorm):
                assert m.num_channels % m.num_groups == 0


def test_unknown_size_lists_the_allowed_ones():
    with pytest.raises(UserError) as info:
        build_denoiser("huge", 128)
    for name in DENOISER_SIZES:
        assert name in str(info.value)


def test_patch_must_fit_the_depth():
    with pytest.raises(UserError, match="multiple of 8"):
        build_denoiser("tiny", 36)


def test_tiny_forward_shape_and_zero_output_at_init():
    torch.manual_seed(0)
    net = build_denoiser("tiny", 32)
    x, gamma = torch.randn(2, 9, 32, 32), torch.rand(2)
    out = net(x, gamma)
    assert out.shape == (2, 3, 32, 32)
    assert torch.count_nonzero(out) == 0  # zero-initialised final conv
    # zero-initialised residual convs: every residual block is the identity (or its skip) at init
    assert all(
        torch.count_nonzero(m.conv2.weight) == 0 for m in net.modules() if hasattr(m, "conv2")
    )
    # but it is trainable: the final conv gets a gradient from an MSE to a target
    (out - torch.randn(2, 3, 32, 32)).square().mean().backward()
    assert net.head[-1].weight.grad.abs().sum() > 0


def test_output_depends_on_gamma_and_conditions():
    torch.manual_seed(0)
    net = build_denoiser("tiny", 8).eval()
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() > 1 and torch.count_nonzero(p) == 0:
                p.normal_(std=0.05)  # fill the zero-initialised convs
        x = torch.randn(2, 9, 8, 8)
        a = net(x, torch.tensor([0.1, 0.1]))
        b = net(x, torch.tensor([0.9, 0.9]))
        c = net(torch.cat([x[:, :3], x[:, 3:].flip(1)], dim=1), torch.tensor([0.1, 0.1]))
    assert not torch.allclose(a, b)
    assert not torch.allclose(a, c)


def test_attention_runs_at_patch_over_8():
    net = build_denoiser("tiny", 32)
    seen: list[tuple[int, int]] = []
    for m in net.modules():
        if isinstance(m, AttentionBlock):
            m.register_forward_hook(lambda mod, inp, out: seen.append(tuple(inp[0].shape[-2:])))
    with torch.no_grad():
        net(torch.randn(1, 9, 32, 32), torch.rand(1))
    assert seen == [(4, 4)]


def test_bfloat16_weights_run():
    net = build_denoiser("tiny", 8).to(torch.bfloat16)
    with torch.no_grad():
        out = net(torch.randn(1, 9, 8, 8, dtype=torch.bfloat16), torch.rand(1))
    assert out.dtype == torch.bfloat16 and out.shape == (1, 3, 8, 8)


def test_channels_last_input_gives_the_same_result():
    torch.manual_seed(0)
    net = build_denoiser("tiny", 16).eval()
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.05)  # leave the zero init so the output is not trivially 0
    x, gamma = torch.randn(2, 9, 16, 16), torch.rand(2)
    with torch.no_grad():
        a = net(x, gamma)
        b = net.to(memory_format=torch.channels_last)(
            x.contiguous(memory_format=torch.channels_last), gamma
        )
    assert torch.allclose(a, b, atol=1e-5)
