"""Run a plain function off the GUI thread and get its outcome back on the GUI thread.

    run_in_thread(lambda: inspect_folder(path, role), on_done=show, on_error=complain)

or, for a pool of one's own (one job at a time, in order) and progress reports:

    task = Task(fn, *args, wants_progress=True)
    task.signals.done.connect(...); task.signals.failed.connect(...)
    pool.start(task)

Signals arrive on the GUI thread (queued): ``done(result)``, ``failed(message)`` and
``progress(i, n, name)``. A ``UserError`` becomes its own message; anything else becomes
one line naming the exception, and its traceback goes to the log. Results of superseded
calls are the caller's business (compare a token); nothing here blocks the event loop.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from noiseda_core.errors import UserError

log = logging.getLogger(__name__)


def error_message(exc: BaseException) -> str:
    """What the user reads about a failed task: the UserError's own text, else the exception."""
    if isinstance(exc, UserError):
        return str(exc)
    return f"Unexpected error: {type(exc).__name__}: {exc}"


class TaskSignals(QObject):
    done = Signal(object)
    failed = Signal(str)
    progress = Signal(int, int, str)


class Task(QRunnable):
    """Run ``fn(*args, **kwargs)`` on a pool thread; report through ``self.signals``.

    ``fn`` also receives ``progress`` (a callable ``(i, n, name)``) when ``wants_progress``.
    Create it on the GUI thread, so that its signals are delivered there.
    """

    def __init__(
        self, fn: Callable[..., Any], *args: Any, wants_progress: bool = False, **kwargs: Any
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)  # Python owns it: keep a reference until it reports
        self.signals = TaskSignals()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        if wants_progress:
            self._kwargs["progress"] = lambda i, n, name: self.signals.progress.emit(i, n, name)

    def run(self) -> None:  # worker thread
        try:
            result = self._fn(*self._args, **self._kwargs)
        except Exception as exc:  # a worker must never take the window down
            if not isinstance(exc, UserError):
                log.exception("background task failed")
            outcome: tuple = (self.signals.failed, error_message(exc))
        else:
            outcome = (self.signals.done, result)
        # RuntimeError: the application is shutting down and nobody is listening
        with contextlib.suppress(RuntimeError):
            outcome[0].emit(outcome[1])


def wait_all(timeout_ms: int = 10_000) -> bool:
    """Let running tasks end (at exit), so no thread outlives the objects it reports to."""
    return QThreadPool.globalInstance().waitForDone(timeout_ms)


_alive: set[Task] = set()


def _receiver_gone(callback: Callable[..., None] | None) -> bool:
    """True when ``callback`` is a method of a Qt object already deleted (a closed view)."""
    owner = getattr(callback, "__self__", None)
    return isinstance(owner, QObject) and not shiboken6.isValid(owner)


def run_in_thread(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str], None] | None = None,
) -> None:
    """Call ``fn()`` on the global thread pool; route its result or error message to the callbacks.

    A callback that is a method of a Qt object deleted meanwhile (its view was closed)
    is not called.
    """
    task = Task(fn)
    _alive.add(task)

    def finish_ok(result: Any) -> None:
        _alive.discard(task)
        if on_done is not None and not _receiver_gone(on_done):
            on_done(result)

    def finish_err(message: str) -> None:
        _alive.discard(task)
        if on_error is not None and not _receiver_gone(on_error):
            on_error(message)

    task.signals.done.connect(finish_ok)
    task.signals.failed.connect(finish_err)
    QThreadPool.globalInstance().start(task)


def pending() -> int:
    """Tasks started and not yet reported back (tests wait for zero)."""
    return len(_alive)
