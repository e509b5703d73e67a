"""The main job on embedded defaults: a month of a watering trial on a simulated robot.

A virtual Farmduino runs on a pseudo-terminal; the controller opens it with pyserial exactly
as it would a robot's USB cable. A randomized block trial (four watering regimes x four
blocks) is designed, laid onto a Genesis XL bed and stored in SQLite; the robot sows it,
its schedules water it every other morning and weed it weekly over a month on a clock
that runs fast and jumps over idle nights, the canopy is measured from photos twice (each
plot's view kept, for the dashboard to show it over time), and the trial is analysed. The
analysis, figures, tables, photos and a summary land in a folder.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TextIO

from sim.season import SeasonConfig, SeasonReport, run_season
from trials.photos import photo_dir_for

DEFAULT_OUT_DIR = Path("var/demo")


def run_demo(
    out_dir: Path = DEFAULT_OUT_DIR,
    profile_name: str = "genesis-xl",
    time_scale: float = 600.0,
    days: int = 30,
    out: TextIO | None = None,
) -> SeasonReport:
    """Run the season on the pty-connected simulator and print its progress and summary.

    A new run replaces the folder's database and its plots' photos, so the summary and the
    dashboard are this run's alone.
    """
    out = out or sys.stdout
    out_dir.mkdir(parents=True, exist_ok=True)
    database = out_dir / "potager.sqlite3"
    database.unlink(missing_ok=True)
    shutil.rmtree(photo_dir_for(f"sqlite:///{database}"), ignore_errors=True)
    config = SeasonConfig(profile=profile_name, days=days)
    print(
        f"Potager demo: {days} days of a watering trial on a simulated {profile_name} robot "
        f"(serial link over a pseudo-terminal, clock x{time_scale:g}, idle nights skipped)",
        file=out,
        flush=True,
    )
    report = run_season(
        config,
        out_dir,
        link="pty",
        time_scale=time_scale,
        models_dir=out_dir / "models",
        progress=out,
    )
    print("", report.summary(), sep="\n", file=out, flush=True)
    return report
