"""A field book laid onto a bed: plot rectangles and sowing points in bed millimetres.

The trial is anchored at the bed's home corner, inside a guard border: grid column `col`
runs along x and grid row `row` along y (the convention of `trials.design`), each plot is
`plot_width_mm` along x by `plot_length_mm` along y, and plots are separated by alleys
(`gap_x_mm` between columns) and paths (`gap_y_mm` between rows). A layout that does not
fit is refused with the sizes that would, rather than clipped, because a clipped plot is a
different plot size and biases the trial.

Sowing points are a grid centred in each plot; points nearer an edge than the inner guard
margin are guard plants (sown so the measured plants have neighbours on all sides, not
measured), or are left out when guard plants are not wanted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trials import TrialError
from trials.design import FieldBook


@dataclass(frozen=True)
class BedArea:
    """The part of a bed the trial may use, in bed millimetres (origin at the home corner)."""

    x_min_mm: float
    y_min_mm: float
    x_max_mm: float
    y_max_mm: float

    def __post_init__(self) -> None:
        values = (self.x_min_mm, self.y_min_mm, self.x_max_mm, self.y_max_mm)
        if not all(math.isfinite(value) for value in values):
            raise TrialError(f"bed area {values} must be finite numbers of millimetres")
        if self.x_max_mm <= self.x_min_mm or self.y_max_mm <= self.y_min_mm:
            raise TrialError(
                f"bed area {values} is empty: x_max_mm must exceed x_min_mm and"
                " y_max_mm exceed y_min_mm"
            )

    @property
    def width_mm(self) -> float:
        return self.x_max_mm - self.x_min_mm

    @property
    def length_mm(self) -> float:
        return self.y_max_mm - self.y_min_mm


@dataclass(frozen=True)
class Spacing:
    """What separates plots: alleys between columns, paths between rows, the guard border."""

    gap_x_mm: float = 0.0
    gap_y_mm: float = 0.0
    border_mm: float = 0.0

    def __post_init__(self) -> None:
        for name in ("gap_x_mm", "gap_y_mm", "border_mm"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise TrialError(f"{name} is {value}: use a finite distance of 0 mm or more")


@dataclass(frozen=True, slots=True)
class PlotRectangle:
    """One plot's ground, in bed millimetres."""

    plot: int
    row: int
    col: int
    x_min_mm: float
    y_min_mm: float
    x_max_mm: float
    y_max_mm: float

    @property
    def center_mm(self) -> tuple[float, float]:
        return (self.x_min_mm + self.x_max_mm) / 2, (self.y_min_mm + self.y_max_mm) / 2


@dataclass(frozen=True, slots=True)
class SowingPoint:
    """Where one seed goes; guard plants are sown but not measured."""

    plot: int
    x_mm: float
    y_mm: float
    guard: bool


@dataclass(frozen=True)
class _Axis:
    """One direction of the layout, named the way the refusal message speaks of it."""

    name: str
    plot_word: str
    gap_word: str
    grid_word: str
    bed_word: str


_ALONG_X = _Axis("x", "wide", "alleys", "columns", "wider")
_ALONG_Y = _Axis("y", "long", "paths", "rows (blocks)", "longer")


def lay_out(
    book: FieldBook,
    bed: BedArea,
    plot_width_mm: float,
    plot_length_mm: float,
    spacing: Spacing = Spacing(),
) -> list[PlotRectangle]:
    """Each plot of a one-site field book as a rectangle on the bed, in book order."""
    _require_one_site(book)
    _check_fits(_ALONG_X, book.n_cols, plot_width_mm, spacing.gap_x_mm, spacing, bed.width_mm)
    _check_fits(_ALONG_Y, book.n_rows, plot_length_mm, spacing.gap_y_mm, spacing, bed.length_mm)
    x_edges_mm = _edges_mm(
        bed.x_min_mm + spacing.border_mm, book.n_cols, plot_width_mm, spacing.gap_x_mm
    )
    y_edges_mm = _edges_mm(
        bed.y_min_mm + spacing.border_mm, book.n_rows, plot_length_mm, spacing.gap_y_mm
    )
    rectangles = []
    for plot in book.plots:
        x_min_mm, x_max_mm = x_edges_mm[plot.col - 1]
        y_min_mm, y_max_mm = y_edges_mm[plot.row - 1]
        rectangles.append(
            PlotRectangle(plot.plot, plot.row, plot.col, x_min_mm, y_min_mm, x_max_mm, y_max_mm)
        )
    return rectangles


def largest_plot_mm(
    book: FieldBook, bed: BedArea, spacing: Spacing = Spacing()
) -> tuple[float, float]:
    """The widest and longest plots (whole millimetres) that still fit, as (width, length)."""
    _require_one_site(book)
    width_mm = _largest_plot_along(book.n_cols, spacing.gap_x_mm, spacing, bed.width_mm)
    length_mm = _largest_plot_along(book.n_rows, spacing.gap_y_mm, spacing, bed.length_mm)
    if width_mm <= 0 or length_mm <= 0:
        raise TrialError(
            f"the border and gaps alone fill the bed ({book.n_cols} columns x {book.n_rows}"
            f" rows of plots): use a narrower border or gaps, or a larger bed"
        )
    return width_mm, length_mm


def _edges_mm(
    origin_mm: float, count: int, plot_mm: float, gap_mm: float
) -> list[tuple[float, float]]:
    """(low, high) edges of each plot along one axis, as one running sum: each edge is the
    previous one plus a size, so with no gap neighbours share an edge exactly instead of
    overlapping by a rounding error."""
    steps = np.tile([plot_mm, gap_mm], count)[: 2 * count - 1]
    edges = np.cumsum(np.concatenate(([origin_mm], steps))).tolist()
    return list(zip(edges[0::2], edges[1::2], strict=True))


def _require_one_site(book: FieldBook) -> None:
    if len(book.sites) > 1:
        raise TrialError(
            f"this field book has {len(book.sites)} sites {book.sites}; a bed holds one:"
            f" lay out book.for_site({book.sites[0]!r})"
        )


def _needed_mm(count: int, plot_mm: float, gap_mm: float, border_mm: float) -> float:
    return count * plot_mm + (count - 1) * gap_mm + 2 * border_mm


def _largest_plot_along(count: int, gap_mm: float, spacing: Spacing, bed_mm: float) -> float:
    return math.floor((bed_mm - (count - 1) * gap_mm - 2 * spacing.border_mm) / count)


def _check_fits(
    axis: _Axis, count: int, plot_mm: float, gap_mm: float, spacing: Spacing, bed_mm: float
) -> None:
    if not math.isfinite(plot_mm) or plot_mm <= 0:
        raise TrialError(f"plots {plot_mm} mm {axis.plot_word}: use a positive size in mm")
    needed_mm = _needed_mm(count, plot_mm, gap_mm, spacing.border_mm)
    if needed_mm <= bed_mm:
        return
    largest_mm = _largest_plot_along(count, gap_mm, spacing, bed_mm)
    smaller = (
        f"plots at most {largest_mm:.0f} mm {axis.plot_word}"
        if largest_mm > 0
        else f"narrower {axis.gap_word} or border (they alone need"
        f" {_needed_mm(count, 0, gap_mm, spacing.border_mm):.0f} mm)"
    )
    raise TrialError(
        f"the {count} {axis.grid_word} of plots need {needed_mm:.0f} mm along {axis.name}"
        f" ({count} x {plot_mm:g} mm plots, {count - 1} x {gap_mm:g} mm {axis.gap_word},"
        f" 2 x {spacing.border_mm:g} mm border) but the bed has {bed_mm:.0f} mm: use"
        f" {smaller}, fewer {axis.grid_word}, or a {axis.bed_word} bed"
    )


def sowing_points(
    rectangles: Sequence[PlotRectangle],
    row_spacing_mm: float,
    in_row_spacing_mm: float,
    *,
    guard_mm: float = 0.0,
    sow_guard: bool = True,
) -> list[SowingPoint]:
    """Seed positions for every plot: sowing rows run along y, `row_spacing_mm` apart in x.

    The grid is centred in the plot with half a spacing to each edge, so neighbouring plots
    sown alike keep the same spacing across the alley. Every plot must keep at least one
    measured (non-guard) plant.
    """
    for name, value in (
        ("row_spacing_mm", row_spacing_mm),
        ("in_row_spacing_mm", in_row_spacing_mm),
    ):
        if not math.isfinite(value) or value <= 0:
            raise TrialError(f"{name} is {value}: use a positive spacing in mm")
    if not math.isfinite(guard_mm) or guard_mm < 0:
        raise TrialError(f"guard_mm is {guard_mm}: use a finite margin of 0 mm or more")
    points = []
    for rectangle in rectangles:
        xs_mm = _centred_grid(rectangle.x_min_mm, rectangle.x_max_mm, row_spacing_mm)
        ys_mm = _centred_grid(rectangle.y_min_mm, rectangle.y_max_mm, in_row_spacing_mm)
        x_guard = _in_guard(xs_mm, rectangle.x_min_mm, rectangle.x_max_mm, guard_mm)
        y_guard = _in_guard(ys_mm, rectangle.y_min_mm, rectangle.y_max_mm, guard_mm)
        guard = x_guard[:, None] | y_guard[None, :]
        if guard.all():
            raise TrialError(
                f"plot {rectangle.plot} ({_size(rectangle)}) keeps no measured plant with a"
                f" {guard_mm:g} mm guard and {row_spacing_mm:g} x {in_row_spacing_mm:g} mm"
                " spacing: use a smaller guard_mm, closer spacing, or larger plots"
            )
        for i, j in zip(*np.nonzero(~guard | sow_guard), strict=True):
            points.append(
                SowingPoint(rectangle.plot, float(xs_mm[i]), float(ys_mm[j]), bool(guard[i, j]))
            )
    return points


def _centred_grid(low_mm: float, high_mm: float, spacing_mm: float) -> NDArray[np.float64]:
    count = math.floor((high_mm - low_mm) / spacing_mm)
    if count == 0:
        # A plot narrower than one spacing still gets its single centre line.
        return np.array([(low_mm + high_mm) / 2])
    margin_mm = (high_mm - low_mm - count * spacing_mm) / 2 + spacing_mm / 2
    return low_mm + margin_mm + spacing_mm * np.arange(count, dtype=np.float64)


def _in_guard(
    positions_mm: NDArray[np.float64], low_mm: float, high_mm: float, guard_mm: float
) -> NDArray[np.bool_]:
    return (positions_mm - low_mm < guard_mm) | (high_mm - positions_mm < guard_mm)


def _size(rectangle: PlotRectangle) -> str:
    width_mm = rectangle.x_max_mm - rectangle.x_min_mm
    length_mm = rectangle.y_max_mm - rectangle.y_min_mm
    return f"{width_mm:g} x {length_mm:g} mm"


__all__ = [
    "BedArea",
    "PlotRectangle",
    "SowingPoint",
    "Spacing",
    "largest_plot_mm",
    "lay_out",
    "sowing_points",
]
