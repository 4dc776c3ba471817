"""GroupNorm (+FiLM) (+SiLU) that keeps bf16 and channels-last, against an fp32 reference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from noiseda_core.diffusion.norm import fused_group_norm_act, group_norm_act


def _reference(x, norm, scale=None, shift=None, act=True):
    """The maths in fp32 with PyTorch's own GroupNorm."""
    h = F.group_norm(x.float(), norm.num_groups, norm.weight.float(), norm.bias.float(), norm.eps)
    if scale is not None:
        h = h * (1 + scale.float()) + shift.float()
    return F.silu(h) if act else h


def _case(c: int = 16, groups: int = 4):
    g = torch.Generator().manual_seed(0)
    norm = nn.GroupNorm(groups, c)
    with torch.no_grad():
        norm.weight.copy_(1 + 0.5 * torch.randn(c, generator=g))
        norm.bias.copy_(0.3 * torch.randn(c, generator=g))
    x = 3 * torch.randn(2, c, 6, 5, generator=g) + 1
    scale, shift = (0.2 * torch.randn(2, c, 1, 1, generator=g) for _ in range(2))
    return x, norm, scale, shift


@pytest.mark.parametrize("act", [True, False])
@pytest.mark.parametrize("film", [True, False])
def test_fused_path_equals_the_fp32_reference(act: bool, film: bool) -> None:
    x, norm, scale, shift = _case()
    extra = (scale, shift) if film else (None, None)
    got = fused_group_norm_act(
        x, norm.num_groups, norm.weight, norm.bias, norm.eps, *extra, act=act
    )
    torch.testing.assert_close(got, _reference(x, norm, *extra, act=act), rtol=1e-5, atol=1e-5)


def test_bf16_channels_last_input_stays_bf16_channels_last_and_close_to_fp32() -> None:
    x, norm, scale, shift = _case()
    xb = x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    got = group_norm_act(xb, norm, scale.bfloat16(), shift.bfloat16())
    assert got.dtype == torch.bfloat16
    assert got.is_contiguous(memory_format=torch.channels_last)
    want = _reference(xb, norm, scale.bfloat16(), shift.bfloat16())
    # bf16 has 8 bits of mantissa: one rounding of the output, the statistics stay fp32
    torch.testing.assert_close(got.float(), want, rtol=2**-7, atol=2**-7)


def test_fp32_eager_keeps_the_native_kernel_result() -> None:
    """The CPU default (fp32, not compiling) is PyTorch's GroupNorm, value for value."""
    x, norm, scale, shift = _case()
    with torch.no_grad():
        got = group_norm_act(x, norm, scale, shift)
        want = F.silu(norm(x) * (1 + scale) + shift)
    assert torch.equal(got, want)


def test_gradients_match_the_reference() -> None:
    x, norm, scale, shift = _case()
    x.requires_grad_(True)
    fused = fused_group_norm_act(x, norm.num_groups, norm.weight, norm.bias, norm.eps, scale, shift)
    (gx,) = torch.autograd.grad(fused.square().sum(), x)
    (rx,) = torch.autograd.grad(_reference(x, norm, scale, shift).square().sum(), x)
    torch.testing.assert_close(gx, rx, rtol=1e-4, atol=1e-4)


def test_compiles_without_a_graph_break() -> None:
    import torch._dynamo

    x, norm, scale, shift = _case()
    torch._dynamo.reset()
    fn = torch.compile(
        lambda t: group_norm_act(t, norm, scale, shift), fullgraph=True, backend="aot_eager"
    )
    torch.testing.assert_close(fn(x), _reference(x, norm, scale, shift), rtol=1e-5, atol=1e-5)
