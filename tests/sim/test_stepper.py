"""Step timing of one axis: linear-in-position ramps, summed step by step (reference 2.2)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.motion import axis_time_s
from potager.robots import PROFILES, AxisMotion
from sim.stepper import AxisState, StepProfile


@settings(max_examples=200)
@given(
    steps=st.integers(1, 40_000),
    min_speed=st.integers(20, 500),
    max_speed=st.integers(20, 2000),
    ramp=st.integers(0, 1000),
)
def test_summing_steps_differs_from_the_continuous_formula_by_less_than_one_step(
    steps: int, min_speed: int, max_speed: int, ramp: int
) -> None:
    expected_s = float(axis_time_s(steps, min_speed, max_speed, ramp))
    duration_s = StepProfile(steps, min_speed, max_speed, ramp).duration_s
    assert abs(duration_s - expected_s) <= 1 / min_speed


FARMBOT_AXES = [
    PROFILES["genesis"].x,
    PROFILES["genesis"].z,
    PROFILES["express"].x,
    PROFILES["express"].y,
]


@pytest.mark.parametrize("motion", FARMBOT_AXES)
@settings(max_examples=100)
@given(steps=st.integers(1, 40_000))
def test_with_farmbot_settings_durations_agree_within_1_percent(
    motion: AxisMotion, steps: int
) -> None:
    speeds = (motion.min_speed_steps_s, motion.max_speed_steps_s, motion.ramp_steps)
    expected_s = float(axis_time_s(steps, *speeds))
    assert StepProfile(steps, *speeds).duration_s == pytest.approx(expected_s, rel=0.01)


@settings(max_examples=100)
@given(steps=st.integers(0, 3000), ramp=st.integers(0, 400), data=st.data())
def test_steps_done_inverts_time_of_step(steps: int, ramp: int, data: st.DataObject) -> None:
    profile = StepProfile(steps, 50, 400, ramp)
    done = data.draw(st.integers(0, steps))
    assert profile.steps_done_at(profile.time_of_step(done)) == done
    assert profile.steps_done_at(profile.duration_s) == steps


def test_steps_are_never_undone() -> None:
    profile = StepProfile(2000, 50, 400, 300)
    done = [profile.steps_done_at(0.01 * i) for i in range(int(profile.duration_s * 100) + 2)]
    assert done == sorted(done)
    assert done[0] == 0
    assert done[-1] == 2000


def test_the_first_step_runs_at_the_minimum_speed_and_the_cruise_at_the_maximum() -> None:
    profile = StepProfile(2000, 50, 400, 300)
    assert profile.time_of_step(1) == pytest.approx(1 / 50)
    assert profile.time_of_step(1001) - profile.time_of_step(1000) == pytest.approx(1 / 400)


def test_a_long_move_cruises_between_its_ramps() -> None:
    profile = StepProfile(2000, 50, 400, 300)
    assert profile.state_changes() == [
        (0.0, AxisState.ACCELERATING),
        (profile.time_of_step(300), AxisState.CRUISING),
        (profile.time_of_step(1700), AxisState.DECELERATING),
    ]


def test_a_short_move_peaks_half_way() -> None:
    profile = StepProfile(201, 50, 400, 300)
    assert profile.state_changes() == [
        (0.0, AxisState.ACCELERATING),
        (profile.time_of_step(101), AxisState.DECELERATING),
    ]


def test_a_cruise_below_the_minimum_speed_means_no_ramp() -> None:
    profile = StepProfile(100, 50, 40, 300)
    assert profile.duration_s == pytest.approx(100 / 40)
    assert profile.state_changes() == [(0.0, AxisState.CRUISING)]


def test_a_billion_steps_cost_no_more_than_the_ramps() -> None:
    profile = StepProfile(10**9, 50, 400, 300)
    assert profile.steps_done_at(1e6) == pytest.approx(400 * 1e6, rel=1e-3)
