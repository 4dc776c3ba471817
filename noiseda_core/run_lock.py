"""One training process per run folder: an advisory lock on ``RUN_DIR/.lock``.

The lock is an ``flock`` held for the life of the training process, so the
operating system drops it when the process dies (even with ``kill -9``). The
file itself stays behind and holds the pid of the last owner, for people.
Others can ask ``is_locked(run_dir)`` without taking it (the app's runs panel).

File systems without ``flock`` (Lustre mounted without ``-o flock``, some NFS: the
call fails with ENOSYS, EOPNOTSUPP or ENOLCK) get a lock file instead:
``RUN_DIR/.lock.pid`` created exclusively, holding ``pid N on HOST``. A file left by
a process that is gone (same host, dead pid) is stale and taken over; a file from
another host cannot be checked from here and counts as held (its message says how
to free it).

``.lock`` is opened without following symbolic links, and its contents are replaced
only when they are a lock record this module wrote: a planted link or a foreign file
is refused with a message, never truncated.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import stat
from pathlib import Path

from .atomic import atomic_write_bytes
from .errors import UserError

LOCK_NAME = ".lock"
PID_LOCK_NAME = ".lock.pid"  # the lock where flock does not work

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, no refusal
    fcntl = None  # type: ignore[assignment]

# flock is not available on this file system (as opposed to: someone holds it)
NO_FLOCK = {
    errno.ENOSYS,
    errno.EOPNOTSUPP,
    errno.ENOLCK,
    errno.EINVAL,
    getattr(errno, "ENOTSUP", errno.EOPNOTSUPP),
}
_RECORD = re.compile(r"^pid (\d+) on (\S*)\n?$")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _record() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}\n"


def _parse(text: str) -> tuple[int, str] | None:
    """(pid, host) of a lock record, None for anything else."""
    found = _RECORD.match(text)
    return (int(found.group(1)), found.group(2)) if found else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OverflowError:  # no such pid can exist
        return False
    except OSError:  # PermissionError: alive, another user's
        return True
    return True


def _holder_alive(record: tuple[int, str] | None) -> bool:
    """Whether the process a lock record names may still run (another host: assume so)."""
    if record is None:
        return True
    pid, host = record
    return host != socket.gethostname() or _pid_alive(pid)


class RunLock:
    """An exclusive lock on one run folder; ``release()`` (or process exit) frees it."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.pid_path = Path(run_dir) / PID_LOCK_NAME
        self._fd: int | None = None
        self._pid_file = False  # holding .lock.pid (no flock here)

    def acquire(self) -> RunLock:
        """Take the lock or raise ``UserError`` naming the process that holds it."""
        fd = self._open()
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    if exc.errno not in NO_FLOCK:
                        raise self._in_use(_read_text(fd)) from None
                    self._take_pid_file()
            os.ftruncate(fd, 0)  # empty or a lock record (``_open`` checked): ours to replace
            os.pwrite(fd, _record().encode(), 0)
        except BaseException:
            os.close(fd)
            self.release()  # the .lock.pid this call may have made
            raise
        self._fd = fd
        return self

    def _open(self) -> int:
        """A descriptor of ``.lock``, made if missing; a link or a foreign file is refused."""
        folder = self.path.parent
        for _ in range(3):
            try:
                return os.open(
                    self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o666
                )
            except FileExistsError:
                pass
            except OSError as exc:
                raise UserError(
                    f"cannot lock the run folder {folder} ({exc.strerror or exc}); is it writable?"
                ) from None
            try:
                fd = os.open(self.path, os.O_RDWR | _NOFOLLOW | _CLOEXEC)
            except FileNotFoundError:
                continue  # removed in between: create it again
            except OSError as exc:
                if exc.errno == errno.ELOOP or self.path.is_symlink():
                    raise UserError(
                        f"{self.path} is a symbolic link; a run folder's lock is never followed "
                        f"(it could point at any file): remove it (rm {self.path}) and try "
                        "again"
                    ) from None
                raise UserError(
                    f"cannot lock the run folder {folder} ({exc.strerror or exc}); is it writable?"
                ) from None
            info = os.fstat(fd)
            if (
                not stat.S_ISREG(info.st_mode)
                or info.st_nlink > 1
                or (info.st_size and _parse(_read_text(fd)) is None)
            ):
                os.close(fd)
                raise UserError(
                    f"{self.path} is not a lock file Noise-DA Studio wrote (a link to another "
                    f"file, or other contents); it was left untouched: move it away and try "
                    "again"
                )
            return fd
        raise UserError(f"cannot lock the run folder {folder}: {self.path} keeps disappearing")

    def _in_use(self, owner_text: str) -> UserError:
        owner = owner_text.strip()
        return UserError(
            f"run folder {self.path.parent} is in use by another training process"
            f"{f' ({owner})' if owner else ''}; wait for it to finish or stop it first"
        )

    def _take_pid_file(self) -> None:
        """The lock where flock is missing: create ``.lock.pid`` exclusively (stale: take over).

        The record appears whole or not at all (``atomic_write_bytes(replace=False)``).
        """
        for _ in range(2):
            try:
                atomic_write_bytes(self.pid_path, _record().encode(), replace=False)
            except FileExistsError:
                text = _read_path(self.pid_path)
                record = _parse(text)
                if record is None or _holder_alive(record):
                    raise self._in_use(_pid_owner(self.pid_path, text)) from None
                _remove_if_unchanged(self.pid_path, text)  # stale: its process is gone
                continue
            self._pid_file = True
            return
        raise self._in_use(_read_path(self.pid_path))

    def release(self) -> None:
        if self._pid_file:
            self._pid_file = False
            _remove_if_unchanged(self.pid_path, _record())
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __del__(self) -> None:  # a forgotten lock must not outlive its owner object
        self.release()


def _read_text(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace")
    except OSError:
        return ""


def _read_path(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except OSError:
        return ""
    try:
        return _read_text(fd)
    finally:
        os.close(fd)


def _pid_owner(path: Path, text: str) -> str:
    """Who holds a ``.lock.pid`` lock, for the message, with how to free it when we cannot tell."""
    record = _parse(text)
    if record is not None and record[1] == socket.gethostname():
        return text.strip()
    return f"{text.strip() or 'unknown'}; if no training runs there any more, remove {path}"


def _remove_if_unchanged(path: Path, text: str) -> None:
    """Remove ``path`` if it still holds ``text`` (never another process's fresh claim)."""
    if _read_path(path) == text:
        path.unlink(missing_ok=True)


def is_locked(run_dir: Path) -> bool:
    """True when a live process holds the run folder's lock (it is training now).

    Without ``flock`` this reads ``.lock.pid``: a dead pid on this host is not running.
    """
    pid_path = Path(run_dir) / PID_LOCK_NAME
    if os.path.lexists(pid_path) and _holder_alive(_parse(_read_path(pid_path))):
        return True
    path = Path(run_dir) / LOCK_NAME
    if fcntl is None or not path.is_file():
        return False
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno not in NO_FLOCK
    finally:
        os.close(fd)  # also drops the shared lock we may just have taken
    return False
