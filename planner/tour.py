"""Visit ordering: near-optimal tours by travel time, fast enough to replan in the loop.

(Interim implementation while the compiled kernel is built: nearest neighbour.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from planner import PlannerError
from planner.motion import TravelMetric
from potager.robots import RobotProfile

Point = tuple[float, float]


@dataclass(frozen=True)
class TourPlan:
    """A visiting order and what it costs.

    `order` indexes the input points. The path runs from `start_mm` through the points in
    that order, then to `end_mm` if one was given, or back to the start for a closed tour.
    """

    order: NDArray[np.intp]
    duration_s: float
    length_mm: float
    planning_s: float
    compile_s: float = 0.0


def as_points(points_mm: ArrayLike) -> NDArray[np.float64]:
    """The points as an (N, 2) float array; refuses other shapes, NaN and infinities."""
    points = np.asarray(points_mm, dtype=np.float64)
    if points.size == 0:
        return points.reshape(0, 2)
    if points.ndim != 2 or points.shape[1] != 2:
        raise PlannerError(f"points must be rows of (x_mm, y_mm), got shape {points.shape}")
    bad = np.flatnonzero(~np.isfinite(points).all(axis=1))
    if bad.size:
        raise PlannerError(
            f"point {bad[0]} is {tuple(points[bad[0]])}: coordinates must be finite numbers"
        )
    return points


def check_on_bed(points_mm: NDArray[np.float64], profile: RobotProfile) -> None:
    """Refuse the first point outside the bed, naming its row and the allowed ranges."""
    outside = (
        (points_mm[:, 0] < 0)
        | (points_mm[:, 0] > profile.length_x_mm)
        | (points_mm[:, 1] < 0)
        | (points_mm[:, 1] > profile.length_y_mm)
    )
    rows = np.flatnonzero(outside)
    if rows.size:
        x_mm, y_mm = points_mm[rows[0]]
        raise PlannerError(
            f"point {rows[0]} at X {x_mm:g}, Y {y_mm:g} mm is outside the {profile.name} bed "
            f"(X 0-{profile.length_x_mm:g}, Y 0-{profile.length_y_mm:g} mm)"
        )


def route_points(
    points_mm: NDArray[np.float64],
    order: ArrayLike,
    start_mm: Point | None,
    end_mm: Point | None,
    closed: bool,
) -> NDArray[np.float64]:
    """The corners of the path the robot drives for `order`, start and end included."""
    path = [points_mm[np.asarray(order, dtype=np.intp)]]
    if start_mm is not None:
        path.insert(0, np.asarray([start_mm], dtype=np.float64))
    if end_mm is not None:
        path.append(np.asarray([end_mm], dtype=np.float64))
    elif closed and start_mm is not None:
        path.append(np.asarray([start_mm], dtype=np.float64))
    elif closed and len(points_mm):
        path.append(path[0][:1])
    return np.concatenate(path) if path else np.zeros((0, 2))


def evaluate_order(
    points_mm: NDArray[np.float64],
    order: ArrayLike,
    metric: TravelMetric,
    start_mm: Point | None = (0.0, 0.0),
    end_mm: Point | None = None,
    closed: bool = False,
) -> tuple[float, float]:
    """(travel seconds, path millimetres) of visiting the points in `order`."""
    path = route_points(points_mm, order, start_mm, end_mm, closed)
    if len(path) < 2:
        return 0.0, 0.0
    length_mm = float(np.hypot(*np.diff(path, axis=0).T).sum())
    return metric.path_time_s(path), length_mm


def plan_tour(
    points_mm: ArrayLike,
    metric: TravelMetric,
    *,
    start_mm: Point | None = (0.0, 0.0),
    end_mm: Point | None = None,
    closed: bool = False,
    budget_s: float | None = None,
    seed: int = 0,
) -> TourPlan:
    """The fastest order found to visit every point once.

    `start_mm` is where the robot is; `end_mm` where it must finish (None: anywhere);
    `closed` brings it back to the start. `budget_s` bounds the improvement phase (None:
    a default that grows with N). The same inputs and seed give the same order.
    """
    began = time.perf_counter()
    points = as_points(points_mm)
    if closed and end_mm is not None:
        raise PlannerError("a closed tour returns to its start: give an end or closed, not both")
    order = _nearest_neighbour(points, metric, start_mm)
    duration_s, length_mm = evaluate_order(points, order, metric, start_mm, end_mm, closed)
    return TourPlan(order, duration_s, length_mm, time.perf_counter() - began)


def _nearest_neighbour(
    points: NDArray[np.float64], metric: TravelMetric, start_mm: Point | None
) -> NDArray[np.intp]:
    unvisited = np.ones(len(points), dtype=bool)
    order = np.empty(len(points), dtype=np.intp)
    here = np.asarray(start_mm if start_mm is not None else points[0] if len(points) else (0, 0))
    for index in range(len(points)):
        times = np.where(unvisited, metric.from_point(here, points), np.inf)
        chosen = int(np.argmin(times))
        order[index], unvisited[chosen] = chosen, False
        here = points[chosen]
    return order
