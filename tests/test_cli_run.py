"""`potager run`: a robot's schedule file run against a simulated robot on its serial port,
as separate processes, then its journal read back."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.conftest import SIM_TIME_SCALE

POTAGER = [sys.executable, "-m", "potager"]
EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "water-lettuces.yaml"
PARIS = ZoneInfo("Europe/Paris")


def robot_file(folder: Path, start: datetime) -> Path:
    shutil.copy(EXAMPLE, folder / "water-lettuces.yaml")
    path = folder / "robot.yaml"
    path.write_text(
        f"""\
robot: greenhouse-1
zone: Europe/Paris
sequences:
  water lettuces: water-lettuces.yaml
schedules:
  - name: every five minutes
    job: water lettuces
    start_local: {start:%Y-%m-%dT%H:%M:%S}
    every: 5
    unit: minutes
    end_local: {start + timedelta(minutes=12):%Y-%m-%dT%H:%M:%S}
    params: {{amount_ml: 30}}
    grace_s: 60
"""
    )
    return path


def test_a_schedule_file_runs_its_sequence_at_each_occurrence(
    sim_port: str, tmp_path: Path
) -> None:
    start = datetime.now(PARIS).replace(microsecond=0) + timedelta(minutes=2)
    path = robot_file(tmp_path, start)
    database = f"sqlite:///{tmp_path / 'robot.sqlite3'}"
    until = (start + timedelta(minutes=14)).isoformat()
    done = subprocess.run(
        [*POTAGER, "run", str(path), "--port", sim_port, "--database", database,
         "--until", until, "--time-scale", SIM_TIME_SCALE],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("water lettuces: done") == 3, done.stdout
    journal = subprocess.run(
        [*POTAGER, "run", str(path), "--journal", "--database", database],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    lines = journal.stdout.splitlines()
    assert len(lines) == 3 and all("done" in line and "60 ml" in line for line in lines), lines


def test_a_bad_schedule_file_is_refused_before_the_robot_moves(tmp_path: Path) -> None:
    path = robot_file(tmp_path, datetime(2026, 6, 1, 7, 0))
    path.write_text(path.read_text().replace("every: 5", "every: -1"))
    done = subprocess.run(
        [*POTAGER, "run", str(path), "--port", "/dev/null-robot"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "robot.yaml:9:5: schedule 'every five minutes': every" in done.stderr
