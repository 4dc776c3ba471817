"""Two CPU ranks with gloo under torchrun: DDP runs, rank 0 alone writes, resume works."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

from helpers import write_project


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "-m",
        "noiseda_core",
        "train",
        *args,
    ]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def test_two_gloo_ranks_train_write_once_and_resume(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p")
    sets = [
        f"data.synthetic={root / 'clean'}",
        "data.degradation=awgn:0-50",
        f"data.real={root / 'real'}",
        f"data.val={root / 'val'}",
        "model.restorer=unet-tiny",
        "model.diffusion=tiny",
        "train.steps=4",
        "train.batch=2",
        "train.patch=32",
        "train.log_every=1",
        "train.checkpoint_every=2",
        "train.val_every=100",
        "train.preview_every=100",
        "train.device=cpu",
        "train.precision=fp32",
    ]
    config = tmp_path / "c.toml"
    config.write_text("")
    args = [str(config), "--run-dir", str(tmp_path / "run")]
    for item in sets:
        args += ["--set", item]
    result = _torchrun(*args, "--set", "train.steps=2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(x) for x in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    started = events[0]
    assert started["type"] == "started" and started["world_size"] == 2
    assert started["global_batch"] == 4
    # rank 0 alone writes: each step's progress appears exactly once
    steps = [e["step"] for e in events if e["type"] == "progress"]
    assert steps == [1, 2]
    assert (tmp_path / "run" / "model.safetensors").is_file()

    # a resume may extend train.steps (and nothing else): continue to a longer horizon
    from noiseda_core.checkpoint import load_resume_state

    state = load_resume_state(tmp_path / "run")
    assert len(state["data"]) == 2  # both ranks' sampler states were saved
    result = _torchrun("--resume", str(tmp_path / "run"), "--set", "train.steps=4", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    events = [json.loads(x) for x in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    steps = [e["step"] for e in events if e["type"] == "progress"]
    assert steps == [1, 2, 3, 4]


def test_only_rank_0_reads_the_control_lines(tmp_path: Path, monkeypatch) -> None:
    """torchrun gives every rank the same stdin: a second reader could take a 'resume'."""
    from noiseda_core import train_cli
    from noiseda_core.control import RunControl

    listened: list[str] = []
    monkeypatch.setattr(RunControl, "listen_stdin", lambda self: listened.append("read"))
    monkeypatch.setattr("noiseda_core.train.train", lambda *a, **k: iter(()))
    (tmp_path / "c.toml").write_text("")
    for rank in ("1", "0"):
        monkeypatch.setenv("RANK", rank)
        train_cli.run_training(
            tmp_path / "c.toml", [], tmp_path / "run", None, jsonl=True, control_stdin=True
        )
        assert listened == ([] if rank == "1" else ["read"])


def test_pause_resume_and_stop_reach_both_gloo_ranks(tmp_path: Path) -> None:
    """The GUI's control lines on torchrun's stdin pause, resume and stop both ranks together."""
    import queue
    import threading
    import time

    root = write_project(tmp_path / "p")
    config = tmp_path / "c.toml"
    config.write_text("")
    sets = [
        f"data.synthetic={root / 'clean'}",
        "data.degradation=awgn:0-50",
        f"data.real={root / 'real'}",
        "model.restorer=unet-tiny",
        "model.diffusion=tiny",
        "train.steps=100000",
        "train.batch=1",
        "train.patch=32",
        "train.log_every=1",
        "train.checkpoint_every=100000",
        "train.val_every=100000",
        "train.preview_every=100000",
        "train.device=cpu",
        "train.precision=fp32",
    ]
    args = [str(config), "--run-dir", str(tmp_path / "run"), "--jsonl", "--control-stdin"]
    for item in sets:
        args += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "-m",
        "noiseda_core",
        "train",
        *args,
    ]
    child = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[dict] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(json.loads(x)) for x in child.stdout if x.startswith("{")],
        daemon=True,
    ).start()

    def next_event(kind: str, timeout: float = 120) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                event = lines.get(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                break
            if event["type"] == kind:
                return event
        raise AssertionError(f"no {kind} event within {timeout}s")

    def send(line: str) -> None:
        assert child.stdin is not None
        child.stdin.write(line + "\n")
        child.stdin.flush()

    def went_quiet(quiet: float, limit: float = 60) -> bool:
        """True once no progress came for ``quiet`` seconds; False if steps go on to ``limit``."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            try:
                lines.get(timeout=quiet)
            except queue.Empty:
                return True
        return False

    try:
        next_event("progress")
        arrivals = []
        for _ in range(4):
            next_event("progress")
            arrivals.append(time.monotonic())
        # a running loop reports every step: a silence of several steps' time means paused
        quiet = max(1.0, 5 * max(b - a for a, b in pairwise(arrivals)))
        for _ in range(3):  # with two readers, a resume could land on the rank not paused
            send("pause")
            assert went_quiet(quiet), "training went on while paused"
            send("resume")
            next_event("progress", timeout=60)
        send("stop")
        finished = next_event("finished", timeout=120)
        assert child.wait(timeout=120) == 0, child.stderr.read()[-3000:] if child.stderr else ""
    finally:
        if child.poll() is None:
            child.kill()
    assert finished["stopped"] and finished["step"] < 100000
    from noiseda_core.checkpoint import load_resume_state

    state = load_resume_state(tmp_path / "run")
    assert state["step"] == finished["step"] and len(state["data"]) == 2  # both ranks stopped there
