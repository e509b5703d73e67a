"""`potager plan tour`, run as a user would: a separate process reading a CSV file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from planner.motion import TravelMetric
from planner.sorts import farmbot_order
from planner.tour import evaluate_order
from potager.robots import get_profile
from tests.test_cli import potager

ROW_NUMBERING = "(counting the header as row 1)"


def write_points(path: Path, count: int = 30, seed: int = 3) -> Path:
    """A CSV the way a student exports it: an extra column before the coordinates."""
    xy_mm = np.random.default_rng(seed).random((count, 2)) * (2800, 1200)
    rows = "".join(f"plant {i},{x:.1f},{y:.1f}\n" for i, (x, y) in enumerate(xy_mm))
    path.write_text("name,x_mm,y_mm\n" + rows)
    return path


@pytest.fixture
def points_csv(tmp_path: Path) -> Path:
    return write_points(tmp_path / "points.csv")


def plan_json(*args: str) -> dict[str, Any]:
    done = potager("plan", "tour", "--json", *args)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert isinstance(outcome, dict)
    return outcome


def refusal(*args: str) -> str:
    """The message of a run that must fail cleanly."""
    done = potager("plan", "tour", *args)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    return done.stderr.strip()


def test_help_lists_plan() -> None:
    assert "plan" in potager("--help").stdout


def test_a_good_file_prints_order_duration_length_and_planning_time(points_csv: Path) -> None:
    done = potager("plan", "tour", str(points_csv), "--profile", "genesis")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert f"30 points from {points_csv} on a genesis" in text
    assert "optimised order (0-based data rows):" in text
    order_lines = text.split("rows):\n")[1].split("  duration")[0]
    assert sorted(int(index) for index in order_lines.split()) == list(range(30))
    assert max(len(line) for line in order_lines.splitlines()) <= 100
    for label in ("duration", "length", "planning"):
        assert f"  {label}  " in text


def test_json_output_is_a_complete_tour(points_csv: Path) -> None:
    outcome = plan_json(str(points_csv), "--profile", "genesis", "--start", "100,200")
    assert outcome["order_name"] == "optimised"
    assert sorted(outcome["order"]) == list(range(30))
    assert isinstance(outcome["duration_s"], float) and outcome["duration_s"] > 0
    assert isinstance(outcome["length_mm"], float) and outcome["length_mm"] > 0
    assert isinstance(outcome["planning_s"], float) and outcome["planning_s"] >= 0


def test_a_farmbot_order_is_priced_like_the_optimiser(points_csv: Path) -> None:
    outcome = plan_json(str(points_csv), "--profile", "genesis", "--order", "xy_ascending")
    rows = np.loadtxt(points_csv, delimiter=",", skiprows=1, usecols=(1, 2))
    expected = farmbot_order(rows, "xy_ascending")
    assert outcome["order_name"] == "xy_ascending"
    assert outcome["order"] == expected.tolist()
    metric = TravelMetric.for_profile(get_profile("genesis"))
    duration_s, length_mm = evaluate_order(rows, expected, metric)
    assert outcome["duration_s"] == pytest.approx(duration_s)
    assert outcome["length_mm"] == pytest.approx(length_mm)
    optimised = plan_json(str(points_csv), "--profile", "genesis")
    assert optimised["duration_s"] < outcome["duration_s"]


def test_an_unknown_order_lists_the_known_ones(points_csv: Path) -> None:
    message = refusal(str(points_csv), "--order", "zigzag")
    assert "unknown FarmBot sort 'zigzag'" in message
    assert "xy_ascending" in message


def test_a_missing_column_is_named_with_the_header_it_found(tmp_path: Path) -> None:
    path = tmp_path / "xy.csv"
    path.write_text("name,x_mm,y\nA,1,2\n")
    assert refusal(str(path)) == (
        f"error: {path} has no y_mm column; its header has: 'name', 'x_mm', 'y'"
    )


def test_a_non_number_names_its_row_counting_the_header(tmp_path: Path) -> None:
    path = tmp_path / "typo.csv"
    path.write_text("x_mm,y_mm\n1,2\n3,4\n\n5,6\n7,8\nabc,9\n")
    assert refusal(str(path)) == (
        f"error: {path} row 7 {ROW_NUMBERING}: x_mm 'abc' is not a number"
    )


def test_an_empty_cell_and_a_short_row_are_named(tmp_path: Path) -> None:
    path = tmp_path / "holes.csv"
    path.write_text("x_mm,y_mm\n1,\n")
    assert f"row 2 {ROW_NUMBERING}: y_mm is empty" in refusal(str(path))
    path.write_text("x_mm,y_mm\n1,2\n3\n")
    assert f"row 3 {ROW_NUMBERING}: y_mm is empty" in refusal(str(path))


def test_a_point_outside_the_bed_names_its_row_and_the_bed(tmp_path: Path) -> None:
    path = tmp_path / "far.csv"
    path.write_text("x_mm,y_mm\n10,10\n20,20\n3500,40\n")
    assert refusal(str(path), "--profile", "genesis") == (
        f"error: {path} row 4 {ROW_NUMBERING}: point 2 at X 3500, Y 40 mm is outside the "
        "genesis bed (X 0-2900, Y 0-1230 mm)"
    )


def test_an_empty_file_and_a_header_alone_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    assert "is empty: it needs a header row with x_mm and y_mm" in refusal(str(path))
    path.write_text("x_mm,y_mm\n")
    assert "has a header but no points" in refusal(str(path))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    assert refusal(str(path)) == f"error: points file {path} not found"


def test_a_start_off_the_bed_is_refused(points_csv: Path) -> None:
    message = refusal(str(points_csv), "--profile", "genesis", "--start", "0,5000")
    assert message == "error: --start: Y 5000 mm is outside the genesis bed (Y 0-1230 mm)"


def test_errors_in_json_mode_are_json_too(tmp_path: Path) -> None:
    done = potager("plan", "tour", "--json", str(tmp_path / "nowhere.csv"))
    assert done.returncode == 1
    assert json.loads(done.stdout)["ok"] is False
    assert "Traceback" not in done.stderr
