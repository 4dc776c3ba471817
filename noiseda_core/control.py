"""Pause / resume / stop requests reaching a running training loop.

The loop polls ``RunControl`` once per step. Requests come from stdin lines
(``pause``, ``resume``, ``stop`` — how the GUI's worker talks to the child),
from Ctrl-C (SIGINT: the first one stops cleanly with a checkpoint), or from code.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType


class RunControl:
    """Thread-safe flags the training loop checks between steps."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def request_stop(self) -> None:
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
            for line in sys.stdin:
                self.handle_command(line)
            self.request_stop()

        thread = threading.Thread(target=read, name="control-stdin", daemon=True)
        thread.start()
        return thread

    def install_sigint(self) -> None:
        """First Ctrl-C: stop cleanly with a checkpoint; a second one interrupts at once."""

        def on_sigint(signum: int, frame: FrameType | None) -> None:
            if self.stop_requested:
                raise KeyboardInterrupt
            print("\nstopping after this step (Ctrl-C again to abort)…", file=sys.stderr)
            self.request_stop()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, on_sigint)
