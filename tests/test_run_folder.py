"""The run folder: torn event lines, the lock, restarting a run with no checkpoint,
read_run_status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from noiseda_core.config import Config
from noiseda_core.errors import UserError
from noiseda_core.events import Checkpoint, Failed, Finished, Progress, Started, Validation
from noiseda_core.run_folder import RunFolder, read_events
from noiseda_core.run_lock import is_locked
from noiseda_core.run_status import RunStatus, find_runs, read_run_status


def _folder_with(tmp_path: Path, *events, torn: str = "") -> RunFolder:
    folder = RunFolder.create(tmp_path / "run", Config())
    for event in events:
        folder.append_event(event)
    folder.close()
    if torn:
        with open(folder.events_path, "a", encoding="utf-8") as handle:
            handle.write(torn)
    return folder


def test_a_torn_last_line_is_skipped_by_readers_and_closed_by_the_next_append(
    tmp_path: Path,
) -> None:
    folder = _folder_with(
        tmp_path, Started(step=0, total_steps=10), Progress(step=1), torn='{"type": "progress", "st'
    )
    assert [type(e) for e in read_events(folder.root)] == [Started, Progress]
    again = RunFolder.existing(folder.root)
    again.append_event(Progress(step=2))
    again.close()
    assert [e.step for e in read_events(folder.root)] == [0, 1, 2]


def test_truncating_events_drops_torn_lines_and_steps_past_the_checkpoint(tmp_path: Path) -> None:
    folder = _folder_with(
        tmp_path,
        Started(step=0, total_steps=10),
        Progress(step=1),
        Checkpoint(step=1),
        Progress(step=2),
        torn='{"type": "pro',
    )
    again = RunFolder.existing(folder.root)
    again.truncate_events(after_step=1)
    again.close()
    lines = folder.events_path.read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["started", "progress", "checkpoint"]


def test_a_second_process_cannot_take_a_running_folder(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path / "run", Config())
    assert is_locked(folder.root)
    with pytest.raises(UserError, match="in use by another training process"):
        RunFolder.existing(folder.root)
    folder.close()
    assert not is_locked(folder.root)
    RunFolder.existing(folder.root).close()


def test_a_killed_process_leaves_the_folder_unlocked(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path / "run", Config())
    folder.close()
    code = textwrap.dedent(f"""
        import os, signal
        from noiseda_core.run_folder import RunFolder
        f = RunFolder.existing({str(folder.root)!r})
        print("locked", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "locked" in result.stdout and result.returncode == -9
    assert not is_locked(folder.root)


def test_a_folder_without_checkpoint_may_be_started_again(tmp_path: Path) -> None:
    folder = _folder_with(tmp_path, Started(step=0, total_steps=10), Progress(step=1))
    again = RunFolder.create(folder.root, Config())
    again.close()
    assert read_events(folder.root) == []


@pytest.mark.parametrize("result", ["model", "preview", "finished"])
def test_a_folder_with_a_runs_results_is_never_started_over(tmp_path: Path, result: str) -> None:
    folder = _folder_with(
        tmp_path,
        Started(step=0, total_steps=10),
        Progress(step=10),
        *([Finished(step=10)] if result == "finished" else []),
    )
    if result == "model":
        folder.model_path.write_bytes(b"weights")
    if result == "preview":
        (folder.previews / "step_000010_real_0.png").write_bytes(b"png")
    before = {
        p: p.read_bytes() for p in folder.root.rglob("*") if p.is_file() and p.name != ".lock"
    }
    expected = {
        "model": "model.safetensors",
        "preview": "1 preview image",
        "finished": "a finished run in events.jsonl",
    }[result]
    with pytest.raises(
        UserError,
        match=rf"{folder.root}.*{expected}.*no checkpoint.*nothing was "
        r"changed.*--run-dir NEW_FOLDER",
    ):
        RunFolder.create(folder.root, Config())
    after = {p: p.read_bytes() for p in folder.root.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before


def test_a_folder_with_a_checkpoint_or_foreign_files_is_never_started_over(tmp_path: Path) -> None:
    folder = _folder_with(tmp_path, Started(step=0, total_steps=10))
    (folder.root / "checkpoints").mkdir()
    (folder.root / "checkpoints" / "last.pt").write_bytes(b"state")
    with pytest.raises(UserError, match="--resume"):
        RunFolder.create(folder.root, Config())
    other = tmp_path / "photos"
    other.mkdir()
    (other / "config.toml").write_text("")
    (other / "holiday.jpg").write_bytes(b"jpg")
    with pytest.raises(UserError, match="already holds files"):
        RunFolder.create(other, Config())
    assert (other / "holiday.jpg").exists()


def test_read_run_status_tells_each_state_apart(tmp_path: Path) -> None:
    def state(name: str, *events, torn: str = ""):
        return read_run_status(_folder_with(tmp_path / name, *events, torn=torn).root)

    start = Started(step=0, total_steps=10)
    done = state(
        "done",
        start,
        Validation(step=5, psnr=30.0),
        Validation(step=10, psnr=29.0),
        Finished(step=10),
    )
    assert (done.status, done.step, done.total_steps, done.best_psnr, done.best_psnr_step) == (
        RunStatus.FINISHED,
        10,
        10,
        30.0,
        5,
    )
    assert state("stop", start, Finished(step=4, stopped=True)).status == RunStatus.STOPPED
    failed = state("fail", start, Failed(step=3, message="NaN"))
    assert failed.status == RunStatus.FAILED and failed.message == "NaN"
    killed = state("kill", start, Progress(step=3, total_steps=10), torn='{"ty')
    assert killed.status == RunStatus.INTERRUPTED and killed.step == 3 and killed.can_resume
    again = state("again", start, Finished(step=4, stopped=True), Started(step=4, total_steps=10))
    assert again.status == RunStatus.INTERRUPTED
    assert (
        state(
            "never",
        ).status
        == RunStatus.INTERRUPTED
    )
    live = RunFolder.existing(tmp_path / "done" / "run")
    assert read_run_status(live.root).status == RunStatus.RUNNING
    live.close()
    assert done.started is not None and done.updated is not None and done.checkpoint_step is None
    assert {s.path.parent.name for s in find_runs(tmp_path / "kill")} == {"kill"}


@pytest.mark.parametrize(
    "bad",
    [
        '{"type": "progress", "step": "abc"}',
        '{"type": "progress", "step": 1e400}',
        '{"type": "validation", "step": 5, "psnr": "high"}',
        '{"type": "finished", "step": 10, "stopped": "no"}',
        "[1, 2, 3]",
        "garbage \x00 here",
    ],
)
def test_a_damaged_event_line_stays_in_its_own_run(tmp_path: Path, bad: str) -> None:
    damaged = _folder_with(
        tmp_path / "bad", Started(step=0, total_steps=10), Validation(step=5, psnr=30.0)
    ).root
    lines = damaged.joinpath("events.jsonl").read_text().splitlines()
    lines.insert(1, bad)  # a line in the middle: not a tear from a kill
    damaged.joinpath("events.jsonl").write_text("\n".join(lines) + "\n")
    _folder_with(tmp_path / "good", Started(step=0, total_steps=10), Finished(step=10))
    state = read_run_status(damaged)
    assert (state.status, state.step, state.best_psnr, state.damaged) == (
        RunStatus.INTERRUPTED,
        5,
        30.0,
        1,
    )
    assert "damaged" in state.message and "events.jsonl" in state.message
    assert [isinstance(e.step, int) for e in read_events(damaged)] == [True, True]
    listed = {
        s.path.parent.name: s for s in find_runs(tmp_path / "bad") + find_runs(tmp_path / "good")
    }
    assert listed["good"].status == RunStatus.FINISHED and listed["good"].damaged == 0


@pytest.fixture
def no_flock(monkeypatch):
    """A file system without flock (Lustre without -o flock, some NFS): ENOSYS."""
    import errno
    import fcntl

    def flock(fd, operation):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(fcntl, "flock", flock)


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def test_without_flock_a_lock_file_keeps_one_trainer_and_a_dead_one_frees_it(
    tmp_path: Path, no_flock
) -> None:
    import socket

    folder = RunFolder.create(tmp_path / "run", Config())
    assert is_locked(folder.root) and read_run_status(folder.root).status == RunStatus.RUNNING
    with pytest.raises(UserError, match=rf"in use by another training process \(pid {os.getpid()}"):
        RunFolder.existing(folder.root)
    folder.close()
    assert not is_locked(folder.root) and not (folder.root / ".lock.pid").exists()
    assert read_run_status(folder.root).status == RunStatus.INTERRUPTED
    # what a kill -9 leaves: the record of a process that is gone
    (folder.root / ".lock.pid").write_text(f"pid {_dead_pid()} on {socket.gethostname()}\n")
    assert not is_locked(folder.root)
    again = RunFolder.existing(folder.root)
    assert (
        folder.root / ".lock.pid"
    ).read_text() == f"pid {os.getpid()} on {socket.gethostname()}\n"
    again.close()
    # another host's process cannot be checked from here: held, and the message says what to do
    (folder.root / ".lock.pid").write_text("pid 12 on some-other-node\n")
    assert is_locked(folder.root)
    with pytest.raises(UserError, match=r"pid 12 on some-other-node.*remove .*\.lock\.pid"):
        RunFolder.existing(folder.root)


def test_a_run_killed_without_flock_is_not_running_and_resumes(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path / "run", Config())
    folder.close()
    code = textwrap.dedent(f"""
        import errno, fcntl, os, signal
        def flock(fd, op):
            raise OSError(errno.ENOSYS, "Function not implemented")
        fcntl.flock = flock
        from noiseda_core.run_folder import RunFolder
        f = RunFolder.existing({str(folder.root)!r})
        print("locked", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert "locked" in result.stdout and result.returncode == -9
    assert (folder.root / ".lock.pid").exists()
    assert not is_locked(folder.root) and read_run_status(folder.root).status != RunStatus.RUNNING
    RunFolder.existing(folder.root).close()


@pytest.mark.parametrize("plant", ["symlink", "hardlink"])
def test_a_planted_lock_link_never_touches_its_target(tmp_path: Path, plant: str) -> None:
    folder = RunFolder.create(tmp_path / "run", Config())
    folder.close()
    victim = tmp_path / "thesis.txt"
    victim.write_bytes(b"four years of work\n")
    (folder.root / ".lock").unlink()
    if plant == "symlink":
        (folder.root / ".lock").symlink_to(victim)
    else:
        os.link(victim, folder.root / ".lock")
    with pytest.raises(UserError, match=r"\.lock.*(symbolic link|not a lock file).*"):
        RunFolder.existing(folder.root)
    assert victim.read_bytes() == b"four years of work\n"
    assert not is_locked(folder.root)


def test_a_lock_file_with_other_contents_is_left_untouched(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path / "run", Config())
    folder.close()
    (folder.root / ".lock").write_bytes(b"my notes, not a lock\n")
    with pytest.raises(UserError, match="not a lock file"):
        RunFolder.existing(folder.root)
    assert (folder.root / ".lock").read_bytes() == b"my notes, not a lock\n"


def test_the_command_line_puts_runs_where_the_app_lists_them(tmp_path, monkeypatch) -> None:
    from noiseda_core.run_folder import default_run_dir

    monkeypatch.delenv("NOISEDA_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    run = default_run_dir(Path("configs/demo.toml"))
    assert run.parent == tmp_path / "NoiseDA" / "runs" and run.name.startswith("demo-")
    monkeypatch.setenv("NOISEDA_DATA_DIR", str(tmp_path / "data"))
    assert default_run_dir(None).parent == tmp_path / "data" / "runs"


def test_every_path_of_a_run_folder_is_named_by_run_folder(tmp_path: Path) -> None:
    """``RunFolder(root)`` names the layout without touching the disk; the run's writers
    put their files exactly there."""
    named = RunFolder(tmp_path / "run")
    assert not named.root.exists()  # naming creates nothing
    folder = _folder_with(tmp_path, Started(step=0, total_steps=2))
    assert named.config_path.is_file() and named.events_path.is_file()
    assert named.previews.is_dir()
    assert named.checkpoint_path.parent.name == "checkpoints"
    assert read_events(named.root) == named.read_events() == folder.read_events()


def test_the_timeline_drops_the_steps_a_resume_redoes(tmp_path: Path) -> None:
    folder = _folder_with(
        tmp_path,
        Started(step=0, total_steps=10),
        Progress(step=1),
        Checkpoint(step=2, path="c"),
        Progress(step=3),  # logged, then killed: the resume goes back to step 2
        Started(step=2, total_steps=10),
        Progress(step=3),
    )
    assert [(type(e).__name__, e.step) for e in folder.timeline()] == [
        ("Started", 0),
        ("Progress", 1),
        ("Checkpoint", 2),
        ("Started", 2),
        ("Progress", 3),
    ]


def test_starting_in_a_folder_holding_only_its_config_replaces_the_config_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app writes the run's config.toml and starts the worker on it: the start replaces
    it atomically (never removed first: under torchrun other ranks are still reading it)."""
    from dataclasses import replace

    from noiseda_core.config import load_config, save_config

    named = RunFolder(tmp_path / "run")
    named.root.mkdir()
    save_config(Config(), named.config_path)
    removed: list[Path] = []
    unlink = Path.unlink
    monkeypatch.setattr(Path, "unlink", lambda p, *a, **k: (removed.append(p), unlink(p, *a, **k)))
    cfg = replace(Config(), train=replace(Config().train, seed=1))
    RunFolder.create(named.root, cfg).close()
    assert named.config_path not in removed
    assert load_config(named.config_path) == cfg


def test_the_cli_and_the_app_name_new_runs_alike(tmp_path: Path) -> None:
    from noiseda_core.run_folder import new_run_dir

    first = new_run_dir(tmp_path, "noise-da")
    assert first.parent == tmp_path and first.name.startswith("noise-da-2")
    first.mkdir()
    # taken: another name (a suffix within the same second)
    second = new_run_dir(tmp_path, "noise-da")
    assert second != first and not second.exists()
