"""The FarmBot firmware's travel-time model (reference `farmbot.md` 2.2).

Each axis ramps its speed *linearly in position* from the minimum to the maximum speed over
`ramp_steps` steps, cruises, and ramps down the same way; a move shorter than two ramps
peaks half-way. A ramp of n steps from v0 to v1 takes n*ln(v1/v0)/(v1-v0). The axes start
together and are not interpolated, so a move lasts as long as its slowest axis.

Functions take numpy arrays so the planner can price many moves at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def moves_time_s(
    profile: RobotProfile, deltas_mm: ArrayLike, speed_percent: float = 100.0
) -> NDArray[np.float64]:
    """Seconds for each G00 of (dx, dy, dz) rows: the slowest axis wins.

    Z moving up (toward 0, its home) uses the profile's `z_toward_home` settings.
    """
    deltas = np.asarray(deltas_mm, dtype=np.float64).reshape(-1, 3)
    dz_mm = deltas[:, 2]
    z_s = np.where(
        dz_mm > 0,
        axis_move_time_s(profile.motion(Axis.Z, toward_home=True), dz_mm, speed_percent),
        axis_move_time_s(profile.motion(Axis.Z), dz_mm, speed_percent),
    )
    x_s = axis_move_time_s(profile.motion(Axis.X), deltas[:, 0], speed_percent)
    y_s = axis_move_time_s(profile.motion(Axis.Y), deltas[:, 1], speed_percent)
    return np.maximum(np.maximum(x_s, y_s), z_s)


def move_time_s(
    profile: RobotProfile,
    start_mm: tuple[float, float, float],
    end_mm: tuple[float, float, float],
    speed_percent: float = 100.0,
) -> float:
    """Seconds for one G00 from `start_mm` to `end_mm` (x, y, z): `moves_time_s` for a
    single move, in plain floats, as the gantry prices every move it sends and one-row
    arrays cost a hundred times the arithmetic."""
    dx_mm, dy_mm, dz_mm = (end - start for start, end in zip(start_mm, end_mm, strict=True))
    return max(
        _one_axis_move_s(profile.motion(Axis.X), dx_mm, speed_percent),
        _one_axis_move_s(profile.motion(Axis.Y), dy_mm, speed_percent),
        _one_axis_move_s(profile.motion(Axis.Z, toward_home=dz_mm > 0), dz_mm, speed_percent),
    )


def _one_axis_move_s(motion: AxisMotion, distance_mm: float, speed_percent: float) -> float:
    """`axis_move_time_s` of one distance."""
    steps = abs(distance_mm) * motion.steps_per_mm
    v0, v1 = float(motion.min_speed_steps_s), motion.max_speed_steps_s * speed_percent / 100.0
    if v1 <= v0 or motion.ramp_steps <= 0:
        return steps / v1
    ramp_len = min(steps / 2.0, float(motion.ramp_steps))
    peak = v0 + (v1 - v0) * ramp_len / motion.ramp_steps
    rise = peak - v0
    ramp_s = ramp_len * math.log(peak / v0) / rise if rise > 1e-9 else ramp_len / v0
    return 2.0 * ramp_s + (steps - 2.0 * ramp_len) / v1


# ----------------------------------------------------------------- the planner's metric

FIRMWARE_RAMP = 0
"""Axis law of the FarmBot firmware: speed linear in position over `ramp_steps`."""
TRAPEZOID = 1
"""Axis law of constant-acceleration machines: t = d/v + v/a, or 2*sqrt(d/a) when short."""


def trapezoid_time_s(
    distance_mm: ArrayLike, max_speed_mm_s: float, accel_mm_s2: float
) -> NDArray[np.float64]:
    """Seconds to travel `distance_mm` from rest to rest with a constant-acceleration trapezoid."""
    d = np.abs(np.asarray(distance_mm, dtype=np.float64))
    v, a = max_speed_mm_s, accel_mm_s2
    return np.where(d >= v * v / a, d / v + v / a, 2.0 * np.sqrt(d / a))


@dataclass(frozen=True)
class AxisLaw:
    """How one axis turns a distance into seconds, as four numbers a compiled kernel reads.

    FIRMWARE_RAMP: (steps_per_mm, min_speed_steps_s, cruise_speed_steps_s, ramp_steps);
    TRAPEZOID: (max_speed_mm_s, accel_mm_s2, unused, unused).
    """

    kind: int
    p1: float
    p2: float
    p3: float = 0.0
    p4: float = 0.0

    @classmethod
    def firmware(cls, motion: AxisMotion, speed_percent: float = 100.0) -> AxisLaw:
        cruise = motion.max_speed_steps_s * speed_percent / 100.0
        return cls(
            FIRMWARE_RAMP, motion.steps_per_mm, motion.min_speed_steps_s, cruise, motion.ramp_steps
        )

    @classmethod
    def trapezoid(cls, max_speed_mm_s: float, accel_mm_s2: float) -> AxisLaw:
        if not (max_speed_mm_s > 0 and accel_mm_s2 > 0):
            raise ValueError("a trapezoid axis needs a positive speed and acceleration")
        return cls(TRAPEZOID, max_speed_mm_s, accel_mm_s2)

    @property
    def cruise_speed_mm_s(self) -> float:
        return self.p3 / self.p1 if self.kind == FIRMWARE_RAMP else self.p1

    def time_s(self, distance_mm: ArrayLike) -> NDArray[np.float64]:
        if self.kind == TRAPEZOID:
            return trapezoid_time_s(distance_mm, self.p1, self.p2)
        steps = np.abs(np.asarray(distance_mm, dtype=np.float64)) * self.p1
        return axis_time_s(steps, self.p2, self.p3, int(self.p4))

    def as_array(self) -> NDArray[np.float64]:
        return np.array([self.kind, self.p1, self.p2, self.p3, self.p4], dtype=np.float64)


class TravelMetric:
    """Seconds between two stops on the bed: X and Y start together, the slower one wins.

    The Z work at each stop (down, act, up) is the same whatever the order, so the metric is
    the X/Y travel at safe height plus a fixed per-command overhead (the serial round trip
    and the firmware starting and stopping its motors). Ramps are concave in distance, so
    this is a true metric: symmetric, and short-cuts never take longer.
    """

    def __init__(self, x: AxisLaw, y: AxisLaw, command_overhead_s: float = 0.0) -> None:
        if command_overhead_s < 0:
            raise ValueError("the per-command overhead cannot be negative")
        self.x, self.y = x, y
        self.command_overhead_s = command_overhead_s

    @classmethod
    def for_profile(
        cls, profile: RobotProfile, speed_percent: float = 100.0, command_overhead_s: float = 0.0
    ) -> TravelMetric:
        return cls(
            AxisLaw.firmware(profile.x, speed_percent),
            AxisLaw.firmware(profile.y, speed_percent),
            command_overhead_s,
        )

    def kernel_tables(self, max_distance_mm: float, step_mm: float = 1.0) -> NDArray[np.float64]:
        """Travel times tabulated for compiled kernels: (3, L) rows X, Y, then settings.

        Row 2 holds (step_mm, per-command overhead s). Linear interpolation between 1 mm
        steps is off by microseconds on these concave curves, and a table lookup is several
        times cheaper than the logarithms of the ramp formula.
        """
        length = max(int(np.ceil(max_distance_mm / step_mm)) + 2, 3)
        distances_mm = np.arange(length) * step_mm
        tables = np.zeros((3, length))
        tables[0] = self.x.time_s(distances_mm)
        tables[1] = self.y.time_s(distances_mm)
        tables[2, :2] = step_mm, self.command_overhead_s
        return tables

    @property
    def seconds_per_mm(self) -> tuple[float, float]:
        """Cruise pace of each axis: scales X/Y so straight-line neighbours are time neighbours."""
        return 1.0 / self.x.cruise_speed_mm_s, 1.0 / self.y.cruise_speed_mm_s

    def time_s(self, a_mm: ArrayLike, b_mm: ArrayLike) -> NDArray[np.float64]:
        """Seconds from each point of `a_mm` to the matching one of `b_mm` (shape (..., 2))."""
        a = np.asarray(a_mm, dtype=np.float64)
        b = np.asarray(b_mm, dtype=np.float64)
        delta = np.abs(a - b)
        travel = np.maximum(self.x.time_s(delta[..., 0]), self.y.time_s(delta[..., 1]))
        return travel + self.command_overhead_s

    def from_point(self, origin_mm: ArrayLike, points_mm: ArrayLike) -> NDArray[np.float64]:
        """Seconds from one point to each of many."""
        return self.time_s(np.asarray(origin_mm, dtype=np.float64)[None, :], points_mm)

    def matrix(self, points_mm: ArrayLike, max_points: int = 4000) -> NDArray[np.float64]:
        """The full N x N matrix; refused beyond `max_points` (128 MB at 4,000)."""
        points = np.asarray(points_mm, dtype=np.float64)
        if len(points) > max_points:
            raise ValueError(
                f"a full matrix of {len(points)} points would not fit; the planner uses "
                f"neighbour lists beyond {max_points}"
            )
        return self.time_s(points[:, None, :], points[None, :, :])

    def path_time_s(self, points_in_order_mm: ArrayLike) -> float:
        """Seconds to visit the points in the order given (no return)."""
        points = np.asarray(points_in_order_mm, dtype=np.float64)
        if len(points) < 2:
            return 0.0
        return float(self.time_s(points[:-1], points[1:]).sum())
