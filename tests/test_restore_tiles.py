"""Restoration near the limit (issue 19): evenly sized tiles, an fp32 device-side blending
window, the whole frame when it fits, the half-precision weights path."""

from __future__ import annotations

import itertools

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from noiseda_core import policy
from noiseda_core.inference import _window_1d, even_tiles, restore_image
from noiseda_core.nets import Restorer


def _conv_restorer() -> Restorer:
    """Two 3×3 convs: receptive radius 2, far below overlap // 4."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Tanh(), nn.Conv2d(8, 3, 3, padding=1))
    return Restorer(net, arch="test", arch_args={}, pad_multiple=8, adds_input=False)


@settings(max_examples=150, deadline=None)
@given(
    mult=st.sampled_from([1, 8, 16]),
    tiles=st.integers(1, 40),
    overlap=st.integers(0, 64),
    length=st.integers(1, 600),
)
def test_even_tiles_cover_with_one_side_and_enough_overlap(
    mult: int, tiles: int, overlap: int, length: int
) -> None:
    tile = tiles * mult
    overlap = min(overlap, tile // 2)
    length *= mult
    side, starts = even_tiles(length, tile, overlap, mult)
    assert side <= max(tile, length) and side % mult == 0 or side == length
    assert starts[0] == 0 and starts[-1] + side == length  # the frame is covered end to end
    assert starts == sorted(starts)
    for a, b in itertools.pairwise(starts):
        assert b - a > 0 and a + side - b >= overlap  # neighbours overlap by at least overlap
    n = len(starts)
    if n > 1:  # the fewest tiles: one fewer of the largest side could not cover the frame
        assert (n - 1) * tile - (n - 2) * overlap < length


def test_a_4k_side_is_two_tiles_of_half_its_length_not_two_near_full_ones() -> None:
    assert even_tiles(3840, 3544, 32, 8) == (1936, [0, 1904])


def test_tiled_equals_untiled_with_uneven_frame() -> None:
    model = _conv_restorer()
    img = torch.rand(3, 70, 123)
    whole = restore_image(model, img)
    tiled = restore_image(model, img, tile=48, overlap=16)
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-5)


class _Dtypes(TorchDispatchMode):
    """Records the dtype of every tensor an op makes."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[torch.dtype] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor):
                self.seen.add(t.dtype)
        return out


def test_tiled_fp32_restore_makes_no_float64_tensor() -> None:
    assert _window_1d(8, 32, 96, 16).dtype == torch.float32
    model, img = _conv_restorer(), torch.rand(3, 40, 72)
    with _Dtypes() as recorded:
        restore_image(model, img, tile=32, overlap=16)
    assert torch.float64 not in recorded.seen


def test_whole_frame_when_its_pixels_fit_what_the_tiles_may_use() -> None:
    # tiles of 2048² measured for 4 at a time: a 4K frame (8.3 MP ≤ 16.8 MP) runs whole
    assert policy.whole_frame_fits((2160, 3840), 2048, 4)
    assert not policy.whole_frame_fits((2160, 3840), 2048, 1)
    assert not policy.whole_frame_fits((3000, 5000), 4096, 4)  # a side above TILE_CAP
    assert policy.whole_frame_fits((512, 512), 1024, 1)


def test_half_weights_path_is_close_to_fp32_and_follows_weight_changes() -> None:
    model, img = _conv_restorer(), torch.rand(3, 40, 56)
    full = restore_image(model, img, precision="fp32")
    half = restore_image(model, img, precision="bf16", half_weights=True)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, full, rtol=0, atol=0.02)  # bf16 weights and activations
    with torch.no_grad():  # weights changed in place (as the EMA copy does): no stale copy
        model.net[2].bias.add_(0.1)
    moved = restore_image(model, img, precision="bf16", half_weights=True)
    torch.testing.assert_close(
        moved, restore_image(model, img, precision="fp32"), rtol=0, atol=0.02
    )
    assert (moved - half).abs().mean() > 0.05


def test_half_weights_run_without_autocast_in_channels_last() -> None:
    model, img = _conv_restorer(), torch.rand(3, 16, 16)
    seen: list[tuple[torch.dtype, bool, bool]] = []

    def record(module: nn.Module, args: tuple) -> None:
        x = args[0]
        seen.append(
            (
                x.dtype,
                x.is_contiguous(memory_format=torch.channels_last),
                torch.is_autocast_enabled("cpu"),
            )
        )

    hooks = [
        m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, nn.Conv2d)
    ]
    restore_image(model, img, precision="bf16", half_weights=False)
    assert seen and all(autocast for _, _, autocast in seen)
    seen.clear()
    restore_image(model, img, precision="bf16", half_weights=True)  # the copy keeps the hooks
    assert seen and all(d == torch.bfloat16 and cl and not ac for d, cl, ac in seen)
    for h in hooks:
        h.remove()
