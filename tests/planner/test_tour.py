"""The tour optimiser: valid orders, honest costs, fixed ends, determinism, bad input."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import PlannerError
from planner import tour as tour_module
from planner.motion import AxisLaw, TravelMetric, move_time_s
from planner.sorts import farmbot_order
from planner.tour import check_on_bed, evaluate_order, plan_tour
from potager.robots import get_profile

PROFILE = get_profile("genesis-xl")
METRIC = TravelMetric.for_profile(PROFILE)
BED = np.array([PROFILE.length_x_mm, PROFILE.length_y_mm])


def random_points(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 2)) * BED


def independent_duration_s(points: np.ndarray, order: np.ndarray, start, end, closed) -> float:
    """Leg by leg with the single-move formula, nothing shared with the optimiser."""
    path = [start] if start is not None else []
    path += [tuple(points[i]) for i in order]
    if end is not None:
        path.append(end)
    elif closed:
        path.append(path[0])
    return sum(move_time_s(PROFILE, (*a, 0.0), (*b, 0.0)) for a, b in itertools.pairwise(path))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 6, 50, 300])
def test_every_point_is_visited_exactly_once(n: int) -> None:
    plan = plan_tour(random_points(n), METRIC)
    assert sorted(plan.order.tolist()) == list(range(n))


@pytest.mark.parametrize(
    ("start", "end", "closed"),
    [
        ((0.0, 0.0), None, False),
        ((0.0, 0.0), (5900.0, 2730.0), False),
        ((3000.0, 1000.0), None, True),
        (None, None, False),
        (None, (100.0, 100.0), False),
        (None, None, True),
    ],
)
def test_the_reported_duration_is_the_real_one_for_every_kind_of_tour(
    start: tuple[float, float] | None, end: tuple[float, float] | None, closed: bool
) -> None:
    points = random_points(120, seed=3)
    plan = plan_tour(points, METRIC, start_mm=start, end_mm=end, closed=closed)
    assert sorted(plan.order.tolist()) == list(range(120))
    assert plan.duration_s == pytest.approx(
        independent_duration_s(points, plan.order, start, end, closed), rel=1e-9
    )


def test_a_fixed_end_is_reached_and_beats_ignoring_it() -> None:
    points = random_points(200, seed=5)
    end = (5900.0, 2730.0)
    aware = plan_tour(points, METRIC, end_mm=end)
    unaware = plan_tour(points, METRIC)
    unaware_to_end, _ = evaluate_order(points, unaware.order, METRIC, end_mm=end)
    assert aware.duration_s <= unaware_to_end + 1e-6


def test_small_problems_are_solved_to_optimality() -> None:
    points = random_points(7, seed=11)
    best = min(
        evaluate_order(points, order, METRIC)[0] for order in itertools.permutations(range(7))
    )
    assert plan_tour(points, METRIC).duration_s == pytest.approx(best, rel=1e-9)


def test_better_than_farmbot_optimized_and_default_orders() -> None:
    points = random_points(500, seed=2)
    ours = plan_tour(points, METRIC).duration_s
    for name, margin in (("nn", 1.03), ("xy_ascending", 1.5)):
        theirs, _ = evaluate_order(points, farmbot_order(points, name), METRIC)
        assert ours * margin < theirs, name


def test_the_same_seed_gives_the_same_tour() -> None:
    points = random_points(800, seed=4)
    first, again = plan_tour(points, METRIC, seed=7), plan_tour(points, METRIC, seed=7)
    assert np.array_equal(first.order, again.order)


def test_a_time_budget_is_honoured_and_more_time_does_not_hurt() -> None:
    points = random_points(3000, seed=6)
    began = time.perf_counter()
    quick = plan_tour(points, METRIC, budget_s=0.2)
    assert time.perf_counter() - began < 0.2 + 0.5  # plus construction and first descent
    assert plan_tour(points, METRIC, budget_s=1.0).duration_s <= quick.duration_s * 1.005


def test_the_matrix_free_path_gives_a_tour_as_good(monkeypatch: pytest.MonkeyPatch) -> None:
    points = random_points(400, seed=8)
    with_matrix = plan_tour(points, METRIC).duration_s
    monkeypatch.setattr(tour_module, "MATRIX_MAX_NODES", 0)
    without = plan_tour(points, METRIC)
    assert sorted(without.order.tolist()) == list(range(400))
    assert without.duration_s == pytest.approx(with_matrix, rel=0.02)


def test_duplicates_and_collinear_points() -> None:
    same = np.full((30, 2), 1000.0)
    assert sorted(plan_tour(same, METRIC).order.tolist()) == list(range(30))
    line = np.column_stack([np.linspace(0, 5000, 60), np.zeros(60)])
    plan = plan_tour(np.random.default_rng(0).permutation(line), METRIC)
    xs = np.random.default_rng(0).permutation(line)[plan.order, 0]
    assert np.all(np.diff(xs) >= 0)  # from (0, 0), sweeping the line once is optimal


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([[0.0, 0.0], [float("nan"), 1.0]], "point 1"),
        ([[0.0, 0.0], [1.0, float("inf")]], "finite"),
        ([[0.0, 0.0, 0.0]], "rows of"),
    ],
)
def test_bad_points_are_refused_naming_the_point(points: list[list[float]], message: str) -> None:
    with pytest.raises(PlannerError, match=message):
        plan_tour(points, METRIC)


def test_points_outside_the_bed_are_refused_naming_the_row() -> None:
    points = np.array([[10.0, 10.0], [6000.0, 10.0]])
    with pytest.raises(PlannerError, match=r"point 1 at X 6000, Y 10 mm is outside"):
        check_on_bed(points, PROFILE)


def test_closed_with_an_end_is_refused() -> None:
    with pytest.raises(PlannerError, match="closed"):
        plan_tour(random_points(10), METRIC, end_mm=(1.0, 1.0), closed=True)


coordinates = st.tuples(st.floats(0, 5900), st.floats(0, 2730))


@settings(max_examples=200)
@given(coordinates, coordinates, coordinates)
def test_the_metric_is_symmetric_and_obeys_the_triangle_inequality(a, b, c) -> None:
    for metric in (METRIC, TravelMetric(AxisLaw.trapezoid(150, 400), AxisLaw.trapezoid(90, 300))):
        ab, ba = metric.time_s(a, b), metric.time_s(b, a)
        assert ab == pytest.approx(ba)
        assert metric.time_s(a, c) <= ab + metric.time_s(b, c) + 1e-9
        assert metric.time_s(a, a) == 0


@given(st.floats(0, 6000))
def test_the_kernel_tables_match_the_formula(distance_mm: float) -> None:
    tables = METRIC.kernel_tables(6000)
    index = int(distance_mm)
    interpolated = tables[0, index] + (distance_mm - index) * (
        tables[0, index + 1] - tables[0, index]
    )
    # off by under a millisecond, the worst on hops of a few millimetres where the ramp is steep
    assert interpolated == pytest.approx(float(METRIC.x.time_s(distance_mm)), abs=1e-3)


def test_the_full_matrix_is_refused_for_large_n() -> None:
    with pytest.raises(ValueError, match="neighbour lists"):
        METRIC.matrix(np.zeros((5000, 2)))
