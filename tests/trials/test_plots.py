"""Layouts stay inside the bed without overlaps, refuse what does not fit with the sizes
that would, and sow a centred grid that respects the guard margin."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trials import TrialError
from trials.design import Factor, FieldBook, Numbering, across_sites, rcbd, split_plot
from trials.plots import (
    BedArea,
    PlotRectangle,
    Spacing,
    largest_plot_mm,
    lay_out,
    sowing_points,
)

BED = BedArea(0, 0, 3000, 1500)


def nitrogen(n_levels: int) -> Factor:
    return Factor("N", [f"N{index}" for index in range(n_levels)])


spacings = st.builds(
    Spacing,
    gap_x_mm=st.floats(0, 60),
    gap_y_mm=st.floats(0, 60),
    border_mm=st.floats(0, 100),
)
beds = st.builds(
    BedArea,
    x_min_mm=st.floats(0, 500),
    y_min_mm=st.floats(0, 500),
    x_max_mm=st.floats(2000, 6000),
    y_max_mm=st.floats(1200, 3000),
)


def overlap(first: PlotRectangle, second: PlotRectangle) -> bool:
    return (
        first.x_min_mm < second.x_max_mm
        and second.x_min_mm < first.x_max_mm
        and first.y_min_mm < second.y_max_mm
        and second.y_min_mm < first.y_max_mm
    )


@given(
    st.integers(2, 8),
    st.integers(2, 6),
    st.integers(0, 2**32 - 1),
    st.booleans(),
    beds,
    spacings,
    st.floats(0.3, 1.0),
)
@settings(max_examples=60, deadline=None)
def test_every_plot_inside_the_bed_and_border_without_overlaps(
    n_treatments: int,
    blocks: int,
    seed: int,
    serpentine: bool,
    bed: BedArea,
    spacing: Spacing,
    fraction: float,
) -> None:
    book = rcbd(
        nitrogen(n_treatments), blocks, seed=seed, numbering=Numbering(serpentine=serpentine)
    )
    width_mm, length_mm = largest_plot_mm(book, bed, spacing)
    rectangles = lay_out(book, bed, width_mm * fraction, length_mm * fraction, spacing)
    assert [rectangle.plot for rectangle in rectangles] == [plot.plot for plot in book.plots]
    for rectangle in rectangles:
        assert rectangle.x_min_mm >= bed.x_min_mm + spacing.border_mm - 1e-9
        assert rectangle.y_min_mm >= bed.y_min_mm + spacing.border_mm - 1e-9
        assert rectangle.x_max_mm <= bed.x_max_mm - spacing.border_mm + 1e-9
        assert rectangle.y_max_mm <= bed.y_max_mm - spacing.border_mm + 1e-9
    assert not any(overlap(a, b) for a, b in itertools.combinations(rectangles, 2))


@given(st.integers(2, 8), st.integers(2, 6), beds, spacings)
@settings(max_examples=60, deadline=None)
def test_largest_plot_is_the_largest_that_fits(
    n_treatments: int, blocks: int, bed: BedArea, spacing: Spacing
) -> None:
    book = rcbd(nitrogen(n_treatments), blocks, seed=1)
    width_mm, length_mm = largest_plot_mm(book, bed, spacing)
    lay_out(book, bed, width_mm, length_mm, spacing)
    with pytest.raises(TrialError, match="along x"):
        lay_out(book, bed, width_mm + 1, length_mm, spacing)
    with pytest.raises(TrialError, match="along y"):
        lay_out(book, bed, width_mm, length_mm + 1, spacing)


def test_grid_positions_map_to_alleys_and_paths() -> None:
    book = rcbd(nitrogen(4), 3, seed=2)
    spacing = Spacing(gap_x_mm=50, gap_y_mm=80, border_mm=100)
    at = {(r.row, r.col): r for r in lay_out(book, BED, 400, 300, spacing)}
    assert (at[1, 1].x_min_mm, at[1, 1].y_min_mm) == (100, 100)
    assert at[1, 2].x_min_mm - at[1, 1].x_max_mm == 50
    assert at[2, 1].y_min_mm - at[1, 1].y_max_mm == 80
    assert at[3, 4].center_mm == (100 + 3 * 450 + 200, 100 + 2 * 380 + 150)
    plot_rows = {plot.plot: plot.row for plot in book.plots}
    assert all(plot_rows[r.plot] == r.row for r in at.values())


def test_refusal_names_the_size_that_would_fit() -> None:
    book = rcbd(nitrogen(4), 6, seed=0)
    spacing = Spacing(gap_x_mm=50, gap_y_mm=50, border_mm=100)
    with pytest.raises(TrialError) as refused:
        lay_out(book, BED, 400, 500, spacing)
    message = str(refused.value)
    assert "the 6 rows (blocks) of plots need 3450 mm along y" in message
    assert "the bed has 1500 mm" in message
    assert "use plots at most 175 mm long" in message
    assert "a longer bed" in message


def test_refusal_when_the_gaps_alone_do_not_fit() -> None:
    book = rcbd(nitrogen(8), 2, seed=0)
    with pytest.raises(TrialError, match=r"narrower alleys or border \(they alone need 3700 mm\)"):
        lay_out(book, BED, 10, 10, Spacing(gap_x_mm=500, border_mm=100))
    with pytest.raises(TrialError, match="the border and gaps alone fill the bed"):
        largest_plot_mm(book, BED, Spacing(gap_x_mm=500, border_mm=100))


def test_a_multi_site_book_is_laid_out_one_site_at_a_time() -> None:
    def make(seed: int) -> FieldBook:
        return rcbd(nitrogen(3), 2, seed=seed)

    book = across_sites(["Lyon", "Rennes"], 3, make)
    with pytest.raises(TrialError, match=r"book.for_site\('Lyon'\)"):
        lay_out(book, BED, 200, 200)
    assert len(lay_out(book.for_site("Rennes"), BED, 200, 200)) == 6


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BedArea(0, 0, 0, 100), "is empty"),
        (lambda: BedArea(0, 0, math.inf, 100), "finite"),
        (lambda: Spacing(gap_x_mm=-1), "gap_x_mm is -1"),
        (lambda: lay_out(rcbd(nitrogen(2), 2, seed=0), BED, 0, 100), "use a positive size"),
        (lambda: sowing_points([], 0, 50), "row_spacing_mm is 0"),
        (lambda: sowing_points([], 50, 50, guard_mm=-5), "guard_mm is -5"),
    ],
)
def test_bad_geometry_is_refused(make: object, message: str) -> None:
    with pytest.raises(TrialError, match=message):
        make()  # type: ignore[operator]


# -------------------------------------------------------------------------------- sowing


@given(
    st.floats(100, 900),
    st.floats(100, 900),
    st.floats(20, 150),
    st.floats(20, 150),
    st.floats(0, 60),
)
@settings(max_examples=80, deadline=None)
def test_sowing_grid_is_inside_the_plot_and_guard_marks_the_margin(
    width_mm: float, length_mm: float, row_mm: float, in_row_mm: float, guard_mm: float
) -> None:
    rectangle = PlotRectangle(7, 1, 1, 250, 40, 250 + width_mm, 40 + length_mm)
    try:
        points = sowing_points([rectangle], row_mm, in_row_mm, guard_mm=guard_mm)
    except TrialError as refused:
        assert "keeps no measured plant" in str(refused)
        return
    assert points == sowing_points([rectangle], row_mm, in_row_mm, guard_mm=guard_mm)
    assert all(point.plot == 7 for point in points)
    rows: dict[float, list[float]] = defaultdict(list)
    for point in points:
        assert rectangle.x_min_mm < point.x_mm < rectangle.x_max_mm
        assert rectangle.y_min_mm < point.y_mm < rectangle.y_max_mm
        edge_mm = min(
            point.x_mm - rectangle.x_min_mm,
            rectangle.x_max_mm - point.x_mm,
            point.y_mm - rectangle.y_min_mm,
            rectangle.y_max_mm - point.y_mm,
        )
        assert point.guard == (edge_mm < guard_mm)
        rows[point.x_mm].append(point.y_mm)
    assert all(b - a == pytest.approx(row_mm) for a, b in itertools.pairwise(sorted(rows)))
    for ys_mm in rows.values():
        assert all(b - a == pytest.approx(in_row_mm) for a, b in itertools.pairwise(sorted(ys_mm)))
    measured = [point for point in points if not point.guard]
    assert measured
    unsown = sowing_points([rectangle], row_mm, in_row_mm, guard_mm=guard_mm, sow_guard=False)
    assert unsown == measured


def test_sowing_grid_is_centred_with_half_a_spacing_to_the_edges() -> None:
    rectangle = PlotRectangle(1, 1, 1, 0, 0, 300, 200)
    points = sowing_points([rectangle], 100, 50, guard_mm=60)
    assert sorted({point.x_mm for point in points}) == [50, 150, 250]
    assert sorted({point.y_mm for point in points}) == [25, 75, 125, 175]
    assert sorted((p.x_mm, p.y_mm) for p in points if not p.guard) == [(150, 75), (150, 125)]


def test_a_guard_that_swallows_the_plot_is_refused() -> None:
    rectangle = PlotRectangle(12, 1, 1, 0, 0, 200, 200)
    with pytest.raises(TrialError, match=r"plot 12 \(200 x 200 mm\) keeps no measured plant"):
        sowing_points([rectangle], 50, 50, guard_mm=100)


def test_sowing_a_laid_out_split_plot_gives_every_plot_its_points() -> None:
    book = split_plot(nitrogen(2), Factor("irr", ["dry", "wet"]), 2, seed=5)
    rectangles = lay_out(book, BED, 300, 400, Spacing(gap_x_mm=50, gap_y_mm=100))
    points = sowing_points(rectangles, 100, 100, guard_mm=50)
    per_plot: dict[int, int] = defaultdict(int)
    for point in points:
        per_plot[point.plot] += 1
    assert per_plot == {plot.plot: 12 for plot in book.plots}
