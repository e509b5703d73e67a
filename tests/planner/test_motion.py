"""The firmware's travel-time model against the reference's worked numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.motion import axis_move_time_s, axis_time_s, move_time_s, moves_time_s
from potager.robots import Axis, get_profile

GENESIS = get_profile("genesis")
EXPRESS = get_profile("express")


@pytest.mark.parametrize(
    ("distance_mm", "expected_s"),
    [(100, 3.3), (1000, 14.6), (2900, 38.3)],
)
def test_genesis_x_matches_the_reference_worked_numbers(
    distance_mm: float, expected_s: float
) -> None:
    assert move_time_s(GENESIS, (0, 0, 0), (distance_mm, 0, 0)) == pytest.approx(
        expected_s, abs=0.05
    )


def test_one_full_ramp_takes_its_closed_form_time() -> None:
    # 300 steps from 50 to 400 steps/s: n ln(v1/v0) / (v1 - v0) = 1.78 s, covering 60 mm.
    ramp_s = 300 * math.log(400 / 50) / 350
    assert ramp_s == pytest.approx(1.78, abs=0.005)
    assert float(axis_time_s(600, 50, 400, 300)) == pytest.approx(2 * ramp_s)


def test_z_is_slow_and_express_y_is_fast() -> None:
    assert move_time_s(GENESIS, (0, 0, 0), (0, 0, -100)) == pytest.approx(8.3, abs=0.05)
    assert move_time_s(EXPRESS, (0, 0, 0), (0, 1000, 0)) == pytest.approx(5.9, abs=0.05)


def test_a_move_lasts_as_long_as_its_slowest_axis() -> None:
    x_only = move_time_s(GENESIS, (0, 0, 0), (1000, 0, 0))
    y_short = move_time_s(GENESIS, (0, 0, 0), (0, 200, 0))
    assert move_time_s(GENESIS, (0, 0, 0), (1000, 200, 0)) == pytest.approx(max(x_only, y_short))


def test_lower_speed_takes_longer_and_below_min_speed_runs_flat() -> None:
    full = float(axis_move_time_s(GENESIS.x, 1000))
    half = float(axis_move_time_s(GENESIS.x, 1000, speed_percent=50))
    assert half > full
    crawl = float(axis_move_time_s(GENESIS.x, 100, speed_percent=10))  # 40 < 50 steps/s
    assert crawl == pytest.approx(100 * 5 / 40)


def test_vectorised_times_equal_scalar_ones() -> None:
    distances = np.array([0, 5, 60, 120, 999])
    vector = axis_move_time_s(GENESIS.y, distances)
    assert vector.shape == (5,)
    for distance, value in zip(distances, vector, strict=True):
        assert float(axis_move_time_s(GENESIS.y, distance)) == pytest.approx(value)
    assert vector[0] == 0


@given(st.floats(0, 5000), st.floats(0, 5000))
def test_time_is_monotone_and_subadditive_in_distance(a_mm: float, b_mm: float) -> None:
    t_a, t_b = float(axis_move_time_s(GENESIS.x, a_mm)), float(axis_move_time_s(GENESIS.x, b_mm))
    t_sum = float(axis_move_time_s(GENESIS.x, a_mm + b_mm))
    assert t_sum >= max(t_a, t_b) - 1e-9
    assert t_sum <= t_a + t_b + 1e-9


def test_z_up_uses_the_toward_home_settings() -> None:
    faster_up = GENESIS.model_copy(
        update={"z_toward_home": GENESIS.z.model_copy(update={"max_speed_steps_s": 800})}
    )
    down = move_time_s(faster_up, (0, 0, 0), (0, 0, -200))
    up = move_time_s(faster_up, (0, 0, -200), (0, 0, 0))
    assert up < down
    assert faster_up.motion(Axis.Z, toward_home=True).max_speed_steps_s == 800


@pytest.mark.parametrize("speed_percent", [100.0, 35.0, 3.0])
def test_one_move_in_floats_prices_as_the_array_code(speed_percent: float) -> None:
    rng = np.random.default_rng(11)
    for profile in (GENESIS, EXPRESS):
        starts = rng.uniform([0, 0, -400], [2900, 1400, 0], (200, 3))
        ends = rng.uniform([0, 0, -400], [2900, 1400, 0], (200, 3))
        ends[-1] = starts[-1]
        batch = moves_time_s(profile, ends - starts, speed_percent)
        one_by_one = [
            move_time_s(profile, tuple(start), tuple(end), speed_percent)
            for start, end in zip(starts, ends, strict=True)
        ]
        assert one_by_one == pytest.approx(batch, rel=1e-12, abs=1e-12)
        assert one_by_one[-1] == 0.0  # back where it started: no move
