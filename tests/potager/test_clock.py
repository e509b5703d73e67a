"""The fast-forward clock, and waits that survive a frozen host."""

from __future__ import annotations

import sys
import threading
import time

from potager.clock import FastForwardClock, ScaledClock, wait_on_clock


def test_a_long_sleep_is_a_jump_and_a_short_one_passes_at_the_scaled_pace() -> None:
    clock = FastForwardClock(scale=100.0, jump_from_s=60.0)
    wall_start_s, clock_start_s = time.monotonic(), clock.now_s()
    clock.sleep(86_400.0)  # a night: no real time at all
    assert time.monotonic() - wall_start_s < 0.05
    assert clock.now_s() - clock_start_s >= 86_400.0
    wall_start_s, clock_start_s = time.monotonic(), clock.now_s()
    clock.sleep(10.0)  # a valve held for 10 s: 0.1 s of real time at 100x
    assert time.monotonic() - wall_start_s >= 0.09
    assert 10.0 <= clock.now_s() - clock_start_s < 86_400.0


def test_the_clock_never_goes_back() -> None:
    clock = FastForwardClock(scale=1000.0)
    readings = []
    for _ in range(5):
        readings.append(clock.now_s())
        clock.sleep(120.0)
    assert readings == sorted(readings)


def _freeze_every_other_thread(duration_s: float) -> None:
    """Hold the interpreter lock without letting go, as a long garbage collection does."""
    interval_s = sys.getswitchinterval()
    sys.setswitchinterval(10 * duration_s)
    try:
        end_s = time.monotonic() + duration_s
        while time.monotonic() < end_s:
            pass
    finally:
        sys.setswitchinterval(interval_s)


def test_an_answer_delayed_by_a_frozen_host_still_arrives_within_the_grace() -> None:
    # The answer is due at 0.05 s, the deadline is 0.1 s, and the host freezes from
    # 0.01 s to 0.6 s: the grace must start when the waiter wakes after the freeze.
    clock = ScaledClock(scale=100.0)
    answered = threading.Event()
    outcome: list[bool] = []
    waiter = threading.Thread(
        target=lambda: outcome.append(wait_on_clock(answered, clock, 10.0, grace_s=0.25))
    )
    answerer = threading.Timer(0.05, answered.set)
    waiter.start()
    answerer.start()
    time.sleep(0.01)
    _freeze_every_other_thread(0.6)
    waiter.join()
    answerer.join()
    assert outcome == [True]


def test_no_answer_ends_the_wait_after_the_deadline_and_the_grace() -> None:
    clock = ScaledClock(scale=100.0)
    wall_start_s = time.monotonic()
    assert not wait_on_clock(threading.Event(), clock, 10.0, grace_s=0.1)
    assert 0.19 <= time.monotonic() - wall_start_s < 0.5
