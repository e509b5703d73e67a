"""The dashboard of a trial on two sites: a field-map panel per site, since both sites number
their rows and blocks from 1, and the combined ANOVA with blocks nested in sites; a trial
on one site keeps its single map and its RCBD."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from tests.web.conftest import Seeded
from tests.web.test_forest import two_site_trial
from trials.analysis import (
    Observations,
    anova_factorial,
    anova_multisite,
    anova_rcbd,
    compare,
)
from trials.store import PlotOut
from web.app import create_app
from web.cache import DrawnDashboard
from web.dashboard import Analysis, dashboard, field_map_figure
from web.deps import Services

SITES = ["Lyon", "Rennes"]


@pytest.fixture
def services(seeded: Seeded) -> Services:
    services: Services = create_app(seeded.url).state.services
    return services


@pytest.fixture
def two_sites(services: Services) -> int:
    """The id of an RCBD (3 varieties x 3 blocks) laid at Lyon and again at Rennes."""
    return two_site_trial(services.trials, "Réseau blé 2026", ["Témoin"])


def analysed(drawn: DrawnDashboard) -> Analysis:
    assert drawn.view.analysis is not None, drawn.view.problem
    return drawn.view.analysis


def measured(plots: Sequence[PlotOut], values: dict[int, float], *labels: str) -> Observations:
    """The yields labelled by the named plot fields, built here apart from `web.dashboard`."""
    chosen = [p for p in plots if p.plot in values]
    return Observations.from_columns(
        [values[p.plot] for p in chosen],
        **{name: [getattr(p, name) for p in chosen] for name in labels},
    )


def map_panels(plots: Sequence[PlotOut], values: dict[int, float]) -> list[Axes]:
    """The field map's heat-map axes (the colour bar has no image)."""
    figure = field_map_figure(plots, values)
    assert figure is not None
    return [axes for axes in figure.axes if axes.images]


def test_the_field_map_of_two_sites_draws_each_site_in_its_own_panel(
    services: Services, two_sites: int
) -> None:
    drawn = services.dashboards.get(two_sites, "yield")
    values = drawn.view.numeric_by_plot
    panels = map_panels(drawn.plots, values)
    assert [axes.get_title() for axes in panels] == SITES
    for axes, site in zip(panels, SITES, strict=True):
        image = axes.images[0]
        grid = np.ma.getdata(image.get_array()).astype(float)
        at_site = [values[p.plot] for p in drawn.plots if p.site == site]
        assert sorted(grid[~np.isnan(grid)]) == pytest.approx(sorted(at_site))
        assert (image.norm.vmin, image.norm.vmax) == (min(values.values()), max(values.values()))
        assert sum(isinstance(patch, Rectangle) for patch in axes.patches) == 3  # its blocks
    svg = drawn.field_map_svg
    assert svg is not None and svg.count("<image") == 3  # a heat map per site, one colour bar
    assert all(f"<!-- {site} -->" in svg for site in SITES)


def test_the_analysis_of_two_sites_nests_blocks_in_sites(
    services: Services, two_sites: int
) -> None:
    drawn = services.dashboards.get(two_sites, "yield")
    analysis = analysed(drawn)
    values = drawn.view.numeric_by_plot
    expected = anova_multisite(
        measured(drawn.plots, values, "treatment", "block", "site"), site_effect="fixed"
    )
    assert analysis.design == "multisite rcbd"
    assert [row.source for row in analysis.table] == [
        "site", "site:block", "treatment", "site:treatment", "residual",
    ]  # fmt: skip
    assert analysis.table == list(expected.table)
    treatment = expected.row("treatment")
    assert (analysis.f, analysis.p) == pytest.approx((treatment.f, treatment.p))
    assert analysis.p is not None and analysis.p < 0.05  # the page says "unlikely to be chance"
    assert analysis.residual_sd == pytest.approx(expected.residual_sd)
    assert analysis.cv_percent == pytest.approx(expected.cv_percent)
    assert analysis.lsd == pytest.approx(compare(expected, "treatment", "lsd").critical_difference)
    means = {line.treatment: line for line in analysis.means}
    for row in expected.means("treatment"):
        line = means[row.level]
        assert (line.mean, line.se, line.n) == (pytest.approx(row.mean), pytest.approx(row.se), 6)
    assert drawn.per_site is not None and drawn.per_site.effects is not None
    for pooled in drawn.per_site.effects.pooled:  # the forest plot's diamonds, same model
        difference = means[pooled.treatment].mean - means["Témoin"].mean
        assert pooled.difference == pytest.approx(difference)


def test_two_sites_without_blocks_are_analysed_as_site_by_treatment(
    services: Services, two_sites: int
) -> None:
    drawn = services.dashboards.get(two_sites, "yield")
    plots = [p.model_copy(update={"block": None}) for p in drawn.plots]
    view = dashboard(plots, services.trials.tidy_observations(two_sites), "yield")
    assert view.analysis is not None, view.problem
    expected = anova_factorial(
        measured(plots, view.numeric_by_plot, "treatment", "site"), ["site", "treatment"]
    )
    assert view.analysis.design == "multisite crd"
    assert [row.source for row in view.analysis.table] == [
        "site", "treatment", "site:treatment", "residual",
    ]  # fmt: skip
    assert view.analysis.f == pytest.approx(expected.row("treatment").f)


def test_a_trial_on_one_site_keeps_its_rcbd_and_its_single_map(
    services: Services, seeded: Seeded
) -> None:
    drawn = services.dashboards.get(seeded.trial_id, "height")
    analysis = analysed(drawn)
    values = drawn.view.numeric_by_plot
    expected = anova_rcbd(measured(drawn.plots, values, "treatment", "block"))
    assert analysis.design == "rcbd" and analysis.table == list(expected.table)
    assert analysis.f == pytest.approx(expected.row("treatment").f)
    panels = map_panels(drawn.plots, values)
    assert len(panels) == 1 and panels[0].get_title() == ""
    assert drawn.field_map_svg is not None and drawn.field_map_svg.count("<image") == 2
