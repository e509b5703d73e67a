"""Every site-season of a scenario, run across processes, resumable, then summarised.

Runs are independent (each has its own seed and its own throw-away trial store), so they
spread over a process pool. Each result is written to `OUT/runs/<site>-s<season>-<seed>.json`
the moment it comes back, atomically (a temporary file renamed into place), together with a
hash of the run's inputs: an interrupted campaign resumes by skipping the files that are
there, readable and made from the same inputs, and a changed scenario reruns what changed.

Everything written is sorted and free of clock times, so the same scenario gives the same
bytes on any machine and after any resume; how long each run took goes to its own file,
`wall_times.csv`, which is the one output expected to differ.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import signal
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from matplotlib.figure import Figure
from pydantic import ValidationError
from scipy import stats

from sim import SimulatorError
from sim.campaign_progress import CampaignProgress
from sim.research import SiteResult, SiteSeason, run_site_season
from sim.scenario import PlannedRun, Scenario
from trials.analysis import AnovaResult, Observations, anova_multisite, anova_rcbd, format_anova
from trials.figures import means_plot

RunSite = Callable[[SiteSeason], SiteResult]
METRICS = ("yield_g_per_m2", "water_l", "travel_h", "weeds_left")
"""What a strategy is judged on: harvest per area, water given, robot time moving, weeds."""
CONFIDENCE = 0.95
ALL_SITES = "all sites"


class CampaignError(SimulatorError):
    """A campaign cannot be summarised: it has no finished runs to average or write."""


@dataclass(frozen=True)
class Finished:
    """One planned run and what it produced."""

    run: PlannedRun
    result: SiteResult


@dataclass(frozen=True)
class Interval:
    """A mean over `n` replicates with its two-sided t confidence interval (NaN if n < 2)."""

    mean: float
    lower: float
    upper: float
    n: int

    def text(self, digits: int = 2) -> str:
        if math.isnan(self.lower):
            return f"{self.mean:.{digits}f} (n={self.n}, no interval)"
        half = (self.upper - self.lower) / 2
        return f"{self.mean:.{digits}f} ± {half:.{digits}f}"


@dataclass(frozen=True)
class MetricRow:
    """A metric at one site (or over all sites) across its seeds and seasons."""

    scope: str
    metric: str
    interval: Interval


@dataclass(frozen=True)
class Campaign:
    """A scenario's finished runs and their summary, as written to the output folder."""

    scenario: Scenario
    finished: list[Finished]
    rows: list[MetricRow]
    analysis: AnovaResult | None
    out_dir: Path
    files: tuple[Path, ...] = ()


# ------------------------------------------------------------------------------ running


def run_campaign(
    scenario: Scenario,
    runs: Sequence[PlannedRun],
    out_dir: Path,
    *,
    workers: int | None = None,
    run: RunSite = run_site_season,
    progress: TextIO | None = None,
) -> Campaign:
    """Run what is not on disk yet, then aggregate everything and write the outputs."""
    finished = run_all(runs, out_dir, workers=workers, run=run, progress=progress)
    rows = aggregate(finished)
    analysis = plot_analysis(finished)
    campaign = Campaign(scenario, finished, rows, analysis, out_dir)
    return replace(campaign, files=write_outputs(campaign))


def run_all(
    runs: Sequence[PlannedRun],
    out_dir: Path,
    *,
    workers: int | None = None,
    run: RunSite = run_site_season,
    progress: TextIO | None = None,
) -> list[Finished]:
    """Each run's result, from its file when one is valid, otherwise by running it.

    Results are saved one by one as they arrive, so Ctrl-C loses only the runs in flight.
    """
    runs_dir = out_dir / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    done = {planned.key: result for planned in runs if (result := _saved(runs_dir, planned))}
    todo = [planned for planned in runs if planned.key not in done]
    bar = CampaignProgress(progress, len(runs), len(done))
    try:
        for planned, result in _results(todo, workers or os.cpu_count() or 1, run):
            _save(runs_dir, planned, result)
            done[planned.key] = result
            what = f"site {planned.site} season {planned.season} seed {planned.seed}"
            bar.run_done(what, result.wall_s)
    finally:
        bar.close()
    return [Finished(planned, done[planned.key]) for planned in sorted(runs, key=_order)]


def _results(
    todo: Sequence[PlannedRun], workers: int, run: RunSite
) -> Iterable[tuple[PlannedRun, SiteResult]]:
    """Results in the order they finish; one worker runs in this process (no pickling)."""
    if workers <= 1 or len(todo) <= 1:
        for planned in todo:
            yield planned, run(planned.inputs)
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)), initializer=_ignore_sigint)
    try:
        futures: dict[Future[SiteResult], PlannedRun] = {
            pool.submit(run, planned.inputs): planned for planned in todo
        }
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        # Ctrl-C or a failed run: drop the queue; runs already saved stay on disk.
        pool.shutdown(wait=True, cancel_futures=True)


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the parent, which stops the queue and keeps what is saved."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _order(planned: PlannedRun) -> tuple[str, int, int]:
    return planned.site, planned.season, planned.seed


def inputs_hash(season: SiteSeason) -> str:
    """What a saved result was made from: a changed scenario must not reuse it."""
    return hashlib.sha256(season.model_dump_json().encode()).hexdigest()


def _saved(runs_dir: Path, planned: PlannedRun) -> SiteResult | None:
    path = runs_dir / f"{planned.key}.json"
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("inputs_hash") != inputs_hash(planned.inputs):
            return None
        return SiteResult.model_validate(stored["result"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ValidationError):
        return None  # absent, half-written by an older version, or from other inputs: rerun


def _save(runs_dir: Path, planned: PlannedRun, result: SiteResult) -> None:
    path = runs_dir / f"{planned.key}.json"
    stored = {"inputs_hash": inputs_hash(planned.inputs), "result": result.model_dump(mode="json")}
    _write_atomically(path, json.dumps(stored, indent=1, sort_keys=True) + "\n")


def _write_atomically(path: Path, text: str) -> None:
    """A reader (or a resumed run) sees the old file or the whole new one, never half."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


# ---------------------------------------------------------------------------- statistics


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The mean of `values` and its t interval, treating each value as one replicate.

    >>> t_interval([1.0, 2.0, 3.0]).text()
    '2.00 ± 2.48'
    """
    n = len(values)
    if n == 0:
        raise CampaignError("no values to average: the campaign has no finished runs")
    mean = math.fsum(values) / n
    if n < 2:
        return Interval(mean, math.nan, math.nan, n)
    sd = math.sqrt(math.fsum((value - mean) ** 2 for value in values) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def welch_interval(
    a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE
) -> Interval:
    """mean(b) - mean(a) with Welch's t interval, for replicates that do not pair up."""
    first, second = t_interval(a), t_interval(b)
    difference = second.mean - first.mean
    if first.n < 2 or second.n < 2:
        return Interval(difference, math.nan, math.nan, min(first.n, second.n))
    var_a, var_b = _variance(a) / len(a), _variance(b) / len(b)
    se = math.sqrt(var_a + var_b)
    if se == 0:
        return Interval(difference, difference, difference, min(first.n, second.n))
    df = (var_a + var_b) ** 2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return Interval(difference, difference - half, difference + half, min(first.n, second.n))


def _variance(values: Sequence[float]) -> float:
    mean = math.fsum(values) / len(values)
    return math.fsum((value - mean) ** 2 for value in values) / (len(values) - 1)


def metric(result: SiteResult, name: str) -> float:
    return float(getattr(result, name))


def replicate_means(finished: Sequence[Finished]) -> dict[tuple[int, int], dict[str, float]]:
    """Each (season, seed)'s metrics averaged over the sites: the replicate of "all sites".

    A seed is one draw of the world at every site, so its site average is one observation
    of the scenario, and two scenarios with the same sites and seeds pair up on it.
    """
    groups: dict[tuple[int, int], list[SiteResult]] = {}
    for item in finished:
        groups.setdefault((item.run.season, item.run.seed), []).append(item.result)
    return {
        key: {name: math.fsum(metric(r, name) for r in results) / len(results) for name in METRICS}
        for key, results in sorted(groups.items())
    }


def aggregate(finished: Sequence[Finished]) -> list[MetricRow]:
    """Per site and over all sites, each metric's mean and 95 % interval over replicates."""
    rows: list[MetricRow] = []
    sites = sorted({item.run.site for item in finished})
    for site in sites:
        results = [item.result for item in finished if item.run.site == site]
        rows += [
            MetricRow(site, name, t_interval([metric(r, name) for r in results]))
            for name in METRICS
        ]
    if len(sites) > 1:
        replicates = list(replicate_means(finished).values())
        rows += [
            MetricRow(ALL_SITES, name, t_interval([r[name] for r in replicates]))
            for name in METRICS
        ]
    return rows


def plot_records(finished: Sequence[Finished]) -> list[dict[str, object]]:
    """One row per plot of every run, in run order: the trial's raw data."""
    return [
        {
            "site": item.run.site,
            "season": item.run.season,
            "seed": item.run.seed,
            **plot.model_dump(),
        }
        for item in finished
        for plot in item.result.plots
    ]


def plot_analysis(finished: Sequence[Finished]) -> AnovaResult | None:
    """Plot yields analysed as one trial: an RCBD per site, combined over sites if several.

    Each season and seed is a fresh randomisation of the same design, so its blocks join
    the site's blocks; sites are fixed (chosen climates, not a sample of farms).
    """
    records = [
        {**row, "block": f"{row['season']}-{row['seed']}-{row['block']}"}
        for row in plot_records(finished)
    ]
    if len({row["block"] for row in records}) < 2:
        return None
    obs = Observations.from_records(records, "yield_g", ("site", "block", "treatment"))
    if len(set(obs.column("site"))) > 1:
        return anova_multisite(obs, site_effect="fixed")
    return anova_rcbd(obs)


# ------------------------------------------------------------------------------- outputs


def write_outputs(campaign: Campaign) -> tuple[Path, ...]:
    """summary.txt, runs.csv, plots.csv, wall_times.csv and the figures; their paths."""
    out = campaign.out_dir
    _write_csv(out / "runs.csv", [_run_row(item) for item in campaign.finished])
    _write_csv(out / "plots.csv", plot_records(campaign.finished))
    _write_csv(
        out / "wall_times.csv",
        [
            {"run": item.run.key, "wall_s": round(item.result.wall_s, 3)}
            for item in campaign.finished
        ],
    )
    _write_atomically(out / "summary.txt", summary(campaign) + "\n")
    figures = {"yield_by_site.png": yield_figure(campaign.rows)}
    if campaign.analysis is not None:
        figures["treatment_means.png"] = means_plot(campaign.analysis, "treatment")
    for name, figure in figures.items():
        # No "Software" stamp: the same runs must give the same bytes.
        figure.savefig(out / name, dpi=100, metadata={"Software": None})
    names = ["summary.txt", "runs.csv", "plots.csv", "wall_times.csv", *figures]
    return tuple(out / name for name in names)


def _run_row(item: Finished) -> dict[str, object]:
    result = item.result
    return {
        "site": item.run.site,
        "season": item.run.season,
        "seed": item.run.seed,
        **{name: metric(result, name) for name in METRICS},
        "busy_h": result.busy_h,
        "weeds_removed": result.weeds_removed,
        "crops_struck": result.crops_struck,
    }


def _write_csv(path: Path, rows: Sequence[dict[str, object]]) -> None:
    if not rows:
        raise CampaignError(f"nothing to write to {path}: the campaign has no finished runs")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, path)


def summary(campaign: Campaign) -> str:
    """What a reader needs: the scenario, each metric with its interval, and the ANOVA."""
    scenario, finished = campaign.scenario, campaign.finished
    sites = sorted({item.run.site for item in finished})
    seasons = sorted({item.run.season for item in finished})
    seeds = sorted({item.run.seed for item in finished})
    lines = [
        f"Scenario {scenario.name}: {len(finished)} runs = {len(sites)} site(s) x "
        f"{len(seasons)} season(s) x {len(seeds)} seed(s), {scenario.days} days from "
        f"{scenario.start.isoformat()}.",
        f"Means with {CONFIDENCE:.0%} t intervals over seeds and seasons:",
        f"{'site':<16}" + "".join(f"{name:>22}" for name in METRICS),
    ]
    for scope in [*sites, ALL_SITES]:
        cells = {row.metric: row.interval.text() for row in campaign.rows if row.scope == scope}
        if cells:
            lines.append(f"{scope:<16}" + "".join(f"{cells[name]:>22}" for name in METRICS))
    if campaign.analysis is not None:
        lines += [
            "",
            "Plot yields (g), blocks = season-seed-block:",
            format_anova(campaign.analysis),
        ]
    return "\n".join(lines)


def yield_figure(rows: Sequence[MetricRow]) -> Figure:
    """Yield per square metre at each site (and over all sites) with its interval."""
    chosen = [row for row in rows if row.metric == "yield_g_per_m2"]
    figure = Figure(figsize=(max(4.0, 0.9 * len(chosen) + 2), 4))
    axes = figure.subplots()
    means = [row.interval.mean for row in chosen]
    below = [_finite(row.interval.mean - row.interval.lower) for row in chosen]
    above = [_finite(row.interval.upper - row.interval.mean) for row in chosen]
    positions = list(range(len(chosen)))
    axes.bar(positions, means, yerr=[below, above], capsize=4, color="#7aa95c")
    axes.set_xticks(positions, [row.scope for row in chosen])
    axes.set_ylabel(f"yield (g/m²), mean and {CONFIDENCE:.0%} interval")
    return figure


def _finite(value: float) -> float:
    """A missing interval (one replicate) is drawn without a whisker."""
    return 0.0 if math.isnan(value) else value


# ------------------------------------------------------------------------------ comparing


@dataclass(frozen=True)
class Difference:
    """One metric under scenarios A and B, and B - A with its interval."""

    metric: str
    a: Interval
    b: Interval
    difference: Interval


@dataclass(frozen=True)
class CampaignComparison:
    """Scenario B against scenario A, metric by metric.

    `paired` says whether each seed's difference was taken within the seed (same sites and
    seeds in both: the noise the seed brings cancels) or between independent means (Welch).
    """

    a_name: str
    b_name: str
    paired: bool
    rows: list[Difference]

    def table(self) -> str:
        how = (
            "paired by season and seed (same sites and seeds)"
            if self.paired
            else "unpaired (Welch): the scenarios differ in sites or seeds"
        )
        lines = [
            f"{self.b_name} (B) against {self.a_name} (A); difference B - A {how}, "
            f"{CONFIDENCE:.0%} intervals:",
            f"{'metric':<16}{'A':>22}{'B':>22}{'B - A':>22}",
        ]
        lines += [
            f"{row.metric:<16}{row.a.text():>22}{row.b.text():>22}{row.difference.text():>22}"
            for row in self.rows
        ]
        return "\n".join(lines)

    def records(self) -> list[dict[str, object]]:
        return [
            {
                "metric": row.metric,
                "a_mean": row.a.mean,
                "a_lower": row.a.lower,
                "a_upper": row.a.upper,
                "b_mean": row.b.mean,
                "b_lower": row.b.lower,
                "b_upper": row.b.upper,
                "difference": row.difference.mean,
                "difference_lower": row.difference.lower,
                "difference_upper": row.difference.upper,
                "paired": self.paired,
            }
            for row in self.rows
        ]


def compare_campaigns(a: Campaign, b: Campaign) -> CampaignComparison:
    """B against A on every metric, over the site-averaged replicates of each."""
    reps_a, reps_b = replicate_means(a.finished), replicate_means(b.finished)
    paired = _sites(a) == _sites(b) and reps_a.keys() == reps_b.keys()
    rows = []
    for name in METRICS:
        values_a = [values[name] for values in reps_a.values()]
        values_b = [values[name] for values in reps_b.values()]
        difference = (
            t_interval([reps_b[key][name] - reps_a[key][name] for key in reps_a])
            if paired
            else welch_interval(values_a, values_b)
        )
        rows.append(Difference(name, t_interval(values_a), t_interval(values_b), difference))
    return CampaignComparison(a.scenario.name, b.scenario.name, paired, rows)


def _sites(campaign: Campaign) -> set[str]:
    return {item.run.site for item in campaign.finished}


def write_comparison(comparison: CampaignComparison, out_dir: Path) -> Path:
    path = out_dir / "compare.csv"
    _write_csv(path, comparison.records())
    return path
