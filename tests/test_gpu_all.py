"""``benchmarks/gpu_all.sh`` (the one script for a lent GPU), checked without computing.

The whole ``DRY_RUN=1`` pass trains and compiles at toy sizes and takes minutes on a busy
CPU (run it by hand: ``DRY_RUN=1 bash benchmarks/gpu_all.sh``). Here the script runs for
real with a stand-in ``$PYTHON`` that records each measurement's command line instead of
running it: the section wrapper, the order, the time limits and the dry run's verdict are
the script's own, and every ``noiseda bench`` line must parse with the real CLI.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from noiseda_core.cli import build_parser

REPO = Path(__file__).resolve().parents[1]

FAKE_PYTHON = """#!/bin/sh
# Measurements are recorded, not run; the script's own helpers run on the real Python.
case "$1" in
  -|*summarize_gpu.py) exec "{python}" "$@" ;;
esac
printf '%s\\n' "$*" >>"$FAKE_LOG"
case "$*" in
  *"torch.cuda.device_count"*) echo 0 ;;
  *"$FAKE_FAIL"*) [ -n "$FAKE_FAIL" ] && exit 3 ;;
esac
exit 0
"""


def _run_dry(tmp_path: Path, fail: str = "") -> tuple[subprocess.CompletedProcess, list[str]]:
    if shutil.which("timeout") is None:
        pytest.skip("needs coreutils' timeout, which gpu_all.sh uses (on every Linux CI)")
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON.format(python=sys.executable))
    fake.chmod(0o755)
    log = tmp_path / "calls.txt"
    env = {
        **os.environ,
        "DRY_RUN": "1",
        "OUT": str(tmp_path / "out"),
        "PYTHON": str(fake),
        "FAKE_LOG": str(log),
        "FAKE_FAIL": fail,
        "PREC_DIR": str(tmp_path / "precision"),
    }
    done = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "gpu_all.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, log.read_text().splitlines()


def _sections(tmp_path: Path) -> list[dict]:
    lines = (tmp_path / "out" / "bench.jsonl").read_text().splitlines()
    return [json.loads(s) for s in lines if '"section"' in s]


def test_dry_run_runs_every_section_compiled_step_first(tmp_path: Path) -> None:
    done, calls = _run_dry(tmp_path)
    assert done.returncode == 0, done.stderr
    sections = _sections(tmp_path)
    assert sections[0]["name"].startswith("train_bf16_b2_compile")  # the goal comes first
    assert len(sections) >= 8 and all(s["rc"] == 0 for s in sections)
    assert "all exited 0" in done.stdout
    benches = [shlex.split(c)[3:] for c in calls if c.startswith("-m noiseda_core bench")]
    assert len(benches) >= 5
    for argv in benches:  # a misspelt option would only fail on the GPU, minutes in
        args = build_parser().parse_args(["bench", *argv])
        assert args.device == "cpu" and args.preset == "tiny"
    assert any("--compile" in argv for argv in benches)


def test_dry_run_fails_when_a_section_fails(tmp_path: Path) -> None:
    done, _ = _run_dry(tmp_path, fail="--restore-sizes")
    assert done.returncode == 1
    assert "restore_bf16" in done.stderr and "failed" in done.stderr
    assert [s["rc"] for s in _sections(tmp_path) if s["name"] == "restore_bf16"] == [3]
