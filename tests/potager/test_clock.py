"""The fast-forward clock: scaled for short waits, a jump for long ones."""

from __future__ import annotations

import time

from potager.clock import FastForwardClock


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
