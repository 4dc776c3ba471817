"""Atomic writes: the umask is respected, a full or read-only disk is one clear error."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from noiseda_core.atomic import atomic_write, atomic_write_bytes, remove_stale_temporaries
from noiseda_core.errors import UserError


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o027
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_files_get_the_mode_of_a_plain_open(tmp_path: Path, umask_027: int) -> None:
    atomic_write_bytes(tmp_path / "a.bin", b"x")
    with open(tmp_path / "plain.bin", "wb") as handle:
        handle.write(b"x")
    assert _mode(tmp_path / "a.bin") == 0o666 & ~umask_027 == _mode(tmp_path / "plain.bin")


def test_a_full_disk_is_one_user_error_and_leaves_no_temporary(tmp_path: Path) -> None:
    def write(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    (tmp_path / "m.bin").write_bytes(b"old")
    with pytest.raises(UserError, match=r"m\.bin.*disk is full"):
        atomic_write(tmp_path / "m.bin", write)
    assert (tmp_path / "m.bin").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.bin"]


@pytest.mark.parametrize("refused", ["mkstemp", "replace"])
def test_a_folder_without_write_permission_is_one_user_error(
    tmp_path: Path, monkeypatch, refused: str
) -> None:
    """EACCES from the OS (a folder the user may not write; root is never refused, so the
    refusal is injected where the OS gives it): one error naming the file, nothing left over."""
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile if refused == "mkstemp" else os, refused, denied)
    (tmp_path / "x.bin").write_bytes(b"old")
    with pytest.raises(UserError, match=r"cannot write .*x\.bin.*permission denied"):
        atomic_write_bytes(tmp_path / "x.bin", b"new")
    assert (tmp_path / "x.bin").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_a_read_only_file_system_is_one_user_error(tmp_path: Path, monkeypatch) -> None:
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(UserError, match=r"cannot write .*x\.bin.*read-only file system"):
        atomic_write_bytes(tmp_path / "x.bin", b"x")


def test_other_errors_stay_errors(tmp_path: Path) -> None:
    def write(tmp: Path) -> None:
        raise OSError(errno.EIO, "I/O error")

    with pytest.raises(OSError) as info:
        atomic_write(tmp_path / "m.bin", write)
    assert not isinstance(info.value, UserError)


def test_stale_temporaries_are_removed(tmp_path: Path) -> None:
    (tmp_path / "checkpoints").mkdir()
    stale = tmp_path / "checkpoints" / ".last.pt.abc123.tmp"
    stale.write_bytes(b"x" * 10)
    keep = tmp_path / "checkpoints" / "last.pt"
    keep.write_bytes(b"y")
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert keep.exists() and not stale.exists()


def test_writers_that_replace_their_file_still_get_the_umask_mode(
    tmp_path: Path, umask_027: int
) -> None:
    import torch
    from safetensors.torch import save_file

    atomic_write(tmp_path / "m.safetensors", lambda tmp: save_file({"w": torch.zeros(2)}, str(tmp)))
    assert _mode(tmp_path / "m.safetensors") == 0o666 & ~umask_027


def test_a_full_disk_reported_by_a_rust_writer_is_one_user_error(tmp_path: Path) -> None:
    class SafetensorError(Exception):  # what safetensors raises, not an OSError
        pass

    def write(tmp: Path) -> None:
        raise SafetensorError(
            "Error while serializing: I/O error: No space left on device (os error 28)"
        )

    with pytest.raises(UserError, match="disk is full"):
        atomic_write(tmp_path / "m.safetensors", write)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("links", [True, False])
def test_a_new_file_never_replaces_one_that_appeared_meanwhile(
    tmp_path: Path, monkeypatch, links: bool
) -> None:
    if not links:  # FAT, some FUSE mounts: no hard links, the name is claimed instead

        def no_link(src, dst):
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    target = tmp_path / "out.bin"

    def write_while_another_writes(tmp: Path) -> None:
        tmp.write_bytes(b"ours")
        target.write_bytes(b"theirs")  # another process, between our check and our write

    with pytest.raises(FileExistsError):
        atomic_write(target, write_while_another_writes, replace=False)
    assert target.read_bytes() == b"theirs"
    atomic_write_bytes(tmp_path / "new.bin", b"ours", replace=False)
    assert (tmp_path / "new.bin").read_bytes() == b"ours"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.bin", "out.bin"]
