"""The dashboard's "Per site" section: each treatment against the control at every site.

Pure like `web.dashboard`: from the plots (which carry their site) and the dashboard view
it estimates the per-site effects (`trials.site_effects`) and draws their forest plot as
SVG, once per data version since `web.cache` keeps the result with the dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trials import TrialError
from trials.figures import effects_forest_plot, to_svg
from trials.site_effects import SiteEffects, SiteEffectsError, site_effects
from trials.store import PlotOut
from web.dashboard import BLOCK, FACTOR, SITE, Dashboard, figure_bytes, plot_observations


@dataclass(frozen=True)
class PerSite:
    """The section of a trial on two sites or more: the effects and their SVG, or `problem`
    (e.g. no control marked) saying why they cannot be estimated."""

    unit: str
    effects: SiteEffects | None
    svg: str | None
    problem: str | None


def per_site(plots: Sequence[PlotOut], view: Dashboard) -> PerSite | None:
    """The section for the dashboard's variable; None on one site or with no analysis."""
    if len({p.site for p in plots}) < 2 or view.analysis is None or view.variable is None:
        return None
    unit = next((row.unit for row in view.rows if row.variable == view.variable), "")
    try:
        observations = plot_observations(plots, view.numeric_by_plot, view.variable)
        effects = site_effects(
            observations,
            view.analysis.control,
            treatment=FACTOR,
            block=BLOCK if BLOCK in observations.labels else None,  # as the dashboard's ANOVA
            site=SITE,
        )
    except TrialError as error:
        return PerSite(unit, None, None, str(error))
    return PerSite(unit, effects, to_svg(effects_forest_plot(effects, unit)), None)


def forest_bytes(section: PerSite | None, kind: str) -> bytes:
    """The forest plot download: the SVG the page shows, or a PNG drawn now.

    A trial on one site has none; SiteEffectsError says so (or why it cannot be drawn).
    """
    if section is None:
        raise SiteEffectsError("the per-site figure needs a trial on two sites or more")
    if section.effects is None:
        raise SiteEffectsError(str(section.problem))
    if kind == "svg" and section.svg is not None:
        return section.svg.encode()
    return figure_bytes(effects_forest_plot(section.effects, section.unit), kind)
