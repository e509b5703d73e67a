"""FarmBot's point-group orders on cases whose answer is known by hand."""

from __future__ import annotations

import time

import numpy as np
import pytest
from numpy.typing import NDArray

from planner import PlannerError
from planner.sorts import FARMBOT_SORTS, farmbot_order

# FarmBot's own example (its web app's tests): p1 (0, 0), p2 (2, 0), p3 (0, 3), p4 (3, 3).
CORNERS = [[0, 0], [2, 0], [0, 3], [3, 3]]


@pytest.mark.parametrize(
    ("sort_type", "expected"),
    [
        ("xy_ascending", [0, 2, 1, 3]),
        ("xy_descending", [3, 1, 2, 0]),
        ("yx_ascending", [0, 1, 2, 3]),
        ("yx_descending", [3, 2, 1, 0]),
        ("xy_alternating", [0, 2, 1, 3]),
        ("yx_alternating", [0, 1, 3, 2]),
        ("nn", [0, 1, 3, 2]),
    ],
)
def test_each_sort_on_farmbots_four_corners(sort_type: str, expected: list[int]) -> None:
    assert farmbot_order(CORNERS, sort_type).tolist() == expected


def grid(columns: int, rows: int, spacing_mm: float = 100.0) -> NDArray[np.float64]:
    """Points listed row by row, so no sort finds them already in its order."""
    return np.array([(c * spacing_mm, r * spacing_mm) for r in range(rows) for c in range(columns)])


def test_alternating_sorts_snake_through_an_exact_grid() -> None:
    points = grid(3, 2)  # indices: row 0 -> 0 1 2, row 1 -> 3 4 5
    assert farmbot_order(points, "xy_alternating").tolist() == [0, 3, 4, 1, 2, 5]
    assert farmbot_order(points, "yx_alternating").tolist() == [0, 1, 2, 5, 4, 3]


def test_jitter_breaks_the_serpentine_into_a_plain_sort() -> None:
    exact = grid(6, 10)
    jittered = exact + np.random.default_rng(3).uniform(-1.0, 1.0, exact.shape)
    order = farmbot_order(jittered, "xy_alternating")
    assert order.tolist() == farmbot_order(jittered, "xy_ascending").tolist()
    assert path_mm(jittered, order) > 2 * path_mm(exact, farmbot_order(exact, "xy_alternating"))


def path_mm(points: NDArray[np.float64], order: NDArray[np.intp]) -> float:
    visited = points[order]
    return float(np.hypot(*np.diff(visited, axis=0).T).sum())


def test_ties_keep_the_input_order_and_descending_reverses_it() -> None:
    points = [[5, 5], [1, 1], [5, 5], [1, 1]]
    assert farmbot_order(points, "xy_ascending").tolist() == [1, 3, 0, 2]
    assert farmbot_order(points, "xy_descending").tolist() == [2, 0, 3, 1]
    assert farmbot_order(points, "xy_alternating").tolist() == [1, 3, 2, 0]


def test_nearest_neighbour_starts_at_home_and_takes_the_first_listed_of_equals() -> None:
    # (4, 3), (3, 4) and (5, 0) are all 5 mm from (0, 0); the first listed wins.
    points = [[100, 100], [4, 3], [3, 4], [5, 0]]
    assert farmbot_order(points, "nn").tolist() == [1, 2, 3, 0]


def brute_force_nearest_neighbour(points: NDArray[np.float64]) -> list[int]:
    """FarmBot's algorithm as written: scan every unvisited point, keep the first nearest."""
    unvisited = list(range(len(points)))
    here = np.zeros(2)
    order = []
    while unvisited:
        squared = ((points[unvisited] - here) ** 2).sum(axis=1)
        nearest = unvisited.pop(int(np.argmin(squared)))
        order.append(nearest)
        here = points[nearest]
    return order


@pytest.mark.parametrize(
    "points",
    [
        np.random.default_rng(1).uniform(0, 5900, (2000, 2)),
        grid(20, 15, spacing_mm=1.0)[np.random.default_rng(2).permutation(300)],
    ],
    ids=["random", "integer grid full of ties"],
)
def test_nearest_neighbour_matches_the_brute_force_scan(points: NDArray[np.float64]) -> None:
    assert farmbot_order(points, "nn").tolist() == brute_force_nearest_neighbour(points)


def test_nearest_neighbour_orders_twenty_thousand_points_in_seconds() -> None:
    points = np.random.default_rng(4).uniform((0, 0), (5900, 2730), (20_000, 2))
    began = time.perf_counter()
    order = farmbot_order(points, "nn")
    assert time.perf_counter() - began < 10
    assert np.array_equal(np.sort(order), np.arange(20_000))


def test_random_is_a_permutation_reproducible_by_seed() -> None:
    points = grid(10, 10)
    first = farmbot_order(points, "random", seed=7)
    assert np.array_equal(np.sort(first), np.arange(100))
    assert np.array_equal(first, farmbot_order(points, "random", seed=7))
    assert not np.array_equal(first, farmbot_order(points, "random", seed=8))


@pytest.mark.parametrize("sort_type", FARMBOT_SORTS)
def test_every_sort_accepts_no_points(sort_type: str) -> None:
    assert farmbot_order(np.zeros((0, 2)), sort_type).tolist() == []


def test_the_list_is_farmbots_eight_names_default_first() -> None:
    assert FARMBOT_SORTS[0] == "xy_ascending"
    assert sorted(FARMBOT_SORTS) == sorted(
        [
            "xy_ascending",
            "xy_descending",
            "yx_ascending",
            "yx_descending",
            "xy_alternating",
            "yx_alternating",
            "nn",
            "random",
        ]
    )


def test_an_unknown_name_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(PlannerError, match=r"'xy_snake'.*xy_ascending.*nn.*random"):
        farmbot_order(CORNERS, "xy_snake")


def test_bad_points_are_refused() -> None:
    with pytest.raises(PlannerError, match="finite"):
        farmbot_order([[0, 0], [np.nan, 1]], "nn")
