"""The planner benchmark's pure pieces: instances, matrices, and reading the tools' answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.typing import NDArray

from bench.bench_planner import (
    BED_MM,
    METRIC,
    Figures,
    Row,
    instances,
    planting_grid_points,
    reference,
    uniform_points,
)
from bench.tour_solvers import (
    TICKS_PER_S,
    FarmBotSort,
    Lkh3,
    Lkh3OnCoordinates,
    OrTools,
    Ours,
    TourSolver,
    held_karp_bound,
    open_path_order,
    open_path_ticks,
    travel_ticks,
)
from planner.tour import evaluate_order


def inside_bed(points: NDArray[np.float64]) -> bool:
    return bool(((points >= 0) & (points <= np.asarray(BED_MM))).all())


def test_uniform_points_are_reproducible_and_on_the_bed() -> None:
    first = uniform_points(1000, seed=3)
    assert first.shape == (1000, 2)
    assert np.array_equal(first, uniform_points(1000, seed=3))
    assert not np.array_equal(first, uniform_points(1000, seed=4))
    assert inside_bed(first)


def test_the_planting_grid_is_jittered_crops_plus_weeds_on_the_bed() -> None:
    points = planting_grid_points(columns=30, rows=15, jitter_mm=15, weeds=300, seed=0)
    assert points.shape == (30 * 15 + 300, 2)
    assert np.array_equal(points, planting_grid_points(seed=0))
    assert inside_bed(points)
    crops = points[:450]
    spot = np.asarray(BED_MM) / (30, 15) / 2  # the first crop's spot
    assert np.abs(crops[0] - spot).max() <= 15
    assert len(np.unique(crops[:, 0])) == 450  # jitter: no two crops share an X


def test_the_quick_mode_keeps_only_the_small_uniform_instances() -> None:
    assert [len(i.points_mm) for i in instances(quick=True)] == [50, 200]
    full = instances(quick=False)
    assert [len(i.points_mm) for i in full] == [50, 200, 1000, 5000, 20000, 750]
    assert [i.kind for i in full].count("grid") == 1


def test_ticks_are_the_metric_in_tenths_of_milliseconds() -> None:
    nodes = uniform_points(300, seed=1)  # more rows than one block
    ticks = travel_ticks(nodes, METRIC)
    assert np.array_equal(ticks, ticks.T)
    assert (np.diag(ticks) == 0).all()
    expected = METRIC.time_s(nodes[7], nodes[290]) * TICKS_PER_S
    assert ticks[7, 290] == pytest.approx(expected, abs=0.5)


def test_the_dummy_makes_the_best_cycle_the_best_open_path_from_the_start() -> None:
    points = uniform_points(6, seed=2)
    ticks, detour = open_path_ticks(points, METRIC, (0.0, 0.0))
    assert ticks.shape == (8, 8)
    assert detour > ticks[:-1, :-1].max()
    best_cycle = min(
        ((7, *rest) for rest in itertools.permutations(range(7))),  # node 7 is the dummy
        key=lambda cycle: int(ticks[list(cycle), list(np.roll(cycle, -1))].sum()),
    )
    order = open_path_order(np.asarray(best_cycle), len(points))
    best_path_s = min(
        evaluate_order(points, path, METRIC)[0] for path in itertools.permutations(range(6))
    )
    assert evaluate_order(points, order, METRIC)[0] == pytest.approx(best_path_s, rel=1e-4)


@pytest.mark.parametrize(
    ("cycle", "expected"),
    [
        ([3, 0, 2, 1], [1, 0]),  # dummy 3, then the start, then points 1 and 0
        ([0, 3, 1, 2], [1, 0]),  # the start on the other side of the dummy: read backwards
        ([2, 3, 0, 1], [0, 1]),
    ],
)
def test_the_order_is_read_from_the_start_with_start_and_dummy_dropped(
    cycle: list[int], expected: list[int]
) -> None:
    assert open_path_order(np.asarray(cycle), n_points=2).tolist() == expected


def test_the_held_karp_bound_is_read_from_lkhs_trace() -> None:
    trace = "PRECISION = 100\nLower bound = 28450823.6, Ascent time = 0.96 sec.\n* 1: Cost"
    assert held_karp_bound(trace) == 28450823.6
    assert held_karp_bound("no trace") is None


@pytest.mark.parametrize(
    ("solver", "module", "tool"),
    [(OrTools(10.0), "ortools", "OR-Tools"), (Lkh3(), "elkai", "LKH-3")],
    ids=["OR-Tools", "LKH-3"],
)
def test_reference_tools_skip_twenty_thousand_points_and_say_why(
    solver: TourSolver, module: str, tool: str
) -> None:
    __import__(module)  # installed by `make test`: a missing tool must fail, not skip
    assert solver.skip_reason(1_000) is None
    assert f"matrix {tool} needs would take" in (solver.skip_reason(20_000) or "")


def row(solver: TourSolver, tour_s: float | None) -> Row:
    return Row(solver, None if tour_s is None else Figures(tour_s, 1.0, 100.0), "")


def test_gaps_are_to_lkh_where_it_ran_else_to_the_best_of_the_run() -> None:
    ran = [row(Ours(), 101.0), row(FarmBotSort("nn"), 99.0), row(Lkh3(), 100.0)]
    best = reference(ran)
    assert best is not None and best[0] == Lkh3()
    best = reference([*ran[:2], row(Lkh3(), None)])
    assert best is not None and best[0] == FarmBotSort("nn")
    assert reference([row(Lkh3(), None)]) is None


def test_the_exact_lkh_run_is_preferred_to_its_coordinate_stand_in() -> None:
    both = [row(Ours(), 101.0), row(Lkh3(), 100.0), row(Lkh3OnCoordinates(), 100.3)]
    best = reference(both)
    assert best is not None and best[0] == Lkh3()
    best = reference([both[0], row(Lkh3(), None), both[2]])
    assert best is not None and best[0] == Lkh3OnCoordinates()


def test_the_coordinate_stand_in_runs_only_where_the_exact_run_cannot_be_trusted_to() -> None:
    __import__("elkai")  # installed by `make test`: a missing tool must fail, not skip
    assert "exact LKH-3" in (Lkh3OnCoordinates().skip_reason(1_000) or "")
    assert Lkh3OnCoordinates().skip_reason(20_000) is None


def test_the_coordinate_stand_in_gives_a_whole_order_better_than_nearest_neighbour() -> None:
    points = uniform_points(200, seed=3)
    solver = Lkh3OnCoordinates(search_limit_s=1.0, min_points=0)
    order = solver.solve(points, METRIC, (0.0, 0.0)).order
    assert sorted(order.tolist()) == list(range(200))
    greedy = FarmBotSort("nn").solve(points, METRIC, (0.0, 0.0)).order
    assert (
        evaluate_order(points, order, METRIC)[0] < 0.97 * evaluate_order(points, greedy, METRIC)[0]
    )


@pytest.mark.parametrize(
    ("solver", "module"),
    [(OrTools(0.2), "ortools"), (Lkh3(search_limit_s=1.0), "elkai")],
    ids=["OR-Tools", "LKH-3"],
)
def test_reference_tools_find_the_best_open_path_on_a_small_case(
    solver: TourSolver, module: str
) -> None:
    __import__(module)  # installed by `make test`: a missing tool must fail, not skip
    points = uniform_points(7, seed=5)
    order = solver.solve(points, METRIC, (0.0, 0.0)).order
    best_s = min(
        evaluate_order(points, path, METRIC)[0] for path in itertools.permutations(range(7))
    )
    assert sorted(order.tolist()) == list(range(7))
    assert evaluate_order(points, order, METRIC)[0] == pytest.approx(best_s, rel=1e-4)
