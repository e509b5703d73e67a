"""Designs keep their structure over their parameter space, numbering walks the field as
promised, seeds reproduce books, and bad requests are refused with a way out."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trials import TrialError
from trials.design import (
    CORNERS,
    Factor,
    FieldBook,
    Numbering,
    PlotRecord,
    across_sites,
    alpha_design,
    augmented,
    crd,
    factorial,
    latin_square,
    rcbd,
    site_seed,
    split_plot,
    strip_plot,
    strip_trial,
)

seeds = st.integers(min_value=0, max_value=2**32 - 1)
numberings = st.builds(
    Numbering,
    serie=st.sampled_from([None, 0, 3]),
    serpentine=st.booleans(),
    start_corner=st.sampled_from(CORNERS),
)


def factor(name: str, n_levels: int, controls: int = 0) -> Factor:
    levels = [f"{name}{index}" for index in range(n_levels)]
    return Factor(name, levels, controls=levels[:controls])


def by(book: FieldBook, key: Callable[[PlotRecord], object]) -> dict[object, list[PlotRecord]]:
    groups: dict[object, list[PlotRecord]] = defaultdict(list)
    for plot in book.plots:
        groups[key(plot)].append(plot)
    return groups


def assert_grid_is_sound(book: FieldBook) -> None:
    """Plot numbers and field positions are unique and the grid is 1-based and compact."""
    assert len({plot.plot for plot in book.plots}) == len(book.plots)
    assert len({(plot.row, plot.col) for plot in book.plots}) == len(book.plots)
    assert {plot.row for plot in book.plots} == set(range(1, book.n_rows + 1))
    assert min(plot.col for plot in book.plots) == 1


# ------------------------------------------------------------------------------ structure


@given(st.integers(2, 4), st.integers(2, 3), st.integers(2, 4), seeds, numberings)
@settings(max_examples=40, deadline=None)
def test_crd_replicates_every_factorial_treatment_equally(
    n_a: int, n_b: int, reps: int, seed: int, numbering: Numbering
) -> None:
    book = crd([factor("A", n_a), factor("B", n_b)], reps, seed=seed, numbering=numbering)
    assert Counter(plot.treatment for plot in book.plots) == {
        f"A{a}:B{b}": reps for a in range(n_a) for b in range(n_b)
    }
    assert all(plot.block is None for plot in book.plots)
    assert book.n_cols == n_a * n_b
    assert_grid_is_sound(book)


def test_crd_fills_rows_of_the_requested_width() -> None:
    book = crd(factor("N", 3), 4, seed=5, n_cols=5)
    assert (book.n_rows, book.n_cols) == (3, 5)
    assert Counter(plot.row for plot in book.plots) == {1: 5, 2: 5, 3: 2}


@given(st.integers(2, 12), st.integers(2, 8), seeds, numberings)
@settings(max_examples=60, deadline=None)
def test_rcbd_has_each_treatment_once_per_block_in_its_own_row(
    n_treatments: int, blocks: int, seed: int, numbering: Numbering
) -> None:
    book = rcbd(factor("N", n_treatments), blocks, seed=seed, numbering=numbering)
    groups = by(book, lambda plot: plot.block)
    assert set(groups) == set(range(1, blocks + 1))
    for plots in groups.values():
        assert sorted(plot.treatment for plot in plots) == sorted(book.factors["N"])
        assert len({plot.row for plot in plots}) == 1
    assert_grid_is_sound(book)


def test_factorial_labels_levels_and_the_single_check() -> None:
    treatments = factorial([factor("N", 3, controls=1), Factor("irr", ["dry", "wet"], ["dry"])])
    assert [treatment.label for treatment in treatments] == [
        "N0:dry", "N0:wet", "N1:dry", "N1:wet", "N2:dry", "N2:wet",
    ]  # fmt: skip
    assert [treatment.label for treatment in treatments if treatment.check] == ["N0:dry"]
    assert dict(treatments[3].levels) == {"N": "N1", "irr": "wet"}


def test_rcbd_factors_and_check_columns_follow_the_treatments() -> None:
    book = rcbd([factor("N", 3, controls=1), factor("I", 2, controls=1)], 3, seed=4)
    assert book.factors == {"N": ["N0", "N1", "N2"], "I": ["I0", "I1"]}
    for plot in book.plots:
        assert plot.treatment == f"{plot.factors['N']}:{plot.factors['I']}"
        assert plot.check == (plot.treatment == "N0:I0")


@given(st.integers(2, 9), seeds, numberings)
@settings(max_examples=60, deadline=None)
def test_latin_square_has_each_treatment_once_per_row_and_column(
    size: int, seed: int, numbering: Numbering
) -> None:
    book = latin_square(factor("T", size), seed=seed, numbering=numbering)
    assert len(book.plots) == size * size
    levels = sorted(book.factors["T"])
    for line in (lambda plot: plot.row, lambda plot: plot.col):
        groups = by(book, line)
        assert len(groups) == size
        assert all(sorted(plot.treatment for plot in plots) == levels for plots in groups.values())


@given(st.integers(2, 4), st.integers(2, 5), st.integers(2, 5), seeds, numberings)
@settings(max_examples=60, deadline=None)
def test_split_plot_structure(
    n_main: int, n_sub: int, blocks: int, seed: int, numbering: Numbering
) -> None:
    book = split_plot(
        factor("M", n_main), factor("S", n_sub), blocks, seed=seed, numbering=numbering
    )
    for plots in by(book, lambda plot: plot.block).values():
        main_levels = {plot.main_plot: plot.factors["M"] for plot in plots}
        assert sorted(main_levels.values()) == book.factors["M"]
    main_plots = by(book, lambda plot: plot.main_plot)
    assert len(main_plots) == n_main * blocks
    for plots in main_plots.values():
        assert len({plot.factors["M"] for plot in plots}) == 1
        assert len({plot.block for plot in plots}) == 1
        assert sorted(plot.factors["S"] for plot in plots) == book.factors["S"]
        assert Counter(plot.sub_plot for plot in plots) == dict.fromkeys(range(1, n_sub + 1), 1)
        # a main plot is one piece of ground: neighbouring plots of a single row
        columns = sorted(plot.col for plot in plots)
        assert len({plot.row for plot in plots}) == 1
        assert columns == list(range(columns[0], columns[0] + n_sub))
    assert_grid_is_sound(book)


@given(st.integers(2, 4), st.integers(2, 5), st.integers(2, 4), seeds, numberings)
@settings(max_examples=60, deadline=None)
def test_strip_plot_rows_and_columns_are_whole_strips_in_each_block(
    n_h: int, n_v: int, blocks: int, seed: int, numbering: Numbering
) -> None:
    book = strip_plot(factor("H", n_h), factor("V", n_v), blocks, seed=seed, numbering=numbering)
    for plots in by(book, lambda plot: plot.block).values():
        assert len(plots) == n_h * n_v
        assert Counter(plot.treatment for plot in plots) == {
            f"H{h}:V{v}": 1 for h in range(n_h) for v in range(n_v)
        }
        rows, cols = by_field(plots, "row"), by_field(plots, "col")
        assert len(rows) == n_h and len(cols) == n_v
        assert all(len({plot.factors["H"] for plot in strip}) == 1 for strip in rows.values())
        assert all(len({plot.factors["V"] for plot in strip}) == 1 for strip in cols.values())
        assert {plot.strip_row for plot in plots} == set(range(1, n_h + 1))
        assert {plot.strip_col for plot in plots} == set(range(1, n_v + 1))
    assert_grid_is_sound(book)


def by_field(plots: list[PlotRecord], name: str) -> dict[int, list[PlotRecord]]:
    groups: dict[int, list[PlotRecord]] = defaultdict(list)
    for plot in plots:
        groups[getattr(plot, name)].append(plot)
    return groups


def pair_concurrence(book: FieldBook) -> Counter[tuple[str, str]]:
    pairs: Counter[tuple[str, str]] = Counter()
    for plots in by(book, lambda plot: plot.block).values():
        pairs.update(itertools.combinations(sorted(plot.treatment for plot in plots), 2))
    return pairs


PRIMES = {2, 3, 5, 7, 11, 13}


@st.composite
def alpha_sizes(draw: st.DrawFn) -> tuple[int, int, int]:
    """(s, k, r) over the space alpha_design promises: k <= s, r <= 2s."""
    blocks_per_rep = draw(st.integers(2, 13))
    block_size = draw(st.integers(2, min(blocks_per_rep, 8)))
    reps = draw(st.integers(2, min(2 * blocks_per_rep, 8)))
    return blocks_per_rep, block_size, reps


@given(alpha_sizes(), seeds, numberings)
@settings(max_examples=80, deadline=None)
def test_alpha_is_resolvable_with_disjoint_blocks_and_bounded_concurrence(
    sizes: tuple[int, int, int], seed: int, numbering: Numbering
) -> None:
    blocks_per_rep, block_size, reps = sizes
    treatments = factor("G", blocks_per_rep * block_size)
    book = alpha_design(treatments, block_size, reps, seed=seed, numbering=numbering)
    for rep, plots in by(book, lambda plot: plot.rep).items():
        assert sorted(plot.treatment for plot in plots) == sorted(treatments.levels), rep
        blocks = by_field(plots, "block")
        assert len(blocks) == blocks_per_rep
        assert all(len(block) == block_size for block in blocks.values())
    pairs = pair_concurrence(book)
    assert max(pairs.values()) <= 2
    if blocks_per_rep in PRIMES and reps <= blocks_per_rep:
        assert max(pairs.values()) == 1


def test_alpha_with_a_composite_block_count_still_meets_pairs_at_most_twice() -> None:
    # s = 10: the cyclic array would put some pairs together five times in 10 replicates
    book = alpha_design(factor("G", 100), 10, 10, seed=1)
    assert max(pair_concurrence(book).values()) == 2


@given(st.integers(1, 4), st.integers(2, 20), st.integers(2, 6), seeds, numberings)
@settings(max_examples=60, deadline=None)
def test_augmented_checks_in_every_block_and_entries_once(
    n_checks: int, n_entries: int, blocks: int, seed: int, numbering: Numbering
) -> None:
    blocks = min(blocks, n_entries)
    checks = [f"check{index}" for index in range(n_checks)]
    entries = [f"line{index}" for index in range(n_entries)]
    book = augmented(checks, entries, blocks, seed=seed, numbering=numbering)
    groups = by(book, lambda plot: plot.block)
    assert len(groups) == blocks
    sizes = [len(plots) - n_checks for plots in groups.values()]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    for plots in groups.values():
        assert sorted(plot.treatment for plot in plots if plot.check) == sorted(checks)
    counts = Counter(plot.treatment for plot in book.plots if not plot.check)
    assert counts == dict.fromkeys(entries, 1)


@given(st.integers(1, 6), st.integers(2, 5), seeds, numberings)
@settings(max_examples=60, deadline=None)
def test_strip_trial_every_treatment_strip_lies_between_control_strips(
    n_treatments: int, reps: int, seed: int, numbering: Numbering
) -> None:
    treatments = [f"T{index}" for index in range(n_treatments)]
    book = strip_trial("témoin", treatments, reps, seed=seed, numbering=numbering)
    at = {plot.col: plot for plot in book.plots}
    assert book.n_rows == 1
    for plot in book.plots:
        if not plot.check:
            neighbours = [at[plot.col - 1], at[plot.col + 1]]
            assert all(n.treatment == "témoin" and n.block == plot.block for n in neighbours)
    for plots in by(book, lambda plot: plot.block).values():
        assert sorted(plot.treatment for plot in plots if not plot.check) == treatments


# ------------------------------------------------------------------------------ numbering


def walk(book: FieldBook) -> list[PlotRecord]:
    return sorted(book.plots, key=lambda plot: plot.plot)


@given(st.integers(2, 8), st.integers(2, 6), seeds, st.sampled_from(CORNERS))
@settings(max_examples=40, deadline=None)
def test_serpentine_numbers_step_to_a_neighbour_and_start_at_the_corner(
    n_treatments: int, blocks: int, seed: int, corner: str
) -> None:
    numbering = Numbering(serie=0, serpentine=True, start_corner=corner)  # type: ignore[arg-type]
    book = rcbd(factor("N", n_treatments), blocks, seed=seed, numbering=numbering)
    plots = walk(book)
    assert [plot.plot for plot in plots] == list(range(1, len(plots) + 1))
    for before, after in itertools.pairwise(plots):
        assert abs(before.row - after.row) + abs(before.col - after.col) == 1
    first = plots[0]
    assert first.row == (book.n_rows if corner.startswith("top") else 1)
    assert first.col == (book.n_cols if corner.endswith("right") else 1)


@given(st.integers(2, 8), st.integers(3, 6), seeds)
@settings(max_examples=30, deadline=None)
def test_plain_walk_restarts_every_row_on_the_start_side(
    n_treatments: int, blocks: int, seed: int
) -> None:
    numbering = Numbering(serie=0, serpentine=False, start_corner="bottom_right")
    book = rcbd(factor("N", n_treatments), blocks, seed=seed, numbering=numbering)
    for plots in by(book, lambda plot: plot.row).values():
        ordered = sorted(plots, key=lambda plot: plot.plot)
        assert [plot.col for plot in ordered] == list(range(n_treatments, 0, -1))


def test_serie_numbers_plots_per_block() -> None:
    book = rcbd(factor("N", 3), 2, seed=0, numbering=Numbering(serie=2))
    assert [plot.plot for plot in book.plots] == [101, 102, 103, 201, 202, 203]
    book = rcbd(factor("N", 3), 2, seed=0, numbering=Numbering(serie=3))
    assert [plot.plot for plot in book.plots] == [1001, 1002, 1003, 2001, 2002, 2003]


def test_unset_serie_widens_to_fit_the_largest_block() -> None:
    book = rcbd(factor("N", 120), 2, seed=0)
    assert [plot.plot for plot in book.plots[118:122]] == [1119, 1120, 2001, 2002]


def test_serie_too_small_for_the_block_names_the_serie_that_fits() -> None:
    with pytest.raises(TrialError, match=r"serie=2 numbers at most 99 .* use serie=3"):
        rcbd(factor("N", 120), 2, seed=0, numbering=Numbering(serie=2))


# ---------------------------------------------------------------------- seeds and sites


GENERATORS: dict[str, Callable[[int], FieldBook]] = {
    "crd": lambda seed: crd(factor("N", 5), 3, seed=seed),
    "rcbd": lambda seed: rcbd(factor("N", 6), 4, seed=seed),
    "lsd": lambda seed: latin_square(factor("N", 6), seed=seed),
    "split": lambda seed: split_plot(factor("M", 3), factor("S", 4), 3, seed=seed),
    "strip": lambda seed: strip_plot(factor("H", 3), factor("V", 4), 3, seed=seed),
    "alpha": lambda seed: alpha_design(factor("G", 20), 4, 3, seed=seed),
    "augmented": lambda seed: augmented(["A", "B"], [f"e{i}" for i in range(12)], 3, seed=seed),
    "strip_trial": lambda seed: strip_trial("C", ["T1", "T2", "T3", "T4"], 3, seed=seed),
}


@pytest.mark.parametrize("name", GENERATORS)
def test_same_seed_same_book_different_seed_different_book(name: str) -> None:
    make = GENERATORS[name]
    assert make(11) == make(11)
    layouts = {tuple(plot.treatment for plot in make(seed).plots) for seed in range(5)}
    assert len(layouts) > 1


def test_each_site_has_its_own_reproducible_randomization() -> None:
    def make(seed: int) -> FieldBook:
        return rcbd(factor("N", 8), 4, seed=seed)

    book = across_sites(["Lyon", "Rennes", "Montpellier"], 7, make)
    assert book.sites == ["Lyon", "Rennes", "Montpellier"]
    assert book == across_sites(["Lyon", "Rennes", "Montpellier"], 7, make)
    layouts = {site: [plot.treatment for plot in book.for_site(site).plots] for site in book.sites}
    assert len({tuple(layout) for layout in layouts.values()}) == 3
    assert layouts["Lyon"] == [plot.treatment for plot in make(site_seed(7, "Lyon")).plots]
    assert site_seed(7, "Lyon") != site_seed(8, "Lyon")
    assert {row["site"] for row in book.field_book_rows()} == set(book.sites)


def test_site_seed_does_not_depend_on_the_process() -> None:
    # Python's hash() of a str changes per process; a stored trial must re-derive its seeds
    assert site_seed(1, "Lyon") == 8869515112900703586


def test_field_book_rows_are_tidy() -> None:
    rows = split_plot(factor("M", 2), factor("S", 2), 2, seed=3).field_book_rows()
    assert list(rows[0]) == [
        "plot", "block", "row", "col", "treatment", "M", "S", "check", "main_plot", "sub_plot",
    ]  # fmt: skip
    assert all(row["treatment"] == f"{row['M']}:{row['S']}" for row in rows)


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Factor("N", ["N0"]), r"factor 'N' has 1 level.*add a level"),
        (lambda: Factor("N", ["N0", "N0"]), r"lists 'N0' twice"),
        (lambda: Factor("N", "N0"), r"levels must be a list of names"),
        (lambda: Factor("N", ["N0", "N1"], "N0"), r"controls must be a list of names"),
        (lambda: crd(factor("N", 3), 2, seed=0, n_cols=0), r"n_cols must be at least 1"),
        (lambda: Factor("N", ["N0", "N1"], ["N9"]), r"control\(s\) \['N9'\] are not among"),
        (lambda: rcbd(factor("N", 3), 1, seed=0), r"blocks must be at least 2, got 1"),
        (lambda: crd(factor("N", 3), 1, seed=0), r"reps must be at least 2"),
        (lambda: rcbd([factor("N", 2), factor("N", 3)], 2, seed=0), r"lists 'N' twice"),
        (lambda: latin_square(Factor("T", ["a"]), seed=0), r"needs at least 2 levels"),
        (lambda: split_plot(factor("M", 2), factor("S", 2), 1, seed=0), r"blocks must be"),
        (lambda: strip_plot(factor("H", 2), factor("V", 2), 1, seed=0), r"blocks must be"),
        (
            lambda: alpha_design(factor("G", 10), 3, 2, seed=0),
            r"10 treatments do not make blocks of 3 plots.*use block_size in \[2\]"
            r", or add 2 treatment",
        ),
        (lambda: alpha_design(factor("G", 10), 5, 2, seed=0), r"at most the number of blocks"),
        (lambda: alpha_design(factor("G", 10), 2, 1, seed=0), r"reps must be at least 2"),
        (lambda: alpha_design(factor("G", 4), 2, 5, seed=0), r"use at most 4 replicates"),
        (lambda: alpha_design(factor("G", 36), 6, 10, seed=0), r"found no arrangement"),
        (lambda: augmented([], ["e1"], 2, seed=0), r"name at least one check"),
        (lambda: augmented(["A"], ["e1", "e2"], 3, seed=0), r"use at most 2 blocks"),
        (lambda: augmented(["A"], ["A", "e2"], 2, seed=0), r"lists 'A' twice"),
        (lambda: strip_trial("C", [], 2, seed=0), r"name a treatment"),
        (lambda: strip_trial("C", ["T"], 1, seed=0), r"at least 2 replicates"),
        (lambda: Numbering(start_corner="middle"), r"choose one of"),  # type: ignore[arg-type]
        (lambda: across_sites(["A", "A"], 0, lambda s: rcbd(factor("N", 2), 2, seed=s)), "twice"),
    ],
)
def test_bad_requests_are_refused_with_what_to_change(
    make: Callable[[], object], message: str
) -> None:
    with pytest.raises(TrialError, match=message):
        make()
