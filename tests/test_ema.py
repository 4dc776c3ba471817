"""The EMA's maths, checked against a hand computation: warm-up decay, cap, buffers, restore."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from noiseda_core.ema import EMA


def _net(weight: float) -> nn.Module:
    """One scalar weight, one float buffer and one integer buffer (an int is not averaged)."""
    net = nn.BatchNorm1d(1)
    with torch.no_grad():
        net.weight.fill_(weight)
        net.running_mean.fill_(weight)
    return net


def _set(net: nn.Module, weight: float) -> None:
    with torch.no_grad():
        net.weight.fill_(weight)
        net.running_mean.fill_(weight)


def test_the_decay_warms_up_as_one_plus_n_over_ten_plus_n_then_caps() -> None:
    ema = EMA(_net(0.0), decay=0.5)
    decays = []
    for _ in range(12):
        decays.append(ema.current_decay())
        ema.updates += 1
    # (1+n)/(10+n): 0.1, 2/11, 3/12, ... 9/18 = 0.5, then the cap 0.5 (10/19 > 0.5)
    assert decays[:9] == pytest.approx([(1 + n) / (10 + n) for n in range(9)])
    assert decays[8:] == [0.5] * 4


def test_each_update_moves_the_shadow_by_one_minus_the_decay() -> None:
    net = _net(1.0)
    ema = EMA(net, decay=0.9)
    # by hand, from 1.0 with decays 1/10, 2/11, 3/12, 4/13 (all under the 0.9 cap):
    # 0.1*1 + 0.9*3 = 2.8;  2/11*2.8 + 9/11*-2 = -1.12727;  0.25*-1.12727 + 0.75*5 = 3.46818;
    # 4/13*3.46818 + 9/13*0.5 = 1.41329
    for weight, expected in [(3.0, 2.8), (-2.0, -1.127273), (5.0, 3.468182), (0.5, 1.413287)]:
        _set(net, weight)
        ema.update(net)
        assert ema.shadow["weight"].item() == pytest.approx(expected, abs=1e-5)
        assert ema.shadow["running_mean"].item() == pytest.approx(expected, abs=1e-5)
    assert "num_batches_tracked" not in ema.shadow  # integer buffers are not averaged
    assert ema.updates == 4


def test_copy_to_and_a_reloaded_state_continue_the_same_average() -> None:
    net = _net(1.0)
    ema = EMA(net, decay=0.9)
    _set(net, 3.0)
    ema.update(net)
    assert ema.shadow["weight"].item() == pytest.approx(2.8)
    copy = EMA(_net(0.0), decay=0.1)
    copy.load_state_dict(ema.state_dict())
    assert copy.decay == 0.9 and copy.updates == 1
    for average in (ema, copy):
        _set(net, -1.0)
        average.update(net)  # decay 2/11: 2/11 * 2.8 + 9/11 * -1
    assert (
        ema.shadow["weight"].item()
        == copy.shadow["weight"].item()
        == pytest.approx(2 / 11 * 2.8 - 9 / 11)
    )
    target = _net(7.0)
    ema.copy_to(target)
    assert target.weight.item() == pytest.approx(2 / 11 * 2.8 - 9 / 11)
    assert target.running_mean.item() == pytest.approx(2 / 11 * 2.8 - 9 / 11)
