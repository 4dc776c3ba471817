"""Images per second and the time left, for the Progress events of the loop.

    clock = StepClock(start=0, total=1000, images_per_step=24)
    clock.tick()                      # after every step
    clock.restart_window()            # after validation or a checkpoint
    clock.paused_for(seconds)         # after a pause: elapsed and ETA leave it out
    clock.rate(), clock.elapsed(), clock.eta(step)

The rate counts only training: pauses, monitoring and checkpoints restart its window;
elapsed time leaves pauses out.
"""

from __future__ import annotations

import time


class StepClock:
    """Wall-clock bookkeeping of a run from its first (or resumed) step."""

    def __init__(self, start: int, total: int, images_per_step: int) -> None:
        self.start, self.total, self.images_per_step = start, total, images_per_step
        self.began = time.perf_counter()
        self.window_start, self.window_steps = self.began, 0

    def tick(self) -> None:
        self.window_steps += 1

    def paused_for(self, seconds: float) -> None:
        """The run was paused ``seconds``: elapsed (and so the ETA) does not count them."""
        self.began += seconds
        self.restart_window()

    def restart_window(self) -> None:
        self.window_start, self.window_steps = time.perf_counter(), 0

    def rate(self) -> float:
        """Images per second (all ranks) since the window began; restarts the window."""
        now = time.perf_counter()
        rate = self.window_steps * self.images_per_step / max(now - self.window_start, 1e-9)
        self.window_start, self.window_steps = now, 0
        return rate

    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def eta(self, step: int) -> float:
        """Seconds to ``total`` at the mean pace of the steps run in this process."""
        return self.elapsed() / max(step - self.start, 1) * (self.total - step)
