"""Design figures: 1,000-plot field books generated and laid onto a bed, median of runs.

Each case generates a design (`trials.design`) and lays it out (`trials.plots.lay_out`),
timed together. The reference, measured in the same run for the same shape of trial, is
what a student writes first: `random.shuffle` per block into a list of dicts, then one
rectangle dict per plot. Our extra work is validation, typed records, agricolae-style
numbering and, for the alpha design, a generating array that bounds how often two
treatments share a block (the naive version bounds nothing). Target: <= 100 ms per case.

The alpha design's generating array is searched once per (s, k, r) and cached, so its
first ("cold") run is printed on its own line.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from trials.design import Factor, FieldBook, alpha_design, latin_square, rcbd, split_plot
from trials.plots import BedArea, Spacing, largest_plot_mm, lay_out

RUNS = 9
TARGET_MS = 100.0
BED = BedArea(0, 0, 30_000, 20_000)
SPACING = Spacing(gap_x_mm=50, gap_y_mm=100, border_mm=200)
NaivePlot = dict[str, float | int | str]


def factor(name: str, n_levels: int) -> Factor:
    return Factor(name, [f"{name}{index}" for index in range(n_levels)])


@dataclass(frozen=True)
class Case:
    name: str
    ours: Callable[[int], FieldBook]
    naive_blocks: list[list[str]]
    """The reference's blocks: each is shuffled, one field row per block."""


def cases() -> list[Case]:
    entries, varieties = factor("T", 50), factor("G", 100)
    main, sub = factor("irr", 5), factor("N", 10)
    return [
        Case(
            "rcbd 50 treatments x 20 blocks",
            lambda seed: rcbd(entries, 20, seed=seed),
            [list(entries.levels)] * 20,
        ),
        Case(
            "alpha 100 treatments x 10 reps (k=10)",
            lambda seed: alpha_design(varieties, 10, 10, seed=seed),
            [list(varieties.levels[i : i + 10]) for _ in range(10) for i in range(0, 100, 10)],
        ),
        Case(
            "split-plot 5 x 10 x 20 blocks",
            lambda seed: split_plot(main, sub, 20, seed=seed),
            [[f"{m}:{s}" for m in main.levels for s in sub.levels]] * 20,
        ),
        Case(
            "latin square 32 x 32",
            lambda seed: latin_square(factor("T", 32), seed=seed),
            [[f"T{index}" for index in range(32)]] * 32,
        ),
    ]


def ours_once(case: Case, seed: int) -> int:
    book = case.ours(seed)
    width_mm, length_mm = largest_plot_mm(book, BED, SPACING)
    return len(lay_out(book, BED, width_mm, length_mm, SPACING))


def naive_once(case: Case, seed: int) -> int:
    """The reference: shuffle each block, number plots 1..n, one rectangle per plot."""
    rng = random.Random(seed)
    plots: list[NaivePlot] = []
    for block, members in enumerate(case.naive_blocks, start=1):
        order = list(members)
        rng.shuffle(order)
        for col, treatment in enumerate(order, start=1):
            plots.append(
                {"plot": len(plots) + 1, "block": block, "col": col, "treatment": treatment}
            )
    for plot in plots:
        x_min_mm = 200 + (int(plot["col"]) - 1) * 250.0
        y_min_mm = 200 + (int(plot["block"]) - 1) * 300.0
        plot.update(
            x_min_mm=x_min_mm, y_min_mm=y_min_mm, x_max_mm=x_min_mm + 200, y_max_mm=y_min_mm + 200
        )
    return len(plots)


def median_ms(run: Callable[[int], int]) -> tuple[float, int]:
    samples, count = [], 0
    for seed in range(RUNS):
        start = time.perf_counter()
        count = run(seed)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, count


def main() -> bool:
    ok = True
    print(f"\n== field books generated and laid out, median of {RUNS} runs")
    print(f"{'case':40}{'plots':>7}{'ours ms':>10}{'naive ms':>10}{'ratio':>8}  target <= 100 ms")
    for case in cases():
        start = time.perf_counter()
        ours_once(case, 1000)
        cold_ms = (time.perf_counter() - start) * 1000
        ours, plots = median_ms(partial(ours_once, case))
        naive, naive_plots = median_ms(partial(naive_once, case))
        met = ours <= TARGET_MS and cold_ms <= TARGET_MS
        ok &= met
        print(
            f"{case.name:40}{plots:7d}{ours:10.2f}{naive:10.2f}{ours / naive:7.1f}x"
            f"  {'met' if met else 'MISSED'} (cold {cold_ms:.1f} ms; naive {naive_plots} plots)"
        )
    return ok
