"""The FarmBot firmware's travel-time model (reference `farmbot.md` 2.2).

Each axis ramps its speed *linearly in position* from the minimum to the maximum speed over
`ramp_steps` steps, cruises, and ramps down the same way; a move shorter than two ramps
peaks half-way. A ramp of n steps from v0 to v1 takes n*ln(v1/v0)/(v1-v0). The axes start
together and are not interpolated, so a move lasts as long as its slowest axis.

Functions take numpy arrays so the planner can price many moves at once.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from potager.robots import Axis, AxisMotion, RobotProfile


def _ramp_time_s(
    steps: NDArray[np.float64], v0: float, v1: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Time to cover `steps` while speed goes linearly (in position) from v0 to v1."""
    dv = v1 - v0
    safe_dv = np.where(np.abs(dv) > 1e-9, dv, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ramp = steps * np.log(np.maximum(v1, 1e-12) / v0) / safe_dv
    return np.where(np.abs(dv) > 1e-9, ramp, steps / v0)


def axis_time_s(
    distance_steps: ArrayLike,
    min_speed_steps_s: float,
    max_speed_steps_s: float,
    ramp_steps: int,
) -> NDArray[np.float64]:
    """Seconds one axis needs to travel `distance_steps` (absolute values are used).

    A cruise speed at or below the minimum speed means no ramp: the axis runs at the cruise
    speed throughout, which is what the firmware does when asked for a very low speed.
    """
    steps = np.abs(np.asarray(distance_steps, dtype=np.float64))
    v0, v1 = float(min_speed_steps_s), float(max_speed_steps_s)
    if v1 <= v0 or ramp_steps <= 0:
        return steps / v1
    ramp_len = np.minimum(steps / 2.0, float(ramp_steps))
    peak = v0 + (v1 - v0) * ramp_len / ramp_steps
    cruise_steps = steps - 2.0 * ramp_len
    return 2.0 * _ramp_time_s(ramp_len, v0, peak) + cruise_steps / v1


def axis_move_time_s(
    motion: AxisMotion, distance_mm: ArrayLike, speed_percent: float = 100.0
) -> NDArray[np.float64]:
    """Seconds for one axis to move `distance_mm` at `speed_percent` of its maximum speed."""
    steps = np.asarray(distance_mm, dtype=np.float64) * motion.steps_per_mm
    cruise = motion.max_speed_steps_s * speed_percent / 100.0
    return axis_time_s(steps, motion.min_speed_steps_s, cruise, motion.ramp_steps)


def move_time_s(
    profile: RobotProfile,
    start_mm: tuple[float, float, float],
    end_mm: tuple[float, float, float],
    speed_percent: float = 100.0,
) -> float:
    """Seconds for one G00 from `start_mm` to `end_mm` (x, y, z): the slowest axis wins.

    Z moving up (toward 0, its home) uses the profile's `z_toward_home` settings.
    """
    times = [
        float(axis_move_time_s(profile.motion(Axis.X), end_mm[0] - start_mm[0], speed_percent)),
        float(axis_move_time_s(profile.motion(Axis.Y), end_mm[1] - start_mm[1], speed_percent)),
        float(
            axis_move_time_s(
                profile.motion(Axis.Z, toward_home=end_mm[2] > start_mm[2]),
                end_mm[2] - start_mm[2],
                speed_percent,
            )
        ),
    ]
    return max(times)
