"""Atomic file writes: write to a temporary file beside the target, fsync, rename.

A kill at any moment leaves either the old file or the new one, never half. With
``replace=False`` the file is created exclusively at the very last moment (a hard link
of the finished temporary to the name, which fails when the name exists), so a file
that another process made meanwhile is never replaced: ``FileExistsError``. The
file gets the mode a plain ``open()`` would give it (``0o666`` less the umask),
not ``mkstemp``'s private ``0o600``. A full disk or a read-only folder becomes
one ``UserError`` naming the file, and no temporary file is left behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import UserError

TMP_SUFFIX = ".tmp"

# errno values that mean "the place is full or not writable", not a bug of ours
_DISK_ERRORS = {
    errno.ENOSPC: "the disk is full; free some space or choose another folder",
    errno.EDQUOT: "the disk quota is exceeded; free some space or choose another folder",
    errno.EROFS: "the folder is on a read-only file system; choose another folder",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "permission denied; choose a folder you can write to",
    errno.EFBIG: "the file is too large for this file system; choose another folder",
}


def current_umask() -> int:
    """The process umask (read without changing it for long)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """What ``open(path, "w")`` would create: ``0o666 & ~umask``."""
    return 0o666 & ~current_umask()


def disk_error(path: Path, exc: OSError) -> UserError | None:
    """A ``UserError`` for a full or unwritable disk, or None for other errors."""
    advice = _DISK_ERRORS.get(exc.errno or 0)
    if advice is None:
        return None
    return UserError(f"cannot write {path}: {advice} ({exc.strerror or exc})")


def _as_os_error(exc: BaseException) -> OSError:
    """``exc`` as an OSError: writers in Rust (safetensors) report ``... (os error 28)``."""
    if isinstance(exc, OSError):
        return exc
    found = re.search(r"os error (\d+)", str(exc))
    return OSError(int(found.group(1)) if found else 0, str(exc))


# link() is not supported here (FAT, some FUSE and SMB mounts): claim the name instead
_NO_LINKS = {
    errno.EPERM,
    errno.EOPNOTSUPP,
    getattr(errno, "ENOTSUP", errno.EOPNOTSUPP),
    errno.ENOSYS,
    errno.EMLINK,
    errno.EXDEV,
}


def _publish_new(tmp: Path, path: Path) -> None:
    """Give the finished ``tmp`` the name ``path`` only if no file has it (else FileExistsError)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        # no hard links: claim the name (an empty file for an instant), then fill it
        os.close(
            os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600
            )
        )
        os.replace(tmp, path)
    else:
        tmp.unlink()


def _temporary_beside(path: Path) -> Path:
    """A new empty temporary file in ``path``'s folder (made when missing).

    A folder that cannot hold files (a regular file on the way, ``/proc``) is a
    ``UserError``; a full or read-only disk stays an ``OSError`` for the caller.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    except OSError as exc:
        if disk_error(path, exc) is not None:
            raise
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        why = (
            f"{blocker} is a file, not a folder"
            if blocker is not None
            else f"no file can be made in {path.parent} ({exc.strerror or exc})"
        )
        raise UserError(f"cannot write {path}: {why}; choose another place") from None
    os.close(fd)
    return Path(name)


def atomic_write(path: Path, write: Callable[[Path], None], *, replace: bool = True) -> None:
    """Call ``write(tmp_path)`` then move ``tmp_path`` onto ``path`` atomically.

    ``replace=False``: never replace an existing ``path``, not even one that appears
    while ``write`` runs (``FileExistsError``). Raises ``UserError`` when the disk is
    full or the folder cannot be written.
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        tmp = _temporary_beside(path)
        write(tmp)
        with open(tmp, "rb+") as handle:
            # After write(): some writers (safetensors) replace the file they are given.
            # No fchmod on Windows (AttributeError); a file system without modes (OSError).
            with contextlib.suppress(AttributeError, OSError):
                os.fchmod(handle.fileno(), default_file_mode())
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            _publish_new(tmp, path)
        tmp = None
    except Exception as exc:
        friendly = disk_error(path, _as_os_error(exc))
        if friendly is not None:
            raise friendly from None
        raise
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (``replace=False``: only as a new file)."""

    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    atomic_write(path, write, replace=replace)


def remove_stale_temporaries(folder: Path, recursive: bool = True) -> list[Path]:
    """Delete ``.NAME.*.tmp`` files that killed atomic writes left in ``folder``.

    Only call this while no other process writes there (a run folder whose lock
    you hold). Returns the files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    pattern = f".*{TMP_SUFFIX}"
    found = folder.rglob(pattern) if recursive else folder.glob(pattern)
    removed = []
    for path in found:
        if path.is_file():
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed
