"""The tour solvers the planner benchmark compares, each behind one small adapter.

Every adapter turns points into a visiting order (row indices) for a path that starts at
`start_mm` and ends anywhere; the benchmark prices every order with the same metric, so
only the order matters. The reference tools need every travel time up front: a full
matrix of whole ticks (TICKS_PER_S per second), built inside the timed call because that
is what using them on our metric costs. Their imports wait until a solve needs them: they
are optional (`pip install -e '.[bench]'`) and each solver runs in its own process.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import io
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from planner.motion import TravelMetric
from planner.sorts import farmbot_order
from planner.tour import Point, evaluate_order, plan_tour

TICKS_PER_S = 10_000
"""0.1 ms: rounding moves a tour by under 0.01 %, and LKH-3's largest edge times its
internal PRECISION (100) still fits a C int."""
MATRIX_BUDGET_BYTES = 4 * 2**30
"""A reference tool whose matrix would need more than this is skipped, not run into swap."""
ROWS_PER_BLOCK = 256

Points = NDArray[np.float64]
Order = NDArray[np.intp]


@dataclass(frozen=True)
class Solved:
    """An order and what the solver said about it (empty when nothing worth printing)."""

    order: Order
    note: str = ""


class TourSolver:
    """One contender: a label for the table, and a way to order points."""

    is_reference = False
    """LKH-3 is: the gaps are measured to its tour when it ran."""

    @property
    def label(self) -> str:
        raise NotImplementedError

    def skip_reason(self, n_points: int) -> str | None:
        """Why this solver cannot take `n_points` on this machine; None when it can."""
        return None

    def prepare(self, metric: TravelMetric) -> str:
        """Untimed set-up in the solver's own process; returns a note for the table."""
        return ""

    def solve(self, points_mm: Points, metric: TravelMetric, start_mm: Point) -> Solved:
        raise NotImplementedError


# ------------------------------------------------------------------ ours and FarmBot's


@dataclass(frozen=True)
class Ours(TourSolver):
    """`planner.tour.plan_tour` with its default time budget."""

    seed: int = 0

    @property
    def label(self) -> str:
        return "ours (plan_tour)"

    def prepare(self, metric: TravelMetric) -> str:
        return f"first call {first_call_s(metric):.2f} s (kernels), untimed"

    def solve(self, points_mm: Points, metric: TravelMetric, start_mm: Point) -> Solved:
        return Solved(plan_tour(points_mm, metric, start_mm=start_mm, seed=self.seed).order)


def first_call_s(metric: TravelMetric) -> float:
    """What the first `plan_tour` in a process spends loading (or compiling) its kernels."""
    tiny = np.random.default_rng(0).uniform(0, 1000, (50, 2))
    return plan_tour(tiny, metric).compile_s


@dataclass(frozen=True)
class FarmBotSort(TourSolver):
    """One of FarmBot's point-group sorts (`planner.sorts`)."""

    sort_type: str

    @property
    def label(self) -> str:
        return 'FarmBot nn ("Optimized")' if self.sort_type == "nn" else f"FarmBot {self.sort_type}"

    def solve(self, points_mm: Points, metric: TravelMetric, start_mm: Point) -> Solved:
        return Solved(farmbot_order(points_mm, self.sort_type))


# ------------------------------------------------------------------ the matrix they need


def travel_ticks(nodes_mm: Points, metric: TravelMetric) -> NDArray[np.int32]:
    """Travel time between every two nodes in whole ticks; a node to itself costs nothing.

    Built a block of rows at a time so the float intermediates stay a few megabytes.
    """
    n = len(nodes_mm)
    ticks = np.empty((n, n), dtype=np.int32)
    for first in range(0, n, ROWS_PER_BLOCK):
        block = nodes_mm[first : first + ROWS_PER_BLOCK]
        seconds = metric.time_s(block[:, None, :], nodes_mm[None, :, :])
        ticks[first : first + len(block)] = np.rint(seconds * TICKS_PER_S)
    np.fill_diagonal(ticks, 0)
    return ticks


def missing_reason(module: str) -> str | None:
    """Why a reference tool cannot run at all: its optional module is not installed."""
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed (pip install -e '.[bench]')"
    return None


def matrix_skip_reason(tool: str, n_nodes: int, bytes_per_entry: int, module: str) -> str | None:
    """Why `tool` is not run: its module is missing, or its matrix would not fit the budget."""
    missing = missing_reason(module)
    if missing:
        return missing
    needed = n_nodes * n_nodes * bytes_per_entry
    if needed > MATRIX_BUDGET_BYTES:
        return f"the {n_nodes:,} x {n_nodes:,} matrix {tool} needs would take {needed / 1e9:.1f} GB"
    return None


def nodes_from_start(points_mm: Points, start_mm: Point) -> Points:
    """The start as node 0, then the points: point i is node i + 1."""
    return np.vstack([np.asarray([start_mm], dtype=np.float64), points_mm])


# ------------------------------------------------------------------ OR-Tools


@dataclass(frozen=True)
class OrTools(TourSolver):
    """OR-Tools routing: cheapest-arc construction, then guided local search until the limit.

    One vehicle leaves the start (the depot); arcs back to the depot cost nothing, so the
    route's return leg is free and the route is the open path.
    """

    time_limit_s: float

    BYTES_PER_ENTRY = 44
    """The matrix crosses into OR-Tools as Python lists (36 B a number) and is copied (8 B)."""

    @property
    def label(self) -> str:
        return f"OR-Tools GLS {self.time_limit_s:g} s"

    def skip_reason(self, n_points: int) -> str | None:
        return matrix_skip_reason("OR-Tools", n_points + 1, self.BYTES_PER_ENTRY, "ortools")

    def solve(self, points_mm: Points, metric: TravelMetric, start_mm: Point) -> Solved:
        from ortools.constraint_solver import pywrapcp, routing_enums_pb2

        ticks = travel_ticks(nodes_from_start(points_mm, start_mm), metric)
        ticks[:, 0] = 0
        manager = pywrapcp.RoutingIndexManager(len(ticks), 1, 0)
        routing = pywrapcp.RoutingModel(manager)
        routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(ticks.tolist()))
        del ticks
        search = pywrapcp.DefaultRoutingSearchParameters()
        search.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
        search.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        )
        search.time_limit.FromMilliseconds(round(self.time_limit_s * 1000))
        solution = routing.SolveWithParameters(search)
        if solution is None:
            raise RuntimeError(f"OR-Tools found no route (status {routing.status()})")
        order = []
        index = solution.Value(routing.NextVar(routing.Start(0)))
        while not routing.IsEnd(index):
            order.append(manager.IndexToNode(index) - 1)
            index = solution.Value(routing.NextVar(index))
        return Solved(np.asarray(order, dtype=np.intp))


# ------------------------------------------------------------------ LKH-3 (elkai)


@dataclass(frozen=True)
class Lkh3(TourSolver):
    """LKH-3 through elkai, the best-known reference; also reports its Held-Karp bound.

    elkai's public `DistanceMatrix.solve_tsp` checks and formats the matrix in Python
    loops (minutes at N = 5,000) and takes only a run count, so this calls the function
    it wraps, `_elkai.solve_problem`, with LKH's own parameter text: one run, a seed, a
    search time limit, and the trace that carries the lower bound.
    """

    runs: int = 1
    search_limit_s: float = 10.0

    is_reference = True
    BYTES_PER_ENTRY = 12
    """The matrix as TSPLIB text (~8 B a number) and LKH's own copy (4 B)."""

    @property
    def label(self) -> str:
        runs = "1 run" if self.runs == 1 else f"{self.runs} runs"
        return f"LKH-3 (elkai, {runs}, search <= {self.search_limit_s:g} s)"

    def skip_reason(self, n_points: int) -> str | None:
        return matrix_skip_reason("LKH-3", n_points + 2, self.BYTES_PER_ENTRY, "elkai")

    def solve(self, points_mm: Points, metric: TravelMetric, start_mm: Point) -> Solved:
        from elkai import _elkai

        ticks, detour = open_path_ticks(points_mm, metric, start_mm)
        parameters = (
            "PROBLEM_FILE = :stdin:\n"
            f"RUNS = {self.runs}\nTIME_LIMIT = {self.search_limit_s}\nSEED = 1\nTRACE_LEVEL = 1\n"
        )
        problem = tsplib_text(ticks)
        del ticks
        with c_stdout_captured() as trace:
            cycle = _elkai.solve_problem(parameters, problem)
        order = open_path_order(np.asarray(cycle, dtype=np.intp) - 1, len(points_mm))
        bound_ticks = held_karp_bound(trace.getvalue())
        if bound_ticks is None:
            return Solved(order)
        bound_s = (bound_ticks - detour) / TICKS_PER_S
        tour_s, _ = evaluate_order(points_mm, order, metric, start_mm)
        above = (tour_s / bound_s - 1.0) * 100.0
        return Solved(order, f"Held-Karp bound {bound_s:,.1f} s: within {above:.2f} % of optimal")


@dataclass(frozen=True)
class Lkh3OnCoordinates(TourSolver):
    """LKH-3 on scaled coordinates: the reference where the exact matrix cannot be held.

    When X and Y share one motion profile (as on the Genesis XL), a move's time grows
    with its longer axis distance alone; with each axis scaled by its cruise pace that is
    LKH-3's MAX_2D distance, so LKH-3 needs no matrix. It then minimises total cruise
    time, blind to the ramps that make short moves dearer per millimetre: a strong order,
    priced with the true metric like every other. Where the exact run also fits (N =
    5,000) the table shows what this stand-in gives away.
    """

    search_limit_s: float = 60.0
    min_points: int = 5_000
    """Below this the exact run is cheap enough: this one is not needed."""

    is_reference = True

    @property
    def label(self) -> str:
        return f"LKH-3 on MAX_2D coords (search <= {self.search_limit_s:g} s)"

    def skip_reason(self, n_points: int) -> str | None:
        missing = missing_reason("elkai")
        if missing:
            return missing
        if n_points < self.min_points:
            return "the exact LKH-3 run above is the reference at this size"
        return None

    def solve(self, points_mm: Points, metric: TravelMetric, start_mm: Point) -> Solved:
        from elkai import _elkai

        nodes = nodes_from_start(points_mm, start_mm)
        scaled = nodes * np.asarray(metric.seconds_per_mm) * TICKS_PER_S
        problem = (
            f"TYPE : TSP\nDIMENSION : {len(nodes)}\nEDGE_WEIGHT_TYPE : MAX_2D\n"
            "NODE_COORD_SECTION\n"
            + "\n".join(f"{i + 1} {x:.1f} {y:.1f}" for i, (x, y) in enumerate(scaled))
            + "\nEOF\n"
        )
        parameters = (
            "PROBLEM_FILE = :stdin:\nRUNS = 1\nSEED = 1\n"
            f"TIME_LIMIT = {self.search_limit_s}\n"
            # alpha-nearness candidates cost O(N^2) here; POPMUSIC's are near-linear
            "CANDIDATE_SET_TYPE = POPMUSIC\nINITIAL_PERIOD = 100\n"
        )
        with c_stdout_captured():
            cycle = np.asarray(_elkai.solve_problem(parameters, problem), dtype=np.intp) - 1
        path = np.roll(cycle, -int(np.flatnonzero(cycle == 0)[0]))[1:] - 1
        # the cycle's way back to the start is not driven: drop whichever end costs more
        return Solved(
            min(
                (path, path[::-1]),
                key=lambda order: evaluate_order(points_mm, order, metric, start_mm)[0],
            )
        )


def open_path_ticks(
    points_mm: Points, metric: TravelMetric, start_mm: Point
) -> tuple[NDArray[np.int32], int]:
    """The matrix LKH-3 needs for an open path from the start, and its constant `detour`.

    Nodes: the start, the points, then a dummy that closes the cycle. The dummy costs
    nothing to reach from the start and `detour` (more than any edge) from every point,
    so a cycle pays `detour` once when the dummy sits next to the start and twice
    otherwise: the best cycle is the best open path from the start, plus `detour`.
    """
    nodes = np.vstack([nodes_from_start(points_mm, start_mm), [start_mm]])
    ticks = travel_ticks(nodes, metric)
    detour = int(ticks[:-1, :-1].max()) + 1
    ticks[-1, 1:-1] = ticks[1:-1, -1] = detour
    ticks[-1, 0] = ticks[0, -1] = 0
    return ticks, detour


def open_path_order(cycle: Order, n_points: int) -> Order:
    """The points' order read off LKH-3's cycle over `open_path_ticks`' nodes (0-based).

    The cycle is cut at the dummy (node n + 1) and read from the start's side; the start
    (node 0) and the dummy are dropped and node i + 1 becomes point i.
    """
    dummy = n_points + 1
    path: Order = np.roll(cycle, -int(np.flatnonzero(cycle == dummy)[0]))[1:]
    if path[-1] == 0:
        path = path[::-1]
    return np.asarray(path[path != 0] - 1, dtype=np.intp)


def tsplib_text(ticks: NDArray[np.int32]) -> str:
    """The matrix as a TSPLIB problem (elkai's LKH reads only FULL_MATRIX)."""
    header = (
        f"TYPE : TSP\nDIMENSION : {len(ticks)}\nEDGE_WEIGHT_TYPE : EXPLICIT\n"
        "EDGE_WEIGHT_FORMAT : FULL_MATRIX\nEDGE_WEIGHT_SECTION\n"
    )
    rows = "\n".join(" ".join(map(str, row.tolist())) for row in ticks)
    return f"{header}{rows}\nEOF\n"


_LOWER_BOUND = re.compile(r"Lower bound = ([0-9.]+)")


def held_karp_bound(trace: str) -> float | None:
    """LKH-3's Held-Karp lower bound from its trace, in ticks (None if it printed none)."""
    found = _LOWER_BOUND.search(trace)
    return float(found.group(1)) if found else None


@contextlib.contextmanager
def c_stdout_captured() -> Iterator[io.StringIO]:
    """Catch what C code prints (LKH-3's trace); the text is in the yielded buffer after."""
    captured = io.StringIO()
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield captured
        finally:
            ctypes.CDLL(None).fflush(None)
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            captured.write(sink.read().decode(errors="replace"))
