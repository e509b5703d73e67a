"""A 30-day simulated trial in loopback mode: our planner's order against FarmBot's default.

The whole demo season (4 watering regimes x 4 blocks, 64 lettuces: sown, watered every
other day, photographed and weeded weekly, canopy measured twice) runs twice on the
in-process firmware and a virtual clock: once with every job's stops ordered by the
planner on the robot's travel-time metric, once ordered as FarmBot orders a group by
default (`xy_ascending`: by X, then Y). Reported: the wall time of each season, and the
robot's travel time, priced by the firmware's motion model from the action journal, in
all and per job. Targets: a season in under 60 s of wall time; our travel time below
FarmBot's.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sim.season import SeasonConfig, SeasonReport, run_season
from sim.vision_models import sim_vision_models

WALL_TARGET_S = 60.0
ORDERS = ("planner", "xy_ascending")


def season(order: str, root: Path) -> tuple[SeasonReport, float]:
    started_s = time.perf_counter()
    report = run_season(
        SeasonConfig(),
        root / order,
        link="loopback",
        order=order,
        models_dir=root / "models",
    )
    return report, time.perf_counter() - started_s


def main() -> bool:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        config = SeasonConfig()
        sim_vision_models(config.camera(), seed=config.seed, cache_dir=root / "models")  # once
        reports = {order: season(order, root) for order in ORDERS}
    ours, _ = reports["planner"]
    farmbot, _ = reports["xy_ascending"]
    jobs = sorted(ours.work.moving_s_by_job)
    print("\n== 30-day trial season, loopback (in-process firmware, virtual clock)")
    header = "".join(f"{job + ' h':>12}" for job in jobs)
    print(f"{'order':16}{'wall s':>9}{'moved h':>10}{header}{'busy h':>9}{'weeds':>7}")
    for order, (report, wall_s) in reports.items():
        per_job = "".join(f"{report.work.moving_s_by_job.get(j, 0.0) / 3600:12.2f}" for j in jobs)
        print(
            f"{order:16}{wall_s:9.1f}{report.work.moving_s / 3600:10.2f}{per_job}"
            f"{report.work.busy_s / 3600:9.2f}{report.weeds_removed:7d}"
        )
    ratio = ours.work.moving_s / farmbot.work.moving_s
    ratios = ", ".join(
        f"{job} {ours.work.moving_s_by_job[job] / farmbot.work.moving_s_by_job[job]:.3f}"
        for job in jobs
        if farmbot.work.moving_s_by_job.get(job)
    )
    wall_s = reports["planner"][1]
    print(f"travel time, planner / FarmBot xy_ascending: {ratio:.3f} (by job: {ratios})")
    print(
        f"season wall time {wall_s:.1f} s; target {WALL_TARGET_S:.0f} s: "
        f"{'met' if wall_s <= WALL_TARGET_S else 'MISSED'}; "
        f"travel below FarmBot's: {'met' if ratio < 1 else 'MISSED'}"
    )
    return wall_s <= WALL_TARGET_S and ratio < 1
