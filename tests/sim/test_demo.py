"""The main job: a simulated robot driven through a real pty, watered stops, valve closed."""

from __future__ import annotations

import io

from potager.robots import get_profile
from sim.demo import demo_stops, run_demo


def test_the_demo_waters_every_stop_and_closes_the_valve() -> None:
    out = io.StringIO()
    figures = run_demo(profile_name="genesis", time_scale=400, out=out)
    text = out.getvalue()
    assert figures["stops"] == 6
    assert text.count("watered 2 s") == 6
    assert "valve closed: yes" in text
    assert "configuration uploaded" in text
    # the robot's clock ran for the travel the motion model predicts, and much faster than real time
    assert figures["robot_s"] > 100
    assert figures["wall_s"] < figures["robot_s"] / 20


def test_demo_stops_stay_on_the_bed() -> None:
    profile = get_profile("express")
    for stop in demo_stops(profile, count=7):
        assert 0 < stop.x_mm < profile.length_x_mm
        assert 0 < stop.y_mm < profile.length_y_mm
