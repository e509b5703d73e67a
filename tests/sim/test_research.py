"""A research season on the simulator: through the controller, fast, reproducible, and
showing what its strategies change (water, weeding)."""

from __future__ import annotations

import math
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from controller.jobs import Action
from potager.clock import VirtualClock
from potager.db import make_engine, session_factory, upgrade_database
from sim.garden import Kind
from sim.growth import GrowingBed
from sim.research import (
    WEEDING,
    FixedWatering,
    JobBatchedJournal,
    ResearchError,
    SensorWatering,
    SiteResult,
    SiteSeason,
    TrueWeeds,
    camera_sees,
    run_site_season,
)
from sim.weather import Climate, synthetic_weather


def season(**changes: Any) -> SiteSeason:
    """A small trial: 2 regimes x 2 blocks of 2 x 2 lettuces, 10 days."""
    settings: dict[str, Any] = {
        "site": "test site",
        "days": 10,
        "start": date(2026, 5, 4),
        "treatments": {"dry": 0.0, "wet": 250.0},
        "control": "dry",
        "blocks": 2,
        "watering": FixedWatering(every_days=1),
        "weed_every_days": 3,
        "seed": 3,
    }
    return SiteSeason(**(settings | changes))


@pytest.fixture(scope="module")
def short() -> SiteResult:
    return run_site_season(season())


def test_a_short_season_runs_in_a_few_seconds_and_fills_every_plot(short: SiteResult) -> None:
    assert short.wall_s < 10.0
    assert sorted(p.plot for p in short.plots) == [101, 102, 201, 202]
    assert {p.treatment for p in short.plots} == {"dry", "wet"}
    assert all(p.yield_g > 0 for p in short.plots)
    # 9 waterings of 250 ml on 4 wet plants in each of the 2 wet plots
    assert short.water_l == pytest.approx(9 * 250 * 4 * 2 / 1000)
    assert {p.water_ml for p in short.plots if p.treatment == "dry"} == {0.0}
    assert short.travel_h > 0 and short.busy_h > short.travel_h
    assert short.anova.startswith("fresh_yield_g: treatment F(1, 1)")


def test_the_same_seed_gives_the_same_result_and_it_survives_json(short: SiteResult) -> None:
    again = run_site_season(season())
    assert again.model_copy(update={"wall_s": 0}) == short.model_copy(update={"wall_s": 0})
    assert SiteResult.model_validate_json(short.model_dump_json()) == short


def test_a_cold_spring_grows_less(short: SiteResult) -> None:
    weather = synthetic_weather(Climate(mean_temp_c=12.0), date(2026, 5, 4), 10, seed=1)
    cold = run_site_season(season(weather=weather))
    assert cold.yield_g_per_m2 < short.yield_g_per_m2


def test_a_sensor_led_watering_waters_only_dry_plots() -> None:
    # sown at field capacity: a threshold a little below it waits for each plot to dry
    result = run_site_season(
        season(watering=SensorWatering(threshold_percent=19.0, check_every_days=1))
    )
    wet = [p.water_ml for p in result.plots if p.treatment == "wet"]
    assert 0 < sum(wet) < 9 * 250 * 4 * 2
    assert all(ml % (250 * 4) == 0 for ml in wet)  # whole plots, whole waterings


def test_more_water_gives_more_yield() -> None:
    result = run_site_season(season(days=30, blocks=3, weed_every_days=30))
    mean_g = {
        treatment: sum(p.yield_g for p in result.plots if p.treatment == treatment) / 3
        for treatment in ("dry", "wet")
    }
    assert mean_g["wet"] > 1.2 * mean_g["dry"]


def test_weeding_every_3_days_leaves_fewer_weeds_than_every_14() -> None:
    often = run_site_season(season(days=26, weed_every_days=3, weed_pressure=3.0))
    rarely = run_site_season(season(days=26, weed_every_days=14, weed_pressure=3.0))
    assert often.weeds_left < rarely.weeds_left


def test_plots_that_do_not_fit_the_bed_are_refused_before_anything_runs(tmp_path: Path) -> None:
    database = tmp_path / "never.sqlite3"
    started_s = time.perf_counter()
    with pytest.raises(ResearchError, match=r"3000 mm plots.*the bed has \d+ mm"):
        run_site_season(season(plot_mm=(3000.0, 3000.0)), f"sqlite:///{database}")
    assert not database.exists()
    assert time.perf_counter() - started_s < 1.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"control": "none"}, "the control 'none' is not one of the treatments"),
        ({"crop": "letuce"}, "did you mean 'lettuce'"),
        ({"treatments": {"dry": 0.0, "wet": -5.0}}, "0 or more"),
        ({"days": 400}, "less than or equal to 366"),
        ({"watering": {"kind": "sometimes"}}, "sensor"),
        ({"weather": synthetic_weather(Climate(), date(2026, 5, 4), 5, 1)}, "covers 5 days"),
        ({"weather": synthetic_weather(Climate(), date(2026, 5, 5), 10, 1)}, "starts on"),
    ],
)
def test_impossible_seasons_are_refused_by_name(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        season(**changes)


def test_true_weeds_sees_the_weeds_in_the_area_spares_those_by_crops_and_misses_its_share() -> None:
    bed = GrowingBed(2000.0, 2000.0, seed=5, weed_pressure=5.0)
    clock = VirtualClock(20 * 86_400.0)
    area = (0.0, 0.0, 1000.0, 2000.0)
    sown = [(500.0, 500.0)]
    everything = TrueWeeds(bed, clock, area, sown, miss_rate=0.0, seed=1)()
    weeds = [w for w in bed.garden().plants if w.kind is Kind.WEED and w.x_mm <= 1000.0]
    assert everything.targets_seen == len(weeds) > 0
    assert all(math.hypot(r.x_mm - 500, r.y_mm - 500) < 35 for r in everything.reviews)
    assert all(math.hypot(s.x_mm - 500, s.y_mm - 500) >= 35 for s in everything.strikes)
    assert TrueWeeds(bed, clock, area, sown, miss_rate=1.0, seed=1)().targets_seen == 0
    half = TrueWeeds(bed, clock, area, sown, miss_rate=0.5, seed=1)().targets_seen
    assert 0 < half < len(weeds)


def test_the_camera_misses_tiny_weeds_and_weeds_under_leaves() -> None:
    lettuce_mm = np.array([[0.0, 0.0, 100.0]])
    weeds_mm = np.array([[300.0, 0.0, 5.0], [300.0, 0.0, 1.0], [50.0, 0.0, 5.0], [98.0, 0.0, 5.0]])
    # seen; 3 mm2 is noise to the vision; under the leaves; sticks out of them
    assert camera_sees(weeds_mm, lettuce_mm).tolist() == [True, False, False, True]
    assert camera_sees(weeds_mm, np.zeros((0, 3))).tolist() == [True, False, True, True]


def test_the_camera_judges_big_weed_counts_in_chunks_as_in_one_go() -> None:
    rng = np.random.default_rng(3)
    weeds_mm = np.column_stack([rng.uniform(0, 3000, (5000, 2)), rng.uniform(0.5, 40, 5000)])
    crops_mm = np.column_stack([rng.uniform(0, 3000, (400, 2)), rng.uniform(20, 150, 400)])
    distance_mm = np.hypot(*(weeds_mm[:, None, :2] - crops_mm[None, :, :2]).transpose(2, 0, 1))
    covered = (distance_mm + weeds_mm[:, 2:3] <= crops_mm[None, :, 2]).any(axis=1)
    big_enough = np.pi * weeds_mm[:, 2] ** 2 >= WEEDING.min_weed_mm2
    assert covered.any() and (~covered).any()
    assert (camera_sees(weeds_mm, crops_mm) == (big_enough & ~covered)).all()


def test_the_batched_journal_writes_a_job_when_it_ends(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journal.sqlite3'}"
    upgrade_database(url)
    journal = JobBatchedJournal(session_factory(make_engine(url)))
    at = datetime(2026, 5, 4, tzinfo=UTC)
    run_id = journal.start_run("robot", "water", {}, at)
    for step in (1, 2):
        journal.record(run_id, Action(step, "travel", None, None, 0.0, 0.0, 0.0), at)
    assert journal.actions(run_id) == []
    journal.finish_run(run_id, "done", at)
    assert [a.step for a in journal.actions(run_id)] == [1, 2]
