"""A trial's dashboard as data: field map, analysis in one line and in full, observations.

Pure: it takes what the store returns and gives what the pages and the JSON API show, so
a page and `/api/trials/{id}/analysis` always agree.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from matplotlib.figure import Figure

from trials import TrialError
from trials.analysis import AnovaResult, AnovaRow, Observations, anova_crd, anova_rcbd, compare
from trials.figures import field_map, means_plot, to_svg
from trials.site_effects import combined_anova
from trials.store import PlotOut, TidyRow

FACTOR = "treatment"
BLOCK = "block"
SITE = "site"


@dataclass(frozen=True)
class MeanLine:
    treatment: str
    mean: float
    se: float
    n: int
    letters: str
    percent_of_control: float | None


@dataclass(frozen=True)
class Analysis:
    """One variable analysed as its design asks (blocks: RCBD, else completely random).

    On several sites `design` is prefixed "multisite " and the model is the combined one
    with fixed sites (blocks within sites, site x treatment): a block number means a
    different piece of land at each site, and the treatment line and the means are then
    those of the forest plot's pooled rows.
    """

    variable: str
    design: str
    f: float | None
    p: float | None
    cv_percent: float
    residual_sd: float
    lsd: float | None
    table: list[AnovaRow]
    means: list[MeanLine]
    control: str | None


@dataclass(frozen=True)
class Dashboard:
    variables: list[str]
    variable: str | None
    rows: list[TidyRow]
    analysis: Analysis | None
    problem: str | None = None
    numeric_by_plot: dict[int, float] = field(default_factory=dict)


def numeric_variables(rows: Sequence[TidyRow]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        if isinstance(row.value, int | float) and not isinstance(row.value, bool):
            names.setdefault(row.variable)
    return list(names)


def dashboard(plots: Sequence[PlotOut], rows: Sequence[TidyRow], variable: str | None) -> Dashboard:
    """The dashboard of `variable` (default: the first numeric one)."""
    variables = numeric_variables(rows)
    chosen = variable if variable in variables else (variables[0] if variables else None)
    if chosen is None:
        return Dashboard(variables, None, list(rows), None)
    latest = _latest_per_plot(rows, chosen)
    try:
        analysis = analyse(plots, latest, chosen)
        problem = None
    except TrialError as error:
        analysis, problem = None, str(error)
    return Dashboard(variables, chosen, list(rows), analysis, problem, latest)


def analyse(plots: Sequence[PlotOut], values: dict[int, float], variable: str) -> Analysis:
    """ANOVA, LSD, Tukey letters and % of control of the plots' values."""
    measured = [p for p in plots if p.plot in values]
    if len({p.treatment for p in measured}) < 2 or len(measured) < 3:
        raise TrialError(f"not enough observations of {variable!r} to analyse")
    observations = plot_observations(plots, values, variable)
    result, design = _anova(observations)
    line = result.row(FACTOR)
    tukey = compare(result, FACTOR, "tukey")
    lsd = compare(result, FACTOR, "lsd").critical_difference
    letters = {group.level: group.letters for group in tukey.groups}
    control = next((p.treatment for p in measured if p.check), None)
    means = result.means(FACTOR)
    control_mean = next((m.mean for m in means if m.level == control), None)
    return Analysis(
        variable=variable,
        design=design,
        f=line.f,
        p=line.p,
        cv_percent=result.cv_percent,
        residual_sd=result.residual_sd,
        lsd=lsd,
        table=list(result.table),
        means=[
            MeanLine(
                m.level,
                m.mean,
                m.se,
                m.n,
                letters.get(m.level, ""),
                None if not control_mean else 100.0 * m.mean / control_mean,
            )
            for m in sorted(means, key=lambda m: -m.mean)
        ],
        control=control,
    )


def field_map_svg(plots: Sequence[PlotOut], values: dict[int, float]) -> str | None:
    """The values over the field grid, blocks outlined, a panel per site; None when plots
    have no grid."""
    figure = field_map_figure(plots, values)
    return None if figure is None else to_svg(figure)


def field_map_figure(plots: Sequence[PlotOut], values: dict[int, float]) -> Figure | None:
    """The field map figure (for SVG or PNG); None when no measured plot has a grid place."""
    placed = [p for p in plots if p.row is not None and p.col is not None and p.plot in values]
    if not placed:
        return None
    return field_map(
        [p.row for p in placed if p.row is not None],
        [p.col for p in placed if p.col is not None],
        [values[p.plot] for p in placed],
        [str(p.block) for p in placed] if all(p.block is not None for p in placed) else None,
        [p.site or "" for p in placed],  # sites share row numbers: one panel each
    )


def means_figure(
    plots: Sequence[PlotOut], values: dict[int, float], variable: str, kind: str
) -> bytes:
    """The means with Tukey letters as SVG or PNG bytes."""
    result, _ = _anova(plot_observations(plots, values, variable))
    figure = means_plot(result, FACTOR, compare(result, FACTOR, "tukey"))
    return figure_bytes(figure, kind)


def plot_observations(
    plots: Sequence[PlotOut], values: dict[int, float], variable: str
) -> Observations:
    """The measured plots' values with their treatment, block and site.

    A block or site column is there only when every measured plot has one: plots without
    blocks are analysed as completely random, and `web.forest` reads the sites from here
    so that its per-site effects use the plots and blocks of this analysis.
    """
    measured = [p for p in plots if p.plot in values]
    labels: dict[str, Sequence[object]] = {FACTOR: [p.treatment for p in measured]}
    for name, column in ((BLOCK, [p.block for p in measured]), (SITE, [p.site for p in measured])):
        if all(label is not None for label in column):
            labels[name] = column
    return Observations.from_columns(
        [values[p.plot] for p in measured],
        response_name=variable,
        drop_missing=False,  # named, else mypy may take a label column for this flag
        **labels,
    )


def _anova(observations: Observations) -> tuple[AnovaResult, str]:
    """The ANOVA and the name of its design: RCBD with blocks, else CRD, and on several
    sites the combined fixed-site model, since block 1 at one site and block 1 at another
    are different land."""
    blocked = BLOCK in observations.labels
    design = "rcbd" if blocked else "crd"
    if SITE in observations.labels and len(set(observations.column(SITE))) > 1:
        block = BLOCK if blocked else None
        return combined_anova(observations, FACTOR, block, SITE), f"multisite {design}"
    if blocked:
        return anova_rcbd(observations, FACTOR, BLOCK), design
    return anova_crd(observations, FACTOR), design


def figure_bytes(figure: Figure, kind: str) -> bytes:
    """The figure as a download: SVG text ("svg") or a 100 dpi PNG (anything else).

    The PNG is cropped like the SVG ("tight"), else long tick labels fall off its edge.
    """
    if kind == "svg":
        return to_svg(figure).encode()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _latest_per_plot(rows: Sequence[TidyRow], variable: str) -> dict[int, float]:
    """Each plot's latest numeric value of the variable (rows come oldest first)."""
    latest: dict[int, float] = {}
    for row in rows:
        if row.variable == variable and isinstance(row.value, int | float):
            latest[row.plot] = float(row.value)
    return latest
