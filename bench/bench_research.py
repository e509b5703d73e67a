"""A 120-day research season on one Genesis XL bed, against the demo's season per day.

The research season (`sim.research`) is the demo's trial (4 watering regimes x 4 blocks,
64 lettuces) tended for 120 days: watered every day and weeded every 3 days, every job
planned by the planner and sent command by command to the in-process firmware on a
virtual clock, weeds found by the ground-truth detector instead of photos. The reference
is the demo's 30-day season (`sim.season.run_season(..., link="loopback")`, photos and
scheduler included), compared per simulated day. Target: the 120 days in at most 10 s of
wall time on one core.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sim.research import FixedWatering, SiteResult, SiteSeason, run_site_season
from sim.season import SeasonConfig, run_season
from sim.vision_models import sim_vision_models

WALL_TARGET_S = 10.0
DEMO = SeasonConfig()
RESEARCH = SiteSeason(
    site="bench",
    profile=DEMO.profile,
    days=120,
    start=DEMO.start,
    treatments=DEMO.ml_by_treatment,
    control=DEMO.control,
    blocks=DEMO.blocks,
    watering=FixedWatering(every_days=1),
    weed_every_days=3,
    seed=DEMO.seed,
)


def demo_s_per_day() -> float:
    """Wall seconds per simulated day of the demo's season (vision models made first)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        sim_vision_models(DEMO.camera(), seed=DEMO.seed, cache_dir=root / "models")
        started_s = time.perf_counter()
        run_season(DEMO, root / "season", link="loopback", models_dir=root / "models")
        return (time.perf_counter() - started_s) / DEMO.days


def research() -> tuple[SiteResult, float, float]:
    """The research season, its wall and CPU seconds."""
    wall_s, cpu_s = time.perf_counter(), time.process_time()
    result = run_site_season(RESEARCH)
    return result, time.perf_counter() - wall_s, time.process_time() - cpu_s


def main() -> bool:
    result, wall_s, cpu_s = research()
    demo_day_s = demo_s_per_day()
    day_s = wall_s / RESEARCH.days
    print(f"\n== {RESEARCH.days}-day research season, loopback, {RESEARCH.profile}")
    print(
        f"wall {wall_s:.1f} s (CPU {cpu_s:.1f} s), {day_s:.3f} s per simulated day; demo season "
        f"{demo_day_s:.3f} s per day: {demo_day_s / day_s:.1f} x faster per day"
    )
    print(
        f"robot moved {result.travel_h:.1f} h, busy {result.busy_h:.1f} h, gave "
        f"{result.water_l:.0f} l; weeds removed {result.weeds_removed}, left "
        f"{result.weeds_left}; yield {result.yield_g_per_m2:.0f} g/m2; {result.anova}"
    )
    met = wall_s <= WALL_TARGET_S
    print(f"target {WALL_TARGET_S:.0f} s wall: {'met' if met else 'MISSED'}")
    return met
