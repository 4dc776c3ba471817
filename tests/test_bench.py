"""``noiseda bench`` on the CPU: JSON lines with the cli.md keys, a clean compile fallback."""

from __future__ import annotations

import json

import pytest
import torch

from noiseda_core.cli import main

TRAIN_KEYS = {
    "what",
    "preset",
    "device",
    "batch",
    "patch",
    "precision",
    "step_s",
    "images_per_s",
    "peak_mem_gib",
}
RESTORE_KEYS = {"what", "preset", "device", "size", "precision", "mpix_per_s"}
ARGS = [
    "bench",
    "--preset",
    "tiny",
    "--device",
    "cpu",
    "--steps",
    "1",
    "--patch",
    "32",
    "--batch",
    "1",
]


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_bench_prints_train_and_restore_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--restore-sizes", "64,96x64"]) == 0
    lines = _lines(capsys.readouterr().out)
    train = [x for x in lines if x["what"] == "train"]
    restore = [x for x in lines if x["what"] == "restore"]
    assert len(train) == 1 and len(restore) == 2
    assert set(train[0]) >= TRAIN_KEYS
    assert train[0]["preset"] == "tiny" and train[0]["batch"] == 1 and train[0]["patch"] == 32
    assert train[0]["precision"] == "fp32"  # auto on a CPU is fp32
    assert train[0]["step_s"] > 0
    assert train[0]["images_per_s"] == pytest.approx(1 / train[0]["step_s"], rel=1e-2)
    assert train[0]["peak_mem_gib"] is None  # not measured on the CPU
    for line in restore:
        assert set(line) >= RESTORE_KEYS and line["mpix_per_s"] > 0
    assert [x["size"] for x in restore] == [64, "96x64"]
    assert (restore[1]["width"], restore[1]["height"]) == (96, 64)


def test_compile_failure_falls_back_with_a_json_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken_compile(module: torch.nn.Module, **_: object):
        def fail(*args: object, **kwargs: object) -> None:
            raise RuntimeError("backend exploded\nsecond line")

        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    assert main([*ARGS, "--compile", "--skip-restore"]) == 0
    lines = _lines(capsys.readouterr().out)
    assert [x["what"] for x in lines] == ["train", "compile-fallback"]
    assert lines[0]["compile"] is False and lines[0]["step_s"] > 0
    assert lines[1]["error"] == "RuntimeError: backend exploded"


def test_bad_restore_size_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--restore-sizes", "huge"]) == 2
    err = capsys.readouterr().err
    assert "--restore-sizes" in err and "huge" in err


def test_gpu_summary_checks_the_goals_against_the_release() -> None:
    from summarize_gpu import summarize

    lines = [
        {
            "what": "train",
            "preset": "paper",
            "device": "NVIDIA H200",
            "batch": 24,
            "patch": 128,
            "precision": "bf16",
            "compile": False,
            "images_per_s": 410.0,
            "peak_mem_gib": 17.0,
        },
        {
            "what": "restore",
            "preset": "paper",
            "device": "NVIDIA H200",
            "width": 1024,
            "height": 1024,
            "precision": "bf16",
            "tile": 2048,
            "mpix_per_s": 300.0,
            "peak_mem_gib": 2.0,
        },
        {"what": "section", "name": "train_bf16_b24", "rc": 0, "command": "noiseda bench X"},
        {
            "what": "profile",
            "preset": "paper",
            "batch": 24,
            "precision": "bf16",
            "clock": "device",
            "phases_ms": {"step.forward": {"cpu_ms": 3.0, "device_ms": 20.0}},
            "top": [{"op": "aten::convolution_backward", "ms": 12.5, "share": 0.31, "calls": 71}],
        },
    ]
    text = summarize(lines)
    assert "410.0 img/s" in text and "96.3 img/s" in text and "`noiseda bench X`" in text
    assert "(goal ≥ 400): MET" in text  # speed met
    assert "(goal ≤ 16.5): NOT met" in text  # 17 GiB is over half the release's 33
    assert "(goal ≥ 316): NOT met" in text  # restoration under 4 × 79
    assert "≈ 1030 img/s" in text and "39.8 % of it" in text  # 410 of the chip's limit
    assert (
        "forward 3.0 / 20.0" in text and "| `aten::convolution_backward` | 12.50 | 31.0 % |" in text
    )
