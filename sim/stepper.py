"""Step timing of one stepper axis over one move, as the Farmduino firmware paces it.

The firmware sets each step's speed from how far the axis is into the move, not from time
(reference `farmbot.md` 2.2): step i of n runs at min + (max - min) * min(i, n - i, ramp) / ramp
steps/s, so the speed rises linearly over the first `ramp` steps, cruises, and falls over the
last `ramp` steps; moves shorter than two ramps peak half-way. Summing 1/speed step by step
is what makes the simulator's durations agree with the planner's continuous formula.

Only the two ramps are tabulated; the cruise between them is uniform and handled in closed
form, so a garbage command asking for a billion steps costs no more memory than a short hop.
"""

from __future__ import annotations

import functools
import math
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

_CLOCK_SLACK_S = 1e-9
"""Absorbs the rounding of absolute clock times (t0 + duration - t0), far below one step."""


class AxisState(IntEnum):
    """The axis states an `R05` reports."""

    IDLE = 0
    STARTING = 1
    ACCELERATING = 2
    CRUISING = 3
    DECELERATING = 4


class StepProfile:
    """When each step of one axis's move is done; a move of `steps` steps starts at time 0.

    A cruise speed at or below the minimum speed, or a ramp of 0 steps, means no ramp at
    all: the axis runs at the cruise speed throughout, as the planner assumes.
    """

    def __init__(
        self,
        steps: int,
        min_speed_steps_s: float,
        max_speed_steps_s: float,
        ramp_steps: int,
    ) -> None:
        self.steps = steps
        self.cruise_speed_steps_s = max_speed_steps_s
        self._min_speed_steps_s = min_speed_steps_s
        ramped = max_speed_steps_s > min_speed_steps_s and ramp_steps > 0
        self._ramp_steps = ramp_steps if ramped else 0
        self._head_end = min(self._ramp_steps, steps)
        self._tail_start = max(self._head_end, steps - self._ramp_steps)
        self._head_done_s = self._done_times_s(0, self._head_end)
        self._tail_done_s = self._done_times_s(self._tail_start, steps)
        self._head_s = float(self._head_done_s[-1]) if self._head_end else 0.0
        self._cruise_s = (self._tail_start - self._head_end) / max_speed_steps_s
        tail_s = float(self._tail_done_s[-1]) if steps > self._tail_start else 0.0
        self.duration_s = self._head_s + self._cruise_s + tail_s

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def of(
        steps: int, min_speed_steps_s: float, max_speed_steps_s: float, ramp_steps: int
    ) -> StepProfile:
        """The profile of a move, shared by every move of the same steps and speeds: a
        profile never changes once made, and a season repeats the same moves daily."""
        return StepProfile(steps, min_speed_steps_s, max_speed_steps_s, ramp_steps)

    def _done_times_s(self, first_step: int, end_step: int) -> NDArray[np.float64]:
        """Seconds from the first step of this span until each of its steps is done."""
        index = np.arange(first_step, end_step, dtype=np.float64)
        ramp_position = np.minimum(np.minimum(index, self.steps - index), self._ramp_steps)
        rise = self.cruise_speed_steps_s - self._min_speed_steps_s
        speeds = self._min_speed_steps_s + rise * ramp_position / max(self._ramp_steps, 1)
        return np.cumsum(1.0 / speeds)

    def time_of_step(self, done_steps: int) -> float:
        """Seconds after the start when `done_steps` steps are complete."""
        if done_steps <= self._head_end:
            return float(self._head_done_s[done_steps - 1]) if done_steps > 0 else 0.0
        cruise_steps = min(done_steps, self._tail_start) - self._head_end
        done_s = self._head_s + cruise_steps / self.cruise_speed_steps_s
        if done_steps > self._tail_start:
            done_s += float(self._tail_done_s[done_steps - self._tail_start - 1])
        return done_s

    def steps_done_at(self, elapsed_s: float) -> int:
        """How many steps are complete `elapsed_s` seconds after the start."""
        elapsed_s += _CLOCK_SLACK_S
        if elapsed_s >= self.duration_s:
            return self.steps
        if elapsed_s < self._head_s:
            return int(np.searchsorted(self._head_done_s, elapsed_s, side="right"))
        cruise_elapsed_s = elapsed_s - self._head_s
        if cruise_elapsed_s < self._cruise_s:
            return self._head_end + int(cruise_elapsed_s * self.cruise_speed_steps_s)
        tail_elapsed_s = cruise_elapsed_s - self._cruise_s
        tail_done = int(np.searchsorted(self._tail_done_s, tail_elapsed_s, side="right"))
        return min(self._tail_start + tail_done, self.steps)

    def state_changes(self) -> list[tuple[float, AxisState]]:
        """(seconds after the start, new state) each time the axis's R05 state changes."""
        return list(self._changes)

    @functools.cached_property
    def _changes(self) -> tuple[tuple[float, AxisState], ...]:
        """Worked out once: a profile is shared by every move of its steps and speeds."""
        return tuple(self._work_out_changes())

    def _work_out_changes(self) -> list[tuple[float, AxisState]]:
        if self.steps == 0:
            return []
        if not self._ramp_steps:
            return [(0.0, AxisState.CRUISING)]
        changes = [(0.0, AxisState.ACCELERATING)]
        if self.steps > 2 * self._ramp_steps:
            changes.append((self.time_of_step(self._ramp_steps), AxisState.CRUISING))
        decelerate_from = max(math.ceil(self.steps / 2), self.steps - self._ramp_steps)
        if decelerate_from < self.steps:
            changes.append((self.time_of_step(decelerate_from), AxisState.DECELERATING))
        return changes
