"""Tour planning side by side (issue 3): ours, FarmBot's orders, OR-Tools and LKH-3.

Seeded instances on a Genesis XL bed (5,900 x 2,730 mm) with Genesis default motion
settings: uniform random points, and a jittered planting grid with weeds. Every tour
starts at (0, 0) and ends anywhere, and every solver's order is priced by the same
`evaluate_order`, so tour times compare directly. Each solver runs in a fresh spawned
process (so no solver inherits another's memory), timed from points to order, and
reports its own peak resident memory. Gaps are to LKH-3's tour where it ran, else to the
best tour of the run; LKH-3's Held-Karp bound shows how far from optimal that is.

After the tables, the issue's targets are checked one by one (met / MISSED), and a
planned tour is driven through the simulated firmware to compare its predicted duration
with the clock. `POTAGER_BENCH_QUICK=1` (or `python -m bench planner --quick`) runs only
N = 50 and 200 and OR-Tools' 1 s search, for quick iteration.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from bench.tour_solvers import (
    FarmBotSort,
    Lkh3,
    Lkh3OnCoordinates,
    Order,
    OrTools,
    Ours,
    Points,
    TourSolver,
    first_call_s,
)
from controller.gantry import Gantry
from controller.link import LoopbackLink
from planner.motion import TravelMetric
from planner.tour import Point, evaluate_order, plan_tour
from potager.clock import VirtualClock
from potager.robots import get_profile
from sim.serve import firmware_for

PROFILE = get_profile("genesis-xl")
METRIC = TravelMetric.for_profile(PROFILE)
BED_MM = (PROFILE.length_x_mm, PROFILE.length_y_mm)
START_MM: Point = (0.0, 0.0)
UNIFORM_SIZES = (50, 200, 1_000, 5_000, 20_000)
QUICK_SIZES = (50, 200)
FIRMWARE_CHECK_POINTS = 100
T = TypeVar("T")


# ------------------------------------------------------------------ instances


@dataclass(frozen=True)
class Instance:
    """Points to visit; `kind` is "uniform" or "grid" (the targets are set on uniform ones)."""

    name: str
    kind: str
    points_mm: Points


def uniform_points(n: int, seed: int, bed_mm: tuple[float, float] = BED_MM) -> Points:
    """`n` points drawn uniformly over the bed."""
    return np.random.default_rng(seed).uniform((0.0, 0.0), bed_mm, (n, 2))


def planting_grid_points(
    columns: int = 30,
    rows: int = 15,
    jitter_mm: float = 15.0,
    weeds: int = 300,
    seed: int = 0,
    bed_mm: tuple[float, float] = BED_MM,
) -> Points:
    """Crops planted on a grid, each within `jitter_mm` of its spot, then weeds anywhere.

    Real plantings are never exact, which is what breaks FarmBot's serpentine sorts.
    """
    rng = np.random.default_rng(seed)
    spacing_mm = np.asarray(bed_mm) / (columns, rows)
    column, row = np.meshgrid(np.arange(columns), np.arange(rows), indexing="ij")
    spots_mm = (np.stack([column.ravel(), row.ravel()], axis=1) + 0.5) * spacing_mm
    crops_mm = spots_mm + rng.uniform(-jitter_mm, jitter_mm, spots_mm.shape)
    weeds_mm = rng.uniform((0.0, 0.0), bed_mm, (weeds, 2))
    return np.clip(np.vstack([crops_mm, weeds_mm]), (0.0, 0.0), bed_mm)


def instances(quick: bool) -> list[Instance]:
    """The benchmark's instances; each uniform one is seeded with its size."""
    uniform = [
        Instance(f"uniform random, N = {n:,}", "uniform", uniform_points(n, seed=n))
        for n in (QUICK_SIZES if quick else UNIFORM_SIZES)
    ]
    if quick:
        return uniform
    grid = planting_grid_points()
    name = f"planting grid 30 x 15, +-15 mm jitter, 300 weeds (N = {len(grid):,})"
    return [*uniform, Instance(name, "grid", grid)]


def solvers(quick: bool) -> list[TourSolver]:
    time_limits_s = (1.0,) if quick else (1.0, 10.0)
    return [
        Ours(),
        FarmBotSort("xy_ascending"),
        FarmBotSort("xy_alternating"),
        FarmBotSort("nn"),
        *(OrTools(limit_s) for limit_s in time_limits_s),
        Lkh3(),
        Lkh3OnCoordinates(),
    ]


# ------------------------------------------------------------------ measuring


@dataclass(frozen=True)
class Figures:
    """A solver's tour priced by the shared metric, its wall seconds and its peak memory."""

    tour_s: float
    wall_s: float
    peak_mb: float


@dataclass(frozen=True)
class Row:
    """One solver on one instance; no figures when it was skipped or failed (see the note)."""

    solver: TourSolver
    figures: Figures | None
    note: str


def run_in_child(function: Callable[..., T], *args: object) -> T:
    """`function(*args)` in a freshly spawned process, so its memory peak is its own."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(function, *args).result()


def own_peak_mb() -> float:
    """This process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def solve_measured(
    solver: TourSolver, points_mm: Points, metric: TravelMetric, start_mm: Point
) -> tuple[Order, float, float, str]:
    """Runs in the child: (order, wall seconds of the solve alone, peak MB, note)."""
    prepared = solver.prepare(metric)
    began = time.perf_counter()
    solved = solver.solve(points_mm, metric, start_mm)
    wall_s = time.perf_counter() - began
    return solved.order, wall_s, own_peak_mb(), "; ".join(filter(None, [prepared, solved.note]))


def measure(solver: TourSolver, points_mm: Points) -> Row:
    """The solver's order on `points_mm`, priced with the benchmark's metric."""
    reason = solver.skip_reason(len(points_mm))
    if reason:
        return Row(solver, None, f"skipped: {reason}")
    try:
        order, wall_s, peak_mb, note = run_in_child(
            solve_measured, solver, points_mm, METRIC, START_MM
        )
        check_permutation(order, len(points_mm))
    except Exception as error:  # one broken solver must not hide the others' figures
        return Row(solver, None, f"failed: {summary(error)}")
    tour_s, _ = evaluate_order(points_mm, order, METRIC, start_mm=START_MM)
    return Row(solver, Figures(tour_s, wall_s, peak_mb), note)


def summary(error: BaseException) -> str:
    """An error on one table line (numba's run to dozens)."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:120] if lines else ''}"


def check_permutation(order: NDArray[np.intp], n_points: int) -> None:
    if len(order) != n_points or not np.array_equal(np.sort(order), np.arange(n_points)):
        raise ValueError(f"the order does not visit each of the {n_points} points once")


def reference(rows: list[Row]) -> tuple[TourSolver, Figures] | None:
    """What gaps are measured to: LKH-3 where it ran, else the fastest tour of the run."""
    ran = [(row.solver, row.figures) for row in rows if row.figures is not None]
    lkh = [entry for entry in ran if entry[0].is_reference]
    if lkh:
        return lkh[0]
    return min(ran, key=lambda entry: entry[1].tour_s, default=None)


def gap_percent(figures: Figures, to: Figures) -> float:
    return (figures.tour_s / to.tour_s - 1.0) * 100.0


def figures_of(rows: list[Row], solver: TourSolver) -> Figures | None:
    return next((row.figures for row in rows if row.solver == solver), None)


# ------------------------------------------------------------------ printing


def print_table(instance: Instance, rows: list[Row]) -> None:
    best = reference(rows)
    print(f"\n== {instance.name}")
    print(f"{'solver':40}{'tour s':>11}{'gap %':>9}{'wall s':>10}{'peak MB':>9}  note")
    for row in rows:
        figures = row.figures
        columns = (
            f"{figures.tour_s:11,.1f}{_gap(figures, best):>9}{figures.wall_s:10.3f}"
            f"{figures.peak_mb:9.0f}"
            if figures
            else " " * 39
        )
        print(f"{row.solver.label:40}{columns}  {row.note}".rstrip())
    if best is not None:
        solver, figures = best
        which = solver.label if solver.is_reference else f"{solver.label}, the best of the run"
        print(f"gaps are to {which} ({figures.tour_s:,.1f} s)")


def _gap(figures: Figures, best: tuple[TourSolver, Figures] | None) -> str:
    return f"{gap_percent(figures, best[1]):+.2f}" if best else ""


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


# ------------------------------------------------------------------ targets


@dataclass(frozen=True)
class QualityTarget:
    """Ours on the uniform instance of `n_points`: gap, wall time and (optionally) memory."""

    n_points: int
    max_gap_percent: float
    max_wall_s: float
    max_peak_mb: float | None = None

    def describe(self) -> str:
        memory = "" if self.max_peak_mb is None else f", under {self.max_peak_mb:,.0f} MB"
        return (
            f"N = {self.n_points:,}: <= {self.max_gap_percent:g} % above LKH-3 "
            f"in <= {self.max_wall_s:g} s{memory}"
        )

    def check(self, rows: list[Row]) -> bool:
        ours, best = figures_of(rows, Ours()), reference(rows)
        if ours is None or best is None:
            print(f"{self.describe()}: ours did not run: MISSED")
            return False
        solver, to = best
        gap = gap_percent(ours, to)
        met = (
            gap <= self.max_gap_percent
            and ours.wall_s <= self.max_wall_s
            and (self.max_peak_mb is None or ours.peak_mb <= self.max_peak_mb)
        )
        against = "" if isinstance(solver, Lkh3) else f" [to {solver.label}]"
        print(
            f"{self.describe()}: ours {gap:+.2f} % in {ours.wall_s:.3f} s, "
            f"{ours.peak_mb:,.0f} MB{against}: {verdict(met)}"
        )
        return met


QUALITY_TARGETS = (
    QualityTarget(200, 0.3, 0.020),
    QualityTarget(1_000, 1.0, 0.2),
    QualityTarget(5_000, 1.5, 2.0),
    QualityTarget(20_000, 2.0, 10.0, max_peak_mb=1024),
)
ORTOOLS_TO_BEAT = OrTools(10.0)


def check_against_ortools(instance: Instance, rows: list[Row]) -> bool | None:
    """Ours no slower a tour than OR-Tools' 10 s search, in a tenth of its time; None: n/a."""
    ours, ortools = figures_of(rows, Ours()), figures_of(rows, ORTOOLS_TO_BEAT)
    if ortools is None:
        return None
    if ours is None:
        print(f"  {instance.name}: ours did not run: MISSED")
        return False
    met = ours.tour_s <= ortools.tour_s and ours.wall_s <= ortools.wall_s / 10
    print(
        f"  {instance.name}: ours {ours.tour_s:,.1f} s in {ours.wall_s:.3f} s, OR-Tools "
        f"{ortools.tour_s:,.1f} s in {ortools.wall_s:.1f} s: {verdict(met)}"
    )
    return met


def check_targets(results: list[tuple[Instance, list[Row]]]) -> bool:
    print("\n== targets (issue 3)")
    ok = True
    by_size = {len(i.points_mm): rows for i, rows in results if i.kind == "uniform"}
    for target in QUALITY_TARGETS:
        if target.n_points in by_size:
            ok &= target.check(by_size[target.n_points])
        else:
            print(f"{target.describe()}: not run in this mode")
    print(f"better than {ORTOOLS_TO_BEAT.label} at every N, in a tenth of its time or less:")
    verdicts = [check_against_ortools(instance, rows) for instance, rows in results]
    if all(v is None for v in verdicts):
        print(f"  not run in this mode ({ORTOOLS_TO_BEAT.label} is not run)")
    return ok and all(v is not False for v in verdicts)


# ------------------------------------------------------------------ firmware agreement


def simulated_tour_s(points_in_order_mm: Points) -> float:
    """Clock seconds the simulated firmware takes to visit the points at Z = 0 from home."""
    clock = VirtualClock()
    with Gantry(LoopbackLink(firmware_for(PROFILE), clock), PROFILE) as gantry:
        began_s = clock.now_s()
        for x_mm, y_mm in points_in_order_mm:
            gantry.move_to(float(x_mm), float(y_mm), 0.0)
        return clock.now_s() - began_s


def check_firmware_agreement() -> bool:
    """The planner's predicted tour duration against the simulated firmware's clock."""
    points = uniform_points(FIRMWARE_CHECK_POINTS, seed=FIRMWARE_CHECK_POINTS)
    what = f"predicted tour duration within 2 % of the simulated firmware's ({len(points)} stops)"
    try:
        plan = plan_tour(points, METRIC, start_mm=START_MM)
    except Exception as error:  # a broken planner is a missed target, not a lost run
        print(f"{what}: planning failed ({summary(error)}): MISSED")
        return False
    simulated_s = simulated_tour_s(points[plan.order])
    ratio = simulated_s / plan.duration_s
    met = abs(ratio - 1.0) <= 0.02
    print(
        f"{what}: predicted {plan.duration_s:,.1f} s, simulated {simulated_s:,.1f} s, "
        f"ratio {ratio:.4f}: {verdict(met)}"
    )
    return met


# ------------------------------------------------------------------ the run


@contextlib.contextmanager
def environment(name: str, value: str) -> Iterator[None]:
    """Set an environment variable for the children started meanwhile."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            del os.environ[name]
        else:
            os.environ[name] = saved


def cold_first_call_s() -> float:
    """The first `plan_tour` of a process whose kernel cache is empty: a new machine's cost."""
    with tempfile.TemporaryDirectory() as empty, environment("NUMBA_CACHE_DIR", empty):
        return run_in_child(first_call_s, METRIC)


def print_setting(quick: bool) -> None:
    print(
        f"\n== planner: {PROFILE.name} bed {BED_MM[0]:,.0f} x {BED_MM[1]:,.0f} mm, Genesis "
        f"default motion, start {START_MM}, open end{'; QUICK mode' if quick else ''}"
    )
    print(
        "wall s: points to order in a fresh process (matrices included); peak MB: that "
        f"process's resident peak, of which an idle one has {run_in_child(own_peak_mb):.0f} MB"
    )
    print(
        f"kernels' first call in a fresh process: {cold_first_call_s():.2f} s with an empty "
        "cache (compile); with the disk cache, see ours' note"
    )


def main() -> bool:
    quick = os.environ.get("POTAGER_BENCH_QUICK") == "1"
    began = time.perf_counter()
    print_setting(quick)
    results = []
    for instance in instances(quick):
        rows = [measure(solver, instance.points_mm) for solver in solvers(quick)]
        print_table(instance, rows)
        results.append((instance, rows))
    ok = check_targets(results)
    ok &= check_firmware_agreement()
    print(f"\nplanner benchmark: {time.perf_counter() - began:.0f} s")
    return ok
