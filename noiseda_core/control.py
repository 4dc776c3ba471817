"""Pause / resume / stop requests reaching a running training loop.

The loop polls ``RunControl`` once per step. Requests come from stdin lines
(``pause``, ``resume``, ``stop`` — how the GUI's worker talks to the child),
from Ctrl-C, SIGTERM or SIGHUP (the first one stops cleanly with a checkpoint and
the model; a second one aborts), from the parent going away (stdin at its end),
or from code. ``stop_reason`` says which.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

# what ``signal.signal`` returns and takes back: a function, SIG_DFL/SIG_IGN or None
SignalHandler = Callable[[int, FrameType | None], object] | int | None

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
STUCK_GRACE_S = 20.0  # a stop signal Python has not handled by then means native code hangs


class RunControl:
    """Thread-safe flags the training loop checks between steps."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.stop_reason = ""
        self.parent_gone = False
        self._signals_seen = 0  # stop signals the watcher thread saw arrive
        self._signals_handled = 0  # ... and those Python's handler has run for
        self._previous_handlers: dict[int, SignalHandler] = {}
        self._wakeup: tuple[int, int] | None = None  # (previous wakeup fd, our pipe's write end)

    def request_stop(self, reason: str = "requested") -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
        self._stop.set()
        self._running.set()  # a paused loop must wake up to stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_while_paused(self, timeout: float = 0.2) -> None:
        """Block while paused (in short slices so the caller can keep a heartbeat)."""
        self._running.wait(timeout)

    def handle_command(self, line: str) -> None:
        command = line.strip().lower()
        if command == "pause":
            self.pause()
        elif command == "resume":
            self.resume()
        elif command == "stop":
            self.request_stop()

    def listen_stdin(self) -> threading.Thread:
        """Read control lines from stdin in a daemon thread; EOF means stop (parent gone)."""

        def read() -> None:
            try:
                for line in sys.stdin:
                    self.handle_command(line)
            except (OSError, ValueError):  # stdin closed under us: the same as its end
                pass
            self.parent_gone = True
            self.request_stop("parent gone")

        thread = threading.Thread(target=read, name="control-stdin", daemon=True)
        thread.start()
        return thread

    def install_sigint(self, say: Callable[[str], None] | None = None) -> None:
        """First Ctrl-C, SIGTERM or SIGHUP: stop cleanly after this step with a checkpoint
        and the model; a second one interrupts at once. ``say`` prints the notice."""

        def tell(text: str) -> None:
            with contextlib.suppress(OSError, ValueError):  # no terminal left (SIGHUP): quiet
                (say or (lambda t: print(t, file=sys.stderr, flush=True)))(text)

        def on_signal(signum: int, frame: FrameType | None) -> None:
            self._signals_handled += 1
            name = signal.Signals(signum).name
            if self.stop_requested and self.stop_reason != "parent gone":
                raise KeyboardInterrupt
            again = "Ctrl-C" if signum == signal.SIGINT else name
            tell(f"stopping after this step ({name}; {again} again to abort)…")
            self.request_stop(name)

        if threading.current_thread() is threading.main_thread():
            self._previous_handlers = {
                signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS
            }
            self._watch_signals()

    def restore_signals(self) -> None:
        """Undo ``install_sigint`` (handlers, wakeup pipe, watcher thread)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers = {}
        if self._wakeup is not None:
            previous, write_end = self._wakeup
            self._wakeup = None
            signal.set_wakeup_fd(previous)
            os.close(write_end)  # the watcher reads the end of the pipe and leaves

    def _watch_signals(self) -> None:
        """Make a stop signal count even while native code holds the main thread.

        Python runs ``on_signal`` only between bytecodes, so a step stuck in a C library
        (a BLAS call that never returns) would ignore SIGTERM for as long as it is
        stuck. The C-level handler also writes each signal's number to a wakeup pipe at
        once; a watcher thread reads it, and when ``on_signal`` has not run within
        ``STUCK_GRACE_S`` the process exits (status 128 + signal), as a kill would.
        The last checkpoint stays; ``noiseda train --resume`` continues from it.
        """
        read_end, write_end = os.pipe()
        try:
            os.set_blocking(write_end, False)
            previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        except (ValueError, OSError):  # no wakeup support here (Windows): Python's handler alone
            os.close(read_end)
            os.close(write_end)
            return
        self._wakeup = (previous, write_end)
        threading.Thread(
            target=self._watch, args=(read_end,), name="signal-watch", daemon=True
        ).start()

    def _watch(self, read_end: int) -> None:
        try:
            while data := os.read(read_end, 64):
                for signum in data:
                    if signum in STOP_SIGNALS:
                        self._signals_seen += 1
                        self._wait_for_handler(signum, self._signals_seen)
        finally:
            os.close(read_end)

    def _wait_for_handler(self, signum: int, count: int) -> None:
        deadline = time.monotonic() + STUCK_GRACE_S
        while self._signals_handled < count and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._signals_handled < count:
            name = signal.Signals(signum).name
            note = (
                f"noiseda: {name} was not handled within {STUCK_GRACE_S:g} s: the training "
                "is stuck in native code; exiting now (the last checkpoint is kept: "
                "continue with 'noiseda train --resume RUN_DIR')\n"
            )
            with contextlib.suppress(OSError):
                os.write(2, note.encode())  # not sys.stderr: the stuck thread may hold its lock
            os._exit(128 + signum)
