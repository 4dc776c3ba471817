"""Sizes decided once by ``policy.py``: batch, tile, OOM back-off, with memory faked below.

The measuring object (``measure.default()``) is replaced by ``CurveMeasure``, which
claims a GPU's free memory on the CPU; the decision code, the probes (a real training
step, a real restoration) and the commands that call them all run as they would on CUDA.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from fake_measure import CurveMeasure, Unmeasured, install
from helpers import tiny_config, write_project
from torch import nn

from noiseda_core import inference, policy
from noiseda_core.config import Config, Mode, ModelConfig, TrainConfig
from noiseda_core.errors import OutOfMemoryAdvice
from noiseda_core.nets import build_restorer

GIB = 2**30
PATCH = 16
CFG = Config(
    model=ModelConfig(restorer="unet-tiny", diffusion="tiny"),
    train=TrainConfig(batch=5, patch=PATCH, device="cpu"),
)
RESTORER_ONLY = Config(
    model=CFG.model, train=TrainConfig(batch=5, patch=PATCH, device="cpu", mode=Mode.BASELINE)
)  # faster probe
CPU = torch.device("cpu")


def _per_sample(gib: float) -> float:
    """per_pixel for a curve costing ``gib`` GiB per training sample of PATCH²."""
    return gib * GIB / PATCH**2


# --------------------------------------------------------------------------- maths


def test_fit_recovers_base_and_slope() -> None:
    base, slope = policy.fit_linear([(2, 3.0 * GIB), (4, 4.0 * GIB)])
    assert base == pytest.approx(2.0 * GIB) and slope == pytest.approx(0.5 * GIB)
    with pytest.raises(ValueError):
        policy.fit_linear([(2, 1.0), (2, 2.0)])


def test_largest_fitting_respects_budget_and_cap() -> None:
    assert policy.largest_fitting(1.0, 0.5, 17.0, 64) == 32
    assert policy.largest_fitting(1.0, 0.5, 170.0, 64) == 64
    assert policy.largest_fitting(10.0, 0.5, 5.0, 64) == 0
    assert policy.largest_fitting(1.0, 0.0, 5.0, 64) == 64


# --------------------------------------------------------------------------- the batch


def test_cpu_keeps_the_configured_batch() -> None:
    advice = policy.suggest_batch(CFG, CPU)  # the real measure: CPU memory is not measured
    assert advice.batch == 5 and not advice.measured
    assert "as configured" in advice.message


def test_auto_batch_from_a_faked_memory_curve() -> None:
    # 1 GiB fixed + 0.5 GiB a sample; 20 GiB free → 85 % = 17 GiB → (17 − 1) / 0.5 = 32
    # 3 GiB held before the probe (another model, the GUI's tensors) are not the step's
    fake = CurveMeasure(free=20 * GIB, base=1 * GIB, per_pixel=_per_sample(0.5), held=3 * GIB)
    advice = policy.suggest_batch(CFG, CPU, fake)
    # the real training step ran at the probe batches (the objective saw x_s of that batch)
    assert fake.probes == [(2, 3, PATCH, PATCH), (4, 3, PATCH, PATCH)]
    assert advice.batch == 32 and advice.measured
    assert advice.bytes_per_sample == pytest.approx(0.5 * GIB)
    assert advice.base_bytes == pytest.approx(1.0 * GIB)
    assert "batch 32" in advice.message and "20.0 GiB free" in advice.message


def test_auto_batch_is_capped_and_says_what_to_lower_when_nothing_fits() -> None:
    big = policy.suggest_batch(
        RESTORER_ONLY, CPU, CurveMeasure(140 * GIB, 1 * GIB, _per_sample(0.01))
    )
    assert big.batch == 64 and "(the cap)" in big.message
    small = policy.suggest_batch(
        RESTORER_ONLY, CPU, CurveMeasure(4 * GIB, 4 * GIB, _per_sample(1.0))
    )
    assert small.batch == 1
    assert "train.patch" in small.message and "model.diffusion" in small.message


def test_a_probe_running_out_of_memory_becomes_advice() -> None:
    fake = CurveMeasure(2 * GIB, oom_above=PATCH * PATCH)  # even batch 2 does not fit
    advice = policy.suggest_batch(RESTORER_ONLY, CPU, fake)
    assert advice.batch == 1 and "out of memory" in advice.message
    assert "train.patch" in advice.message and fake.released >= 1


def test_training_with_auto_batch_uses_the_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from noiseda_core.train import train

    project = write_project(tmp_path / "p")
    install(monkeypatch, CurveMeasure(free=10 * GIB, base=1 * GIB, per_pixel=_per_sample(1.0)))
    cfg = tiny_config(
        project,
        "train.auto_batch=true",
        "train.steps=1",
        "train.val_every=100",
        "train.preview_every=100",
        f"train.patch={PATCH}",
    )
    started = next(iter(train(cfg, tmp_path / "run")))
    assert started.global_batch == 7  # (8.5 − 1) / 1 GiB per sample


# --------------------------------------------------------------------------- the tile


def test_tile_where_memory_is_not_measured() -> None:
    restorer = build_restorer("unet-tiny")
    assert policy.tile_for(restorer, (1000, 1500), CPU) is None  # whole image
    assert policy.tile_for(restorer, (3000, 2000), CPU) == policy.AUTO_TILE


def test_tile_from_a_measured_probe_is_decided_once() -> None:
    restorer = build_restorer("unet-tiny")  # pad_multiple 8
    # 1000 bytes a pixel: 60 % of 10 GiB over 4 tiles → side √(0.6·10 GiB / 4 / 1000) ≈ 1269
    fake = CurveMeasure(free=10 * GIB, per_pixel=1000.0, held=2 * GIB)
    tile = policy.tile_for(restorer, (4000, 3000), CPU, "fp32", measure=fake)
    assert tile is not None and tile % 8 == 0 and 1256 <= tile <= 1269
    assert fake.probes == [(1, 3, policy.TILE_PROBE, policy.TILE_PROBE)]
    assert policy.tile_for(restorer, (1000, 1000), CPU, "fp32", measure=fake) is None  # fits
    assert len(fake.probes) == 1  # measured once per model, device and precision
    other = build_restorer("unet-tiny")
    assert (
        policy.tile_for(
            other, (5000, 3000), CPU, "fp32", measure=CurveMeasure(10 * GIB, per_pixel=1.0)
        )
        == policy.TILE_CAP
    )
    assert (
        policy.tile_for(
            build_restorer("unet-tiny"),
            (4000, 3000),
            CPU,
            "fp32",
            measure=CurveMeasure(10 * GIB, per_pixel=1e9),
        )
        == policy.TILE_PROBE
    )


def test_restore_image_restores_with_the_tile_it_is_given_and_never_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install(monkeypatch, Unmeasured())
    model = _Hungry(limit=10**9)
    img = torch.rand(3, 2050, 2050)  # above the unmeasured whole-image limit: still whole
    inference.restore_image(model, img, tile=None)
    assert model.sizes == [(1, 3, 2056, 2056)]
    model.sizes.clear()
    inference.restore_image(model, torch.rand(3, 40, 40), tile=16, overlap=0)
    assert {s[-2:] for s in model.sizes} == {(16, 16)}


def test_commands_on_a_measured_device_decide_the_tile_once_without_recursing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Memory known (as on CUDA): restore, evaluate and validation choose a tile and finish.

    Before ``policy.py`` the tile probe restored with ``tile=None`` on such a device,
    which asked for a tile again: ``noiseda restore`` recursed until RecursionError.
    """
    from noiseda_core.cli import main
    from noiseda_core.export import export_restorer

    fake = install(monkeypatch, CurveMeasure(free=8 * GIB, per_pixel=1000.0))
    model = tmp_path / "m.safetensors"
    export_restorer(build_restorer("unet-tiny"), model)
    project = write_project(tmp_path / "p", n_syn=1, n_real=3, n_val=2)
    assert (
        main(
            [
                "restore",
                "--model",
                str(model),
                str(project / "real"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    assert len(list((tmp_path / "out").iterdir())) == 3
    assert fake.probes == [(1, 3, policy.TILE_PROBE, policy.TILE_PROBE)]  # once for all images
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(model),
                "--input",
                str(project / "val/input"),
                "--target",
                str(project / "val/target"),
            ]
        )
        == 0
    )
    assert len(fake.probes) == 2  # evaluate loaded its own model: one more probe
    capsys.readouterr()


def test_validation_during_training_goes_through_the_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from noiseda_core.events import Validation
    from noiseda_core.train import train

    fake = install(monkeypatch, CurveMeasure(free=8 * GIB, per_pixel=1000.0))
    project = write_project(tmp_path / "p")
    cfg = tiny_config(
        project,
        "train.steps=2",
        "train.val_every=1",
        "train.preview_every=100",
        f"train.patch={PATCH}",
    )
    events = list(train(cfg, tmp_path / "run"))
    assert [e.step for e in events if isinstance(e, Validation)] == [1, 2]
    assert fake.probes == [(1, 3, policy.TILE_PROBE, policy.TILE_PROBE)]  # the EMA copy, once


# --------------------------------------------------------------------------- OOM back-off


class _Hungry(nn.Module):
    """Identity that raises OutOfMemoryError for inputs above ``limit`` pixels (all tiles)."""

    pad_multiple = 8

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.sizes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(tuple(x.shape))
        if x.shape[0] * x.shape[-1] * x.shape[-2] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return x


def test_out_of_memory_backs_off_to_smaller_tiles_and_remembers() -> None:
    model = _Hungry(limit=64 * 64)
    img = torch.rand(3, 200, 150)
    fake = _Unmeasured_with_oom()
    out = policy.restore(model, img, tile=None, device=CPU, min_tile=32, measure=fake)
    assert torch.allclose(out, img)
    assert model.sizes[0] == (1, 3, 200, 152)  # first try: the whole (padded) image
    assert max(s[0] * s[-1] * s[-2] for s in model.sizes[-4:]) <= 64 * 64
    model.sizes.clear()
    policy.restore(
        model, torch.rand(3, 200, 150), device=CPU, min_tile=32, measure=_Unmeasured_with_oom()
    )
    assert model.sizes[0][-1] <= 64 and model.sizes[0][0] == 1  # starts where it ended
    assert fake.released == 2  # whole image, then 96² tiles ran out; 48² fit


def test_out_of_memory_gives_advice_at_the_floor() -> None:
    with pytest.raises(OutOfMemoryAdvice, match="smaller model"):
        policy.restore(
            _Hungry(limit=10),
            torch.rand(3, 100, 100),
            device=CPU,
            min_tile=32,
            measure=_Unmeasured_with_oom(),
        )


class _Unmeasured_with_oom(CurveMeasure):
    """Memory not measured (CPU rules for the first tile), OOM recognised as on CUDA."""

    def __init__(self) -> None:
        super().__init__(free=0)

    def free_bytes(self, device: torch.device) -> int | None:
        return None


# --------------------------------------------------------------------------- the plan

CPU_MACHINE = policy.Machine("cpu", cpus=2)
GPU_MACHINE = policy.Machine("cuda", total_gib=24.0, bf16=True, cpus=16)


def test_the_plan_decides_workers_and_precision_from_the_machine() -> None:
    auto = Config()  # data.workers = -1, train.precision = auto
    on_cpu, on_gpu = policy.plan(auto, CPU_MACHINE), policy.plan(auto, GPU_MACHINE)
    assert (on_cpu.workers, on_cpu.precision) == (0, "fp32")
    assert (on_gpu.workers, on_gpu.precision) == (policy.GPU_WORKERS, "bf16")
    assert on_gpu.config.data.workers == on_gpu.workers  # the resolved config says so
    assert policy.plan(auto, policy.Machine("cuda", 24.0, bf16=True, cpus=2)).workers == 2
    chosen = replace(auto, data=replace(auto.data, workers=0))
    assert policy.plan(chosen, GPU_MACHINE).workers == 0  # a chosen number is kept
    old_gpu = policy.plan(auto, policy.Machine("cuda", 16.0, bf16=False, cpus=8))
    assert old_gpu.precision == "fp32"
    assert on_cpu.restore_tile == policy.AUTO_TILE and on_gpu.restore_tile is None
    small = replace(auto, train=replace(auto.train, batch=3))
    assert policy.plan(small, GPU_MACHINE).compile_mode == "reduce-overhead"  # CUDA graphs
    assert policy.plan(small, CPU_MACHINE).compile_mode is None


def test_the_plan_measures_the_batch_once_for_auto_batch() -> None:
    auto = replace(CFG, train=replace(CFG.train, auto_batch=True))
    fake = CurveMeasure(free=20 * GIB, base=1 * GIB, per_pixel=_per_sample(0.5))
    planned = policy.plan(auto, GPU_MACHINE, device=CPU, measure=fake)
    assert planned.batch == planned.config.train.batch == 32 and len(fake.probes) == 2
    assert "batch 32" in planned.notes[0]
    resumed = policy.plan(planned.config, GPU_MACHINE, device=CPU, resuming=True, measure=fake)
    assert resumed.batch == 32 and len(fake.probes) == 2  # a resume keeps its batch


def test_the_plan_is_frozen_and_its_config_validated() -> None:
    import dataclasses

    from noiseda_core.errors import UserError

    planned = policy.plan(Config(), CPU_MACHINE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        planned.batch = 3  # type: ignore[misc]
    with pytest.raises(UserError, match="train.batch"):
        replace(planned.config.train, batch=0)
    with pytest.raises(UserError, match="data.workers"):
        replace(planned.config.data, workers=-2)
