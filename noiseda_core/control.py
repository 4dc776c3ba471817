"""Pause / resume / stop requests reaching a running training loop.

The loop polls ``RunControl`` once per step. Requests come from stdin lines
(``pause``, ``resume``, ``stop`` — how the GUI's worker talks to the child),
from Ctrl-C, SIGTERM or SIGHUP (the first one stops cleanly with a checkpoint and
the model; a second one aborts), from the parent going away (stdin at its end),
or from code. ``stop_reason`` says which.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


class RunControl:
    """Thread-safe flags the training loop checks between steps."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.stop_reason = ""
        self.parent_gone = False

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
            try:
                (say or (lambda t: print(t, file=sys.stderr, flush=True)))(text)
            except (OSError, ValueError):  # no terminal left (SIGHUP): stop quietly
                pass

        def on_signal(signum: int, frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            if self.stop_requested and self.stop_reason != "parent gone":
                raise KeyboardInterrupt
            again = "Ctrl-C" if signum == signal.SIGINT else name
            tell(f"stopping after this step ({name}; {again} again to abort)…")
            self.request_stop(name)

        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                signal.signal(signum, on_signal)
