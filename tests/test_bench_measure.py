"""What ``noiseda bench`` measures (issue 19): kernel-only profile rows, FLOPs counted from
the networks and the MFU, the restore variants."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch.autograd import DeviceType

from noiseda_core.bench import restore_variants, timed_rows, with_mfu
from noiseda_core.config import Config, ModelConfig, TrainConfig
from noiseda_core.errors import UserError
from noiseda_core.flops import parameter_counts, peak_flops, restore_flops, train_step_flops

PAPER = Config(
    model=ModelConfig(restorer="unet-s", diffusion="paper"), train=TrainConfig(patch=128)
)


def test_gpu_profile_counts_kernels_not_the_aten_ops_that_launched_them() -> None:
    op = SimpleNamespace(key="aten::copy_", device_type=DeviceType.CPU)
    kernel = SimpleNamespace(key="elementwise_kernel", device_type=DeviceType.CUDA)
    phase = SimpleNamespace(key="step.forward", device_type=DeviceType.CPU)
    assert timed_rows([op, kernel, phase], on_gpu=True) == [kernel]
    assert timed_rows([op, kernel, phase], on_gpu=False) == [op, kernel]


def test_flops_and_parameters_are_counted_from_the_paper_networks() -> None:
    assert parameter_counts(PAPER) == {"restorer": 8_559_171, "denoiser": 62_643_075}
    assert restore_flops("unet-s", 128, 128) / 1e9 == pytest.approx(24.9, abs=0.05)
    # two restorer and two denoiser forwards a sample, each about ×3 with the backward
    assert train_step_flops(PAPER, 1) / 1e9 == pytest.approx(767.0, abs=1.0)


def test_mfu_against_the_chips_dense_bf16_peak() -> None:
    record = with_mfu({"images_per_s": 121.9}, 767_000_000_000, "NVIDIA H200")
    assert record["tflop_per_s"] == pytest.approx(93.5, abs=0.05)
    assert record["mfu"] == pytest.approx(93.5e12 / 989.4e12, abs=1e-3)
    assert with_mfu({"images_per_s": 2.0}, 10**9, "CPU (2 threads)")["mfu"] is None
    assert peak_flops("NVIDIA L40S") == 362.1e12  # not L4's


def test_restore_variants_default_to_what_restore_runs() -> None:
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert restore_variants("auto", cpu, "auto", compile=False) == ["default"]
    assert restore_variants("auto", cpu, "fp32", compile=True) == ["default", "compiled"]
    assert restore_variants("auto", cuda, "bf16", compile=True) == [
        "weights",
        "autocast",
        "compiled",
    ]
    assert restore_variants("all", cpu, "fp32", compile=False) == [
        "weights",
        "autocast",
        "compiled",
    ]
    with pytest.raises(UserError):
        restore_variants("weights,fastest", cpu, "fp32", compile=False)
