"""CPU twins of the GPU-only branches: each runs the branch's code on the CPU.

bf16 autocast, channels-last, fused/foreach Adam and the fallback, the torch.compile
fallback inside the training loop, worker processes with pinned-memory loading, and
``noiseda bench --device cpu`` running every section a GPU run prints.
(DDP over 2 gloo ranks with pause/stop: ``test_distributed.py``.)
"""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from helpers import tiny_config, write_project

from noiseda_core import parts as parts_module
from noiseda_core.events import Progress, Started
from noiseda_core.train import train

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("project"))


def _losses(events: list) -> list[tuple[float, float | None]]:
    return [(e.loss_res, e.loss_dif) for e in events if isinstance(e, Progress)]


def test_bf16_autocast_trains_on_the_cpu(project: Path, tmp_path: Path) -> None:
    seen: set[torch.dtype] = set()
    hook = torch.nn.modules.module.register_module_forward_hook(
        lambda m, a, out: (
            seen.add(out.dtype)
            if isinstance(m, torch.nn.Conv2d) and isinstance(out, torch.Tensor)
            else None
        )
    )
    try:
        events = list(
            train(tiny_config(project, "train.precision=bf16", "train.steps=2"), tmp_path / "run")
        )
    finally:
        hook.remove()
    assert isinstance(events[0], Started) and events[0].precision == "bf16"
    assert torch.bfloat16 in seen  # the convolutions really ran in bf16
    assert all(torch.isfinite(torch.tensor(x[0])) for x in _losses(events))


def test_channels_last_gives_the_same_training(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tiny_config(project, "train.steps=2", "train.val_every=100", "train.preview_every=100")
    plain = _losses(list(train(cfg, tmp_path / "plain")))
    monkeypatch.setattr(parts_module, "channels_last", lambda device: True)
    built = parts_module.build_parts(cfg, CPU)
    conv = next(m for m in built.objective.restorer.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    from noiseda_core.step import to_device

    (x,) = to_device([torch.rand(2, 3, 8, 8)], CPU)
    assert x.is_contiguous(memory_format=torch.channels_last)
    nhwc = _losses(list(train(cfg, tmp_path / "nhwc")))
    flat = [v for pair in nhwc for v in pair]
    assert flat == pytest.approx([v for pair in plain for v in pair], rel=1e-4)


def _adam_step(optimizer_of) -> torch.Tensor:
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(64))
    optimizer = optimizer_of([{"params": [w], "lr": 0.1}])
    for _ in range(3):
        optimizer.zero_grad()
        (w**2).sum().backward()
        optimizer.step()
    return w.detach()


def test_fused_adam_where_cuda_would_use_it_equals_foreach() -> None:
    cuda = torch.device("cuda")  # only its type is read: the parameters stay on the CPU
    fused = parts_module.make_adam([{"params": [torch.nn.Parameter(torch.zeros(2))]}], 0.1, cuda)
    assert fused.defaults["fused"] is True
    a = _adam_step(lambda g: parts_module.make_adam(g, 0.1, cuda))
    b = _adam_step(lambda g: parts_module.make_adam(g, 0.1, CPU))
    assert torch.allclose(a, b, atol=1e-6)


def test_fused_adam_refused_falls_back_to_foreach(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = torch.optim.Adam

    def no_fused(*args: object, fused: bool | None = None, **kwargs: object) -> torch.optim.Adam:
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be on a supported device")
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "Adam", no_fused)
    optimizer = parts_module.make_adam(
        [{"params": [torch.nn.Parameter(torch.zeros(2))]}], 0.1, torch.device("cuda")
    )
    assert optimizer.defaults["foreach"] is True and not optimizer.defaults.get("fused")
    assert "using the foreach Adam" in capsys.readouterr().err


def test_a_failing_compile_falls_back_to_eager_inside_the_loop(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cfg = tiny_config(project, "train.steps=3", "train.val_every=100", "train.preview_every=100")
    eager = _losses(list(train(cfg, tmp_path / "eager")))
    calls = {"compile": 0, "compiled": 0}

    def broken_compile(module: torch.nn.Module, **_: object):
        calls["compile"] += 1

        def fail(*args: object, **kwargs: object) -> None:
            calls["compiled"] += 1
            raise RuntimeError("inductor exploded")

        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    compiled_cfg = replace(cfg, train=replace(cfg.train, compile=True))
    events = list(train(compiled_cfg, tmp_path / "compiled"))
    assert calls == {"compile": 1, "compiled": 1}  # tried once, then eager for good
    assert _losses(events) == eager  # the same training, bit for bit
    assert "torch.compile failed (RuntimeError: inductor exploded)" in capsys.readouterr().err


def test_worker_processes_with_pinned_memory_give_the_same_batches(project: Path) -> None:
    from noiseda_core.data import TrainData

    cfg = tiny_config(project)

    def first_batches(workers: int, pin: bool) -> list[torch.Tensor]:
        data = TrainData(replace(cfg.data, workers=workers), 32, seed=0)
        stream = data.batches(2, pin_memory=pin)
        return [next(stream).x_s for _ in range(3)]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no accelerator is found": pinning is a no-op here
        loaded = first_batches(2, True)
    for a, b in zip(loaded, first_batches(0, False), strict=True):
        assert torch.equal(a, b)


def test_bench_on_the_cpu_prints_every_section_of_a_gpu_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from noiseda_core.cli import main

    monkeypatch.setattr(torch, "compile", lambda module, **_: module)  # compiling takes minutes
    assert (
        main(
            [
                "bench",
                "--device",
                "cpu",
                "--preset",
                "tiny",
                "--patch",
                "32",
                "--batch",
                "1",
                "--steps",
                "1",
                "--restore-sizes",
                "64,96x64",
                "--compile",
                "--suggest-batch",
                "--profile",
            ]
        )
        == 0
    )
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert [(x["what"], x.get("compile")) for x in lines] == [
        ("suggest-batch", None),
        ("train", False),
        ("train", True),
        ("profile", None),
        ("restore", None),
        ("restore", None),
        ("restore", None),
        ("restore", None),
    ]
    restores = [(x["size"], x["variant"]) for x in lines if x["what"] == "restore"]
    assert restores == [
        (64, "default"),
        (64, "compiled"),
        ("96x64", "default"),
        ("96x64", "compiled"),
    ]  # with --compile, each size also compiled
    profile = lines[3]
    assert set(profile["phases_ms"]) == {
        "step.forward",
        "step.backward",
        "step.optimizer",
        "step.ema",
    }
    assert profile["top"] and all(t["ms"] >= 0 and 0 <= t["share"] <= 1 for t in profile["top"])
