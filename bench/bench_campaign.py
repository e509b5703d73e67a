"""A research campaign of 10 sites x 10 seeds on two cores, against the same runs one by one.

The campaign is the multi-site example's protocol (`examples/scenarios/multi-site.yaml`:
lettuce, 3 watering levels x 3 blocks, watered by soil probe, weeded weekly, the example's
45-day spring season) at ten sites of different synthetic climates, ten seeds each: 100
site-seasons through the controller, the loopback firmware and a trial store each, run by
`sim.research_runs.run_campaign` on two worker processes as `potager sim season` runs them.
The reference is the serial pace in this process: four of the same runs one after the
other, scaled to the hundred. The ratio is the speed-up the two workers bring.
Target: the 100 runs in at most 2 minutes of wall time on two cores.
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from sim.research import run_site_season
from sim.research_runs import run_campaign
from sim.scenario import LoadedScenario, load_scenario

WALL_TARGET_S = 120.0
WORKERS = 2
SEEDS = 10
SERIAL_SAMPLE = 4
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scenarios" / "multi-site.yaml"
CLIMATES = [
    # name, latitude, mean temperature, seasonal and daily ranges (°C), rain (P(wet|dry),
    # P(wet|wet), mean mm on a wet day), weed pressure
    ("avignon", 43.9, 14.6, 9.5, 12.0, 0.18, 0.50, 7.5, 0.8),
    ("bordeaux", 44.8, 13.8, 8.0, 10.0, 0.28, 0.62, 5.5, 1.1),
    ("brest", 48.4, 11.6, 5.0, 6.5, 0.38, 0.70, 4.0, 1.3),
    ("clermont", 45.8, 11.7, 9.0, 11.5, 0.25, 0.58, 4.8, 1.0),
    ("dijon", 47.3, 11.2, 9.5, 10.5, 0.26, 0.57, 4.6, 1.0),
    ("lille", 50.6, 10.8, 7.0, 8.0, 0.32, 0.65, 3.8, 1.3),
    ("lyon", 45.8, 12.5, 9.8, 10.5, 0.24, 0.56, 5.2, 0.9),
    ("nantes", 47.2, 12.5, 7.0, 9.0, 0.30, 0.64, 4.5, 1.2),
    ("rennes", 48.1, 12.0, 6.8, 9.0, 0.31, 0.64, 3.9, 1.2),
    ("strasbourg", 48.6, 10.6, 9.8, 10.0, 0.26, 0.56, 4.6, 1.0),
]


def ten_site_scenario(folder: Path) -> LoadedScenario:
    """The example's trial and strategy at the ten climates above, checked as a user's is."""
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["name"] = "ten climates"
    data["seeds"] = SEEDS
    data["sites"] = [
        {
            "name": name,
            "profile": "genesis-xl",
            "weed_pressure": weeds,
            "weather": {
                "synthetic": {
                    "latitude_deg": latitude,
                    "mean_temp_c": mean_c,
                    "seasonal_amplitude_c": seasonal_c,
                    "diurnal_range_c": daily_c,
                    "wet_after_dry": wet_dry,
                    "wet_after_wet": wet_wet,
                    "mean_rain_mm": rain_mm,
                }
            },
        }
        for name, latitude, mean_c, seasonal_c, daily_c, wet_dry, wet_wet, rain_mm, weeds in (
            CLIMATES
        )
    ]
    path = folder / "ten-climates.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_scenario(path)


def main() -> bool:
    with tempfile.TemporaryDirectory() as folder:
        loaded = ten_site_scenario(Path(folder))
        runs = loaded.runs()
        serial_s = []
        for planned in runs[:: len(runs) // SERIAL_SAMPLE][:SERIAL_SAMPLE]:
            started_s = time.perf_counter()
            run_site_season(planned.inputs)
            serial_s.append(time.perf_counter() - started_s)
        started_s = time.perf_counter()
        campaign = run_campaign(
            loaded.scenario, runs, Path(folder) / "out", workers=WORKERS, progress=sys.stderr
        )
        wall_s = time.perf_counter() - started_s
    serial_estimate_s = statistics.fmean(serial_s) * len(runs)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    scenario = loaded.scenario
    print(
        f"\n== campaign: {len(scenario.sites)} sites x {SEEDS} seeds = {len(runs)} runs of "
        f"{scenario.days} days, {WORKERS} workers"
    )
    print(
        f"wall {wall_s:.1f} s ({wall_s / len(runs):.2f} s per run); serial pace "
        f"{statistics.fmean(serial_s):.2f} s per run in this process, {serial_estimate_s:.0f} s "
        f"for all: {serial_estimate_s / wall_s:.2f} x faster on {WORKERS} workers; "
        f"largest worker {peak_mb:.0f} MB"
    )
    print(f"results: {len(campaign.finished)} runs, files {[p.name for p in campaign.files]}")
    met = wall_s <= WALL_TARGET_S and len(campaign.finished) == len(runs)
    print(f"target {WALL_TARGET_S:.0f} s wall: {'met' if met else 'MISSED'}")
    return met
