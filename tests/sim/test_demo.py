"""The main job, shortened to a week: the real controller over a real pty, schedules, vision,
trial store and analysis, with every result file written."""

from __future__ import annotations

import io
from pathlib import Path

from controller.action_journal import ActionJournal
from potager.db import make_engine, session_factory
from sim.demo import run_demo
from sim.season import ROBOT_ID

TIME_SCALE = 300.0
"""Half the demo's own speed: at 600x a link timeout is 8 ms of real time plus a quarter
second of slack, which a loaded CI machine has once overrun."""


def test_a_week_of_the_demo_runs_every_job_over_the_pty(tmp_path: Path) -> None:
    out = io.StringIO()
    report = run_demo(tmp_path / "demo", time_scale=TIME_SCALE, days=8, out=out)
    text = out.getvalue()
    assert "ttyFARMDUINO" in text  # a real pseudo-terminal, opened with pyserial
    jobs = report.work.runs_by_job
    assert set(jobs) == {"sow", "water", "weed", "canopy"}
    assert all(set(outcomes) == {"done"} for outcomes in jobs.values()), jobs
    assert jobs["water"]["done"] == 4 and jobs["canopy"]["done"] == 2
    assert report.work.actions["sow"] == 64
    # every watering gave each plant its regime's millilitres: 4 x 4 plants x (0+40+120+250)
    assert report.work.water_ml == 4 * 4 * 4 * (0 + 40 + 120 + 250)
    assert report.crops_struck == 0
    for name in ("anova.txt", "canopy_means.png", "canopy_field_map.png", "summary.txt"):
        assert (tmp_path / "demo" / name).stat().st_size > 0
    assert "ANOVA: canopy_cover_d6: treatment F(3, 9)" in text
    assert text.count(" water: given_ml 6560.0") == 4
    # what the journal holds is what the summary says, each action once
    sessions = session_factory(make_engine(f"sqlite:///{tmp_path / 'demo' / 'potager.sqlite3'}"))
    actions = ActionJournal(sessions).actions(robot_id=ROBOT_ID)
    assert len({(a.run_id, a.step) for a in actions}) == len(actions)
    assert sum(a.volume_ml for a in actions) == report.work.water_ml
    # far faster than the robot's own time
    assert report.wall_s < report.work.moving_s / 10


def test_running_the_demo_again_starts_from_a_clean_database(tmp_path: Path) -> None:
    first = run_demo(tmp_path, time_scale=TIME_SCALE, days=2, out=io.StringIO())
    second = run_demo(tmp_path, time_scale=TIME_SCALE, days=2, out=io.StringIO())
    assert first.work.actions["sow"] == second.work.actions["sow"] == 64
