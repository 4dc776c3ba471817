"""Run a plain function on Qt's thread pool and get its result back on the GUI thread.

    run_in_thread(lambda: inspect_folder(path, role), on_done=show, on_error=complain)

Callbacks run on the GUI thread (queued signal). Results of superseded calls are
the caller's business (compare a token); nothing here blocks the event loop.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Relay(QObject):
    done = Signal(object)
    error = Signal(object, str)  # exception, formatted traceback


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn = fn
        self.relay = relay
        self.setAutoDelete(False)

    def run(self) -> None:  # worker thread
        try:
            result = self.fn()
        except Exception as exc:  # reported to the GUI, never swallowed
            outcome: tuple = (self.relay.error, exc, traceback.format_exc())
        else:
            outcome = (self.relay.done, result)
        try:
            outcome[0].emit(*outcome[1:])
        except RuntimeError:  # the application is shutting down: nobody is listening
            pass


def wait_all(timeout_ms: int = 10_000) -> bool:
    """Let running tasks end (at exit), so no thread outlives the objects it reports to."""
    return QThreadPool.globalInstance().waitForDone(timeout_ms)


_alive: set[_Task] = set()


def run_in_thread(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException, str], None] | None = None,
) -> None:
    """Call ``fn()`` on the global thread pool; route its outcome to the callbacks."""
    relay = _Relay()  # created on the GUI thread, so its signals are delivered there
    task = _Task(fn, relay)
    _alive.add(task)

    def finish_ok(result: Any) -> None:
        _alive.discard(task)
        if on_done is not None:
            on_done(result)

    def finish_err(exc: BaseException, tb: str) -> None:
        _alive.discard(task)
        if on_error is not None:
            on_error(exc, tb)

    relay.done.connect(finish_ok)
    relay.error.connect(finish_err)
    QThreadPool.globalInstance().start(task)


def pending() -> int:
    """Tasks started and not yet reported back (tests wait for zero)."""
    return len(_alive)
