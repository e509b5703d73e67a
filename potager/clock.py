"""Clocks: every piece of code that waits or schedules takes one.

A robot runs on `SystemClock`. The simulator and the tests run faster than real time:
`ScaledClock` runs k times faster than the wall clock (for threads talking over a real
pseudo-terminal), `FastForwardClock` does too but jumps over long waits (a simulated month
on a real pseudo-terminal, idle nights skipped), `VirtualClock` only moves when told to
(for in-process simulations, which jump straight to the next event). The controller
converts its timeouts through the clock it was given, so a move that takes 30 s of robot
time waits 0.3 s at 100x.

These live in the shared vocabulary rather than in `sim/` because the controller's link
and scheduler need them and must not import the simulator.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Time as the robot sees it, in seconds."""

    def now_s(self) -> float:
        """Seconds since an arbitrary origin, monotonic."""
        ...

    def sleep(self, duration_s: float) -> None:
        """Let `duration_s` seconds of clock time pass."""
        ...

    def wall_timeout_s(self, duration_s: float) -> float:
        """How many real seconds a blocking wait of `duration_s` clock seconds needs."""
        ...


class SystemClock:
    """The wall clock (monotonic)."""

    def now_s(self) -> float:
        return time.monotonic()

    def sleep(self, duration_s: float) -> None:
        if duration_s > 0:
            time.sleep(duration_s)

    def wall_timeout_s(self, duration_s: float) -> float:
        return max(duration_s, 0.0)


class ScaledClock:
    """Wall time sped up by `scale`: at 100, one real second is 100 clock seconds."""

    def __init__(self, scale: float = 1.0) -> None:
        if not scale > 0:
            raise ValueError(f"clock scale must be positive, got {scale}")
        self.scale = scale
        self._origin_wall_s = time.monotonic()

    def now_s(self) -> float:
        return (time.monotonic() - self._origin_wall_s) * self.scale

    def sleep(self, duration_s: float) -> None:
        if duration_s > 0:
            time.sleep(duration_s / self.scale)

    def wall_timeout_s(self, duration_s: float) -> float:
        return max(duration_s, 0.0) / self.scale


class FastForwardClock(ScaledClock):
    """A `ScaledClock` whose long sleeps are jumps: time skips ahead at once.

    Sleeps of `jump_from_s` clock seconds or more (a scheduler waiting for tomorrow's
    watering) move the clock forward immediately; shorter ones (a valve held, a link
    reconnecting) pass at the scaled pace. Only the thread that drives the robot sleeps that
    long, and nothing happens on the robot meanwhile, so the jump loses nothing; the
    simulated firmware, on the same clock, sees the time pass at once.
    """

    def __init__(self, scale: float = 1.0, jump_from_s: float = 60.0) -> None:
        super().__init__(scale)
        self.jump_from_s = jump_from_s
        self._skipped_s = 0.0
        self._lock = threading.Lock()

    def now_s(self) -> float:
        return super().now_s() + self._skipped_s

    def sleep(self, duration_s: float) -> None:
        if duration_s < self.jump_from_s:
            super().sleep(duration_s)
            return
        with self._lock:
            self._skipped_s += duration_s


def wait_on_clock(event: threading.Event, clock: Clock, timeout_s: float, grace_s: float) -> bool:
    """Wait for `event` up to `timeout_s` clock seconds, then `grace_s` real seconds more.

    The grace is counted from the moment this thread sees the clock's deadline pass, not
    from the start of the wait. A host that freezes (a garbage collection, a loaded CI
    machine) wakes every thread at once after the freeze; the grace then gives the other
    side, whose answer the freeze delayed, real time to send it before we give up.
    """
    deadline_s = clock.now_s() + timeout_s
    while True:
        wall_left_s = clock.wall_timeout_s(deadline_s - clock.now_s())
        if wall_left_s <= 0:
            return event.wait(grace_s)
        if event.wait(wall_left_s):
            return True


class VirtualClock:
    """A clock that only moves when advanced: simulations jump from event to event."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = start_s
        self._lock = threading.Lock()

    def now_s(self) -> float:
        return self._now_s

    def sleep(self, duration_s: float) -> None:
        if duration_s > 0:
            self.advance_to(self._now_s + duration_s)

    def wall_timeout_s(self, duration_s: float) -> float:
        # Nothing else moves a virtual clock while we block, so never block long.
        return 0.0

    def advance_to(self, time_s: float) -> None:
        """Move time forward to `time_s`; moving backwards is ignored."""
        with self._lock:
            self._now_s = max(self._now_s, time_s)
