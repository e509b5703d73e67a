"""Trial figures for the dashboard: means with letters, interactions, sites, field maps.

Every function returns a matplotlib `Figure` drawn with the Agg canvas (no display, safe in
a web worker); `to_svg` turns it into the SVG text the web pages embed.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Polygon, Rectangle

from trials import TrialError
from trials.analysis import AnovaResult, EstimateRow, Observations
from trials.comparisons import Comparison
from trials.site_effects import SiteEffects


def to_svg(figure: Figure) -> str:
    """The figure as SVG text."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    return buffer.getvalue()


def means_plot(result: AnovaResult, factor: str, comparison: Comparison | None = None) -> Figure:
    """Bars of the treatment means with +- 1 SE and, if given, the comparison's letters.

    >>> obs = Observations.from_columns([5, 6, 9, 5.5, 6.5, 9.5], treatment=list("abcabc"))
    >>> from trials.analysis import anova_crd
    >>> means_plot(anova_crd(obs), "treatment").axes[0].get_ylabel()
    'response'
    """
    rows = result.means(factor)
    letters = {g.level: g.letters for g in comparison.groups} if comparison else {}
    figure = Figure(figsize=(max(4.0, 0.6 * len(rows) + 2), 4))
    axes = figure.subplots()
    positions = np.arange(len(rows))
    means = [row.mean for row in rows]
    errors = [row.se for row in rows]
    axes.bar(positions, means, yerr=errors, capsize=4, color="#7aa95c")
    for x, mean, se, row in zip(positions, means, errors, rows, strict=True):
        axes.annotate(letters.get(row.level, ""), (x, mean + se), ha="center", va="bottom")
    axes.set_xticks(positions, [row.level for row in rows])
    axes.set_xlabel(factor)
    axes.set_ylabel(result.response_name)
    return figure


def interaction_plot(obs: Observations, x: str, trace: str) -> Figure:
    """Cell means of the response along `x`, one line per level of `trace`."""
    x_codes, x_levels = obs.codes(x)
    trace_codes, trace_levels = obs.codes(trace)
    cells = x_codes * len(trace_levels) + trace_codes
    size = len(x_levels) * len(trace_levels)
    sums = np.bincount(cells, weights=obs.response, minlength=size)
    counts = np.bincount(cells, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (sums / counts).reshape(len(x_levels), len(trace_levels))
    figure = Figure(figsize=(5, 4))
    axes = figure.subplots()
    for column, level in enumerate(trace_levels):
        axes.plot(range(len(x_levels)), means[:, column], marker="o", label=level)
    axes.set_xticks(range(len(x_levels)), x_levels)
    axes.set_xlabel(x)
    axes.set_ylabel(f"mean {obs.response_name}")
    axes.legend(title=trace)
    return figure


def forest_plot(estimates: Sequence[EstimateRow], level: str) -> Figure:
    """One treatment's estimate and interval at each site, the combined one last."""
    chosen = [row for row in estimates if row.level == level]
    if not chosen:
        raise TrialError(f"no estimates for treatment {level!r}")
    figure = Figure(figsize=(5, 0.4 * len(chosen) + 1.5))
    axes = figure.subplots()
    positions = np.arange(len(chosen))[::-1]
    means = np.array([row.mean for row in chosen])
    spans = np.array(
        [[row.mean - row.lower for row in chosen], [row.upper - row.mean for row in chosen]]
    )
    axes.errorbar(means, positions, xerr=spans, fmt="o", color="#33691e", capsize=3)
    axes.set_yticks(positions, [row.site for row in chosen])
    axes.set_xlabel(f"mean of {level}")
    return figure


def effects_forest_plot(effects: SiteEffects, unit: str = "") -> Figure:
    """Each treatment minus the control: a dot and interval per site, the pooled diamond.

    Treatments are stacked top to bottom, sites in order then the pooled row; the line at
    zero is "no different from the control", so an interval crossing it is inconclusive.
    """
    groups = [
        [*((row, False) for row in effects.rows if row.treatment == level), (pooled, True)]
        for level, pooled in zip(effects.treatments, effects.pooled, strict=True)
    ]
    lines = [line for group in groups for line in group]
    gaps = np.repeat(np.arange(len(groups)), [len(group) for group in groups])
    positions = -(np.arange(len(lines)) + gaps)  # one empty line between treatments
    figure = Figure(figsize=(6, 0.35 * (len(lines) + len(groups)) + 1.5))
    axes = figure.subplots()
    for y, (row, is_pooled) in zip(positions, lines, strict=True):
        if is_pooled:
            tips = [
                (row.lower, y),
                (row.difference, y + 0.3),
                (row.upper, y),
                (row.difference, y - 0.3),
            ]
            axes.add_patch(Polygon(tips, closed=True, color="#33691e"))
        else:
            span = [[row.difference - row.lower], [row.upper - row.difference]]
            axes.errorbar(row.difference, y, xerr=span, fmt="o", color="#7aa95c", capsize=3)
    axes.axvline(0.0, color="black", linewidth=1)
    axes.set_yticks(positions, [f"{row.treatment}: {row.site}" for row, _ in lines])
    axes.set_ylim(positions.min() - 1, 1)
    measured = f"{effects.response_name} ({unit})" if unit else effects.response_name
    axes.set_xlabel(f"{measured}, difference from {effects.control}")
    axes.set_title(f"{effects.confidence:.0%} confidence intervals", fontsize=9)
    axes.autoscale_view(scalex=True, scaley=False)
    return figure


def field_map(
    rows: Sequence[int],
    cols: Sequence[int],
    values: Sequence[float],
    blocks: Sequence[str] | None = None,
    sites: Sequence[str] | None = None,
) -> Figure:
    """Heat map of a plot value over the field grid, with block outlines drawn around cells.

    Row and column numbers start at 1 (as in a field book); empty cells stay blank. Plots
    of different sites share row and column numbers, so when `sites` names two or more,
    each site gets its own panel titled with its name, all on one colour scale: a colour
    means the same value at every site.

    >>> figure = field_map([1, 1], [1, 1], [2.0, 3.0], sites=["Lyon", "Rennes"])
    >>> [axes.get_title() for axes in figure.axes[:2]]
    ['Lyon', 'Rennes']
    """
    columns = [rows, cols, values, *(c for c in (blocks, sites) if c is not None)]
    if len({len(column) for column in columns}) > 1:
        raise TrialError("rows, cols, values (and blocks, sites) must have one entry per plot")
    if min(rows, default=0) < 1 or min(cols, default=0) < 1:
        raise TrialError("row and column numbers start at 1")
    panels = _site_panels(sites, len(rows))
    shape = (max(rows), max(cols))
    figure = Figure(
        figsize=(len(panels) * max(4.0, 0.5 * shape[1] + 2), max(3.0, 0.5 * shape[0] + 1))
    )
    grid_axes = figure.subplots(1, len(panels), squeeze=False)[0]
    scale = Normalize(min(values), max(values))
    for axes, (site, members) in zip(grid_axes, panels, strict=True):
        image = _field_panel(
            axes,
            shape,
            [rows[i] for i in members],
            [cols[i] for i in members],
            [values[i] for i in members],
            None if blocks is None else [blocks[i] for i in members],
            scale,
        )
        if site is not None:
            axes.set_title(site)
    figure.colorbar(image, ax=list(grid_axes))
    return figure


def _site_panels(sites: Sequence[str] | None, n: int) -> list[tuple[str | None, list[int]]]:
    """Each panel's title and plots (indices): one per site, or one untitled for one site."""
    names = list(dict.fromkeys(sites or ()))
    if sites is None or len(names) < 2:
        return [(None, list(range(n)))]
    return [(name, [i for i, site in enumerate(sites) if site == name]) for name in names]


def _field_panel(
    axes: Axes,
    shape: tuple[int, int],
    rows: Sequence[int],
    cols: Sequence[int],
    values: Sequence[float],
    blocks: Sequence[str] | None,
    scale: Normalize,
) -> AxesImage:
    """One field's grid of `shape` on `axes`, coloured on the scale shared by all panels."""
    grid = np.full(shape, np.nan)
    grid[np.asarray(rows) - 1, np.asarray(cols) - 1] = values
    image = axes.imshow(
        grid, cmap="YlGn", norm=scale, origin="upper",
        extent=(0.5, shape[1] + 0.5, shape[0] + 0.5, 0.5),
    )  # fmt: skip
    if blocks is not None:
        _outline_blocks(axes, rows, cols, blocks)
    axes.set_xticks(range(1, shape[1] + 1))  # whole rows and columns, as in the book
    axes.set_yticks(range(1, shape[0] + 1))
    axes.set_xlabel("column")
    axes.set_ylabel("row")
    return image


def _outline_blocks(
    axes: object, rows: Sequence[int], cols: Sequence[int], blocks: Sequence[str]
) -> None:
    """Draw each block's bounding rectangle (blocks are contiguous on a field)."""
    for block in dict.fromkeys(blocks):
        members = [i for i, b in enumerate(blocks) if b == block]
        top, bottom = min(rows[i] for i in members), max(rows[i] for i in members)
        left, right = min(cols[i] for i in members), max(cols[i] for i in members)
        rectangle = Rectangle(
            (left - 0.5, top - 0.5),
            right - left + 1,
            bottom - top + 1,
            fill=False,
            linewidth=2,
            edgecolor="black",
        )
        axes.add_patch(rectangle)  # type: ignore[attr-defined]
        axes.annotate(str(block), (left - 0.4, top - 0.3), fontsize=8, va="top")  # type: ignore[attr-defined]
