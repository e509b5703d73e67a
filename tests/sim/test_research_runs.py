"""Campaigns: resumable, deterministic, parallel; intervals checked against scipy."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from scipy import stats

from sim.research import PlotYield, SiteResult, SiteSeason
from sim.research_runs import (
    Campaign,
    compare_campaigns,
    run_campaign,
    t_interval,
    welch_interval,
)
from sim.scenario import LoadedScenario, load_scenario
from tests.sim.test_scenario import SCENARIO, write

OUTPUTS = ("summary.txt", "runs.csv", "plots.csv", "yield_by_site.png", "treatment_means.png")


def fake_run(season: SiteSeason) -> SiteResult:
    """A season's result in no time: yield grows with the water, noise follows the seed."""
    rng = random.Random(season.seed)
    plots = [
        PlotYield(
            plot=block * 10 + index,
            block=block,
            treatment=name,
            yield_g=round(100 + ml * 0.4 + rng.gauss(0, 10), 3),
            water_ml=ml * 4,
        )
        for block in range(1, season.blocks + 1)
        for index, (name, ml) in enumerate(sorted(season.treatments.items()))
    ]
    return SiteResult(
        site=season.site,
        seed=season.seed,
        plots=plots,
        yield_g_per_m2=round(sum(p.yield_g for p in plots) / 2, 3),
        water_l=sum(p.water_ml for p in plots) / 1000,
        travel_h=round(1 + season.days / season.weed_every_days * 0.1 + rng.random(), 6),
        busy_h=2.0,
        weeds_left=rng.randrange(season.weed_every_days * 5),
        weeds_removed=rng.randrange(50),
        crops_struck=0,
        anova="stub",
        wall_s=rng.random(),
    )


class Counting:
    """A run function that remembers which runs it was asked for (in this process)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, season: SiteSeason) -> SiteResult:
        self.seen.append(f"{season.site}-{season.seed}")
        return fake_run(season)


class Interrupted(Counting):
    def __call__(self, season: SiteSeason) -> SiteResult:
        if len(self.seen) == 2:
            raise KeyboardInterrupt
        return super().__call__(season)


def scenario(
    folder: Path, text: str = SCENARIO, name: str = "s.yaml", **shorten: int
) -> LoadedScenario:
    return load_scenario(write(folder, text, name), **shorten)


def campaign(
    loaded: LoadedScenario, out: Path, run: object = fake_run, workers: int = 1
) -> Campaign:
    return run_campaign(loaded.scenario, loaded.runs(), out, workers=workers, run=run)  # type: ignore[arg-type]


def outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUTS}


def test_t_interval_is_scipy_s() -> None:
    values = [3.1, 4.7, 2.2, 5.9, 4.4]
    ours = t_interval(values)
    lower, upper = stats.t.interval(
        0.95, len(values) - 1, loc=stats.tmean(values), scale=stats.sem(values)
    )
    assert (ours.lower, ours.upper) == pytest.approx((lower, upper))
    assert math.isnan(t_interval([1.0]).lower)


def test_welch_interval_is_scipy_s() -> None:
    a, b = [3.1, 4.7, 2.2, 5.9], [6.0, 7.5, 5.1, 9.9, 8.8]
    ours = welch_interval(a, b)
    theirs = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert (ours.lower, ours.upper) == pytest.approx((theirs.low, theirs.high))


def test_a_campaign_writes_sorted_outputs_and_resumes_only_what_is_missing(
    tmp_path: Path,
) -> None:
    loaded, out = scenario(tmp_path), tmp_path / "out"
    first = Counting()
    campaign(loaded, out, first)
    assert len(first.seen) == 4
    before = outputs(out)
    assert before["runs.csv"].decode().splitlines()[1].startswith("north,0,1,")
    (out / "runs" / "south-s0-2.json").unlink()
    (out / "runs" / "north-s0-1.json").write_text("{half a fi", encoding="utf-8")
    again = Counting()
    campaign(loaded, out, again)
    assert sorted(again.seen) == sorted(
        f"{run.site}-{run.inputs.seed}"
        for run in loaded.runs()
        if run.key in ("south-s0-2", "north-s0-1")
    )
    assert outputs(out) == before
    summary = before["summary.txt"].decode()
    assert "4 runs = 2 site(s) x 1 season(s) x 2 seed(s)" in summary
    assert "multisite (fixed sites): yield_g" in summary


def test_changed_inputs_are_rerun_not_reused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    campaign(scenario(tmp_path), out)
    rerun = Counting()
    campaign(scenario(tmp_path, days=5), out, rerun)
    assert len(rerun.seen) == 4


def test_workers_give_the_same_bytes_as_one_process(tmp_path: Path) -> None:
    loaded = scenario(tmp_path)
    campaign(loaded, tmp_path / "one")
    campaign(loaded, tmp_path / "two", workers=2)
    assert outputs(tmp_path / "one") == outputs(tmp_path / "two")


def test_an_interrupted_campaign_keeps_its_finished_runs(tmp_path: Path) -> None:
    loaded, out = scenario(tmp_path), tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        campaign(loaded, out, Interrupted())
    assert sorted(path.name for path in (out / "runs").iterdir()) == [
        "north-s0-1.json",
        "north-s0-2.json",
    ]


def test_same_sites_and_seeds_are_compared_seed_by_seed(tmp_path: Path) -> None:
    a = campaign(scenario(tmp_path, name="a.yaml"), tmp_path / "a")
    b_text = SCENARIO.replace("weed_every_days: 7", "weed_every_days: 3")
    b = campaign(scenario(tmp_path, b_text, "b.yaml"), tmp_path / "b")
    comparison = compare_campaigns(a, b)
    assert comparison.paired
    assert "paired by season and seed" in comparison.table()
    travel = next(row for row in comparison.rows if row.metric == "travel_h")
    per_seed_a = [sum(v) / 2 for v in _by_seed(a, "travel_h")]
    per_seed_b = [sum(v) / 2 for v in _by_seed(b, "travel_h")]
    theirs = stats.ttest_rel(per_seed_b, per_seed_a).confidence_interval(0.95)
    assert (travel.difference.lower, travel.difference.upper) == pytest.approx(
        (theirs.low, theirs.high)
    )


def test_other_seeds_are_compared_unpaired(tmp_path: Path) -> None:
    a = campaign(scenario(tmp_path, name="a.yaml"), tmp_path / "a")
    b_text = SCENARIO.replace("seeds: 2", "seeds: [5, 6, 7]")
    b = campaign(scenario(tmp_path, b_text, "b.yaml"), tmp_path / "b")
    comparison = compare_campaigns(a, b)
    assert not comparison.paired
    assert "unpaired (Welch)" in comparison.table()


def _by_seed(done: Campaign, metric: str) -> list[list[float]]:
    seeds = sorted({item.run.seed for item in done.finished})
    return [
        [float(getattr(item.result, metric)) for item in done.finished if item.run.seed == seed]
        for seed in seeds
    ]
