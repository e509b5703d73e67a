"""FarmBot's point-group orders (reference `farmbot.md` 3.4), reproduced exactly.

Users compare them with the optimiser's order, or keep FarmBot's behaviour on purpose; the
benchmark prices them with the same travel-time metric. Ties keep the input order, as
FarmBot's stable sorts do: identical points stay in the order given (reversed by the
descending sorts, which reverse the whole ascending order), and nearest neighbour picks
the first-listed of equally near points.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from planner import PlannerError
from planner.tour import as_points

X, Y = 0, 1


def _lexicographic(points_mm: NDArray[np.float64], major: int) -> NDArray[np.intp]:
    """Sorted by the `major` axis, then the other one; stable, so ties keep input order."""
    return np.lexsort((points_mm[:, 1 - major], points_mm[:, major])).astype(np.intp)


def _serpentine(points_mm: NDArray[np.float64], major: int) -> NDArray[np.intp]:
    """Lines of exactly equal `major` coordinate, in ascending order; every second one reversed.

    Grouping is by exact equality, as FarmBot does, so points jittered by a millimetre
    each form a line of their own and the serpentine degenerates into a plain sort.
    """
    order = _lexicographic(points_mm, major)
    line_value = points_mm[order, major]
    starts_line = np.ones(len(order), dtype=bool)
    starts_line[1:] = line_value[1:] != line_value[:-1]
    line = np.cumsum(starts_line) - 1
    first = np.flatnonzero(starts_line)
    last = np.append(first[1:], len(order)) - 1
    position = np.arange(len(order))
    mirrored = first[line] + last[line] - position
    return order[np.where(line % 2 == 1, mirrored, position)]


def _nearest_neighbour(points_mm: NDArray[np.float64]) -> NDArray[np.intp]:
    """FarmBot's "Optimized" order: greedy nearest by straight-line X/Y distance from (0, 0).

    The k-d tree holds the points not yet visited; it is rebuilt whenever half of what it
    holds has been visited, so each step's query stays short and the whole run is
    O(N log N) rather than FarmBot's O(N^2).
    """
    n = len(points_mm)
    order = np.empty(n, dtype=np.intp)
    if n == 0:
        return order
    visited = np.zeros(n, dtype=bool)
    held = np.arange(n)
    tree = cKDTree(points_mm)
    here = np.zeros(2)
    for step in range(n):
        if 2 * (n - step) <= len(held):
            held = held[~visited[held]]
            tree = cKDTree(points_mm[held])
        nearest = _nearest_unvisited(tree, held, visited, here)
        order[step] = nearest
        visited[nearest] = True
        here = points_mm[nearest]
    return order


def _nearest_unvisited(
    tree: cKDTree, held: NDArray[np.intp], visited: NDArray[np.bool_], here: NDArray[np.float64]
) -> int:
    """The first-listed of the unvisited points nearest to `here`.

    Asks the tree for more and more neighbours until an unvisited one turns up and every
    point at that same distance is among those returned, so ties resolve by input order.
    """
    count = 8
    while True:
        count = min(count, len(held))
        distances, rows = tree.query(here, k=count)
        distances, found = np.atleast_1d(distances), held[np.atleast_1d(rows)]
        open_ = ~visited[found]
        if open_.any():
            best = distances[open_].min()
            if distances[-1] > best or count == len(held):
                return int(found[open_ & (distances == best)].min())
        count *= 4


_DETERMINISTIC: dict[str, Callable[[NDArray[np.float64]], NDArray[np.intp]]] = {
    "xy_ascending": lambda p: _lexicographic(p, X),
    "xy_descending": lambda p: _lexicographic(p, X)[::-1],
    "yx_ascending": lambda p: _lexicographic(p, Y),
    "yx_descending": lambda p: _lexicographic(p, Y)[::-1],
    "xy_alternating": lambda p: _serpentine(p, X),
    "yx_alternating": lambda p: _serpentine(p, Y),
    "nn": _nearest_neighbour,
}

FARMBOT_SORTS: tuple[str, ...] = (*_DETERMINISTIC, "random")
"""FarmBot's `sort_type` names, in the order of its own list; `xy_ascending` is its default."""


def farmbot_order(points_mm: ArrayLike, sort_type: str, seed: int = 0) -> NDArray[np.intp]:
    """The order FarmBot's `sort_type` visits the points in, as row indices of `points_mm`.

    `seed` makes "random" reproducible; the other sorts do not use it.

    >>> farmbot_order([[10, 5], [0, 7], [10, 1]], "xy_alternating").tolist()
    [1, 0, 2]
    """
    points = as_points(points_mm)
    if sort_type == "random":
        return np.random.default_rng(seed).permutation(len(points)).astype(np.intp)
    sort = _DETERMINISTIC.get(sort_type)
    if sort is None:
        raise PlannerError(
            f"unknown FarmBot sort {sort_type!r}; choose one of: {', '.join(FARMBOT_SORTS)}"
        )
    return np.ascontiguousarray(sort(points))
