"""One training process per run folder: an advisory lock on ``RUN_DIR/.lock``.

The lock is an ``flock`` held for the life of the training process, so the
operating system drops it when the process dies (even with ``kill -9``). The
file itself stays behind and holds the pid of the last owner, for people.
Others can ask ``is_locked(run_dir)`` without taking it (the app's runs panel).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from .errors import UserError

LOCK_NAME = ".lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, no refusal
    fcntl = None  # type: ignore[assignment]


class RunLock:
    """An exclusive lock on one run folder; ``release()`` (or process exit) frees it."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise ``UserError`` naming the process that holds it."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise UserError(f"cannot lock the run folder {self.path.parent} "
                            f"({exc.strerror or exc}); is it writable?") from None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = _read_owner(fd)
                os.close(fd)
                raise UserError(
                    f"run folder {self.path.parent} is in use by another training process"
                    f"{f' ({owner})' if owner else ''}; wait for it to finish or stop it first"
                ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __del__(self) -> None:  # a forgotten lock must not outlive its owner object
        self.release()


def _read_owner(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 200).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def is_locked(run_dir: Path) -> bool:
    """True when a live process holds the run folder's lock (it is training now)."""
    path = Path(run_dir) / LOCK_NAME
    if fcntl is None or not path.is_file():
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock we may just have taken
    return False
