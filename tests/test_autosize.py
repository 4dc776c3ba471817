"""Batch and tile suggestions: the linear fit, the CUDA decision (memory faked), the CPU paths."""

from __future__ import annotations

import pytest
import torch

from noiseda_core import autosize
from noiseda_core.config import Config, ModelConfig, TrainConfig
from noiseda_core.nets import build_restorer

GIB = 2**30
CFG = Config(model=ModelConfig(restorer="unet-tiny", diffusion="tiny"),
             train=TrainConfig(batch=5, patch=32, device="cpu"))
CUDA = torch.device("cuda", 0)  # only a name here: every CUDA call is faked below


def test_fit_recovers_base_and_slope() -> None:
    base, slope = autosize.fit_linear([(2, 3.0 * GIB), (4, 4.0 * GIB)])
    assert base == pytest.approx(2.0 * GIB) and slope == pytest.approx(0.5 * GIB)
    base, slope = autosize.fit_linear([(1, 11.0), (2, 13.0), (4, 17.0)])
    assert (base, slope) == (pytest.approx(9.0), pytest.approx(2.0))
    with pytest.raises(ValueError):
        autosize.fit_linear([(2, 1.0), (2, 2.0)])


def test_largest_fitting_respects_budget_and_cap() -> None:
    assert autosize.largest_fitting(2.0, 0.5, 10.0, 64) == 16  # 2 + 0.5·16 = 10
    assert autosize.largest_fitting(2.0, 0.5, 9.9, 64) == 15
    assert autosize.largest_fitting(2.0, 0.001, 10.0, 64) == 64
    assert autosize.largest_fitting(12.0, 0.5, 10.0, 64) == 0
    assert autosize.largest_fitting(2.0, 0.0, 10.0, 64) == 64  # flat line: the cap
    assert autosize.largest_fitting(20.0, -1.0, 10.0, 64) == 0


def test_cpu_keeps_the_configured_batch() -> None:
    advice = autosize.suggest_batch(CFG, torch.device("cpu"))
    assert advice.batch == 5 and not advice.measured
    assert "as configured" in advice.message


def _fake_gpu(monkeypatch: pytest.MonkeyPatch, free: float, per_batch: dict[int, float]) -> list:
    calls: list = []

    def measure(cfg: Config, device: torch.device, batches=autosize.PROBE_BATCHES):
        calls.append(tuple(batches))
        return [(b, per_batch[b]) for b in batches]

    monkeypatch.setattr(autosize, "free_bytes", lambda device: int(free))
    monkeypatch.setattr(autosize, "measure_step_peaks", measure)
    return calls


def test_cuda_batch_from_measured_peaks(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1 GiB fixed + 0.5 GiB a sample; 20 GiB free → 85 % = 17 GiB → (17 − 1) / 0.5 = 32
    calls = _fake_gpu(monkeypatch, 20 * GIB, {2: 2.0 * GIB, 4: 3.0 * GIB})
    advice = autosize.suggest_batch(CFG, CUDA)
    assert calls == [autosize.PROBE_BATCHES]
    assert advice.batch == 32 and advice.measured
    assert advice.bytes_per_sample == pytest.approx(0.5 * GIB)
    assert advice.base_bytes == pytest.approx(1.0 * GIB)
    assert "batch 32" in advice.message and "20.0 GiB free" in advice.message


def test_cuda_batch_is_capped_at_64(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_gpu(monkeypatch, 140 * GIB, {2: 1.02 * GIB, 4: 1.04 * GIB})
    advice = autosize.suggest_batch(CFG, CUDA)
    assert advice.batch == 64 and "(the cap)" in advice.message


def test_cuda_batch_when_nothing_fits_says_what_to_lower(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_gpu(monkeypatch, 4 * GIB, {2: 6.0 * GIB, 4: 8.0 * GIB})
    advice = autosize.suggest_batch(CFG, CUDA)
    assert advice.batch == 1
    assert "train.patch" in advice.message and "model.diffusion" in advice.message


def test_cuda_probe_oom_becomes_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    def oom(*args: object, **kwargs: object):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(autosize, "free_bytes", lambda device: 2 * GIB)
    monkeypatch.setattr(autosize, "measure_step_peaks", oom)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    advice = autosize.suggest_batch(CFG, CUDA)
    assert advice.batch == 1 and "out of memory" in advice.message
    assert "train.patch" in advice.message


def test_tile_on_cpu_is_fixed_and_a_multiple_of_the_net() -> None:
    restorer = build_restorer("unet-tiny")
    tile = autosize.suggest_tile(restorer, "cpu")
    assert tile == autosize.CPU_TILE and tile % restorer.pad_multiple == 0


def test_tile_on_cuda_from_bytes_per_pixel(monkeypatch: pytest.MonkeyPatch) -> None:
    restorer = build_restorer("unet-tiny")  # pad_multiple 8
    probe = autosize.TILE_PROBE**2
    monkeypatch.setattr(autosize, "free_bytes", lambda device: 10 * GIB)
    # 1000 bytes a pixel: 60 % of 10 GiB over 4 tiles → side √(0.6·10 GiB / 4 / 1000) ≈ 1269 → 1264
    monkeypatch.setattr(autosize, "measure_tile_peak", lambda *a: 1000.0 * probe)
    tile = autosize.suggest_tile(restorer, CUDA, "bf16", tile_batch=4)
    assert tile % 8 == 0 and 1256 <= tile <= 1269
    monkeypatch.setattr(autosize, "measure_tile_peak", lambda *a: 1.0 * probe)
    assert autosize.suggest_tile(restorer, CUDA, "bf16") == autosize.TILE_CAP
    monkeypatch.setattr(autosize, "measure_tile_peak", lambda *a: 1e9 * probe)
    assert autosize.suggest_tile(restorer, CUDA, "bf16") == autosize.TILE_PROBE
