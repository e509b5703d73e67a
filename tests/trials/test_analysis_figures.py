"""The trial figures render, carry the letters and outline the blocks."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.patches import Rectangle

from trials import TrialError
from trials.analysis import Observations, anova_rcbd, compare, site_estimates
from trials.figures import field_map, forest_plot, interaction_plot, means_plot, to_svg


def rcbd() -> Observations:
    rng = np.random.default_rng(2)
    treatment = ["T0", "T1", "T2"] * 4
    block = [b for b in "ABCD" for _ in range(3)]
    y = rng.normal(10, 0.3, 12) + np.array([0, 3, 6] * 4)
    return Observations.from_columns(list(y), treatment=treatment, block=block)


def test_means_plot_writes_letters_into_the_svg() -> None:
    result = anova_rcbd(rcbd())
    comparison = compare(result, "treatment", "tukey")
    figure = means_plot(result, "treatment", comparison)
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert sorted(texts) == ["a", "b", "c"]
    assert to_svg(figure).lstrip().startswith("<?xml")


def test_interaction_and_forest_plots_draw_one_line_per_level() -> None:
    obs = rcbd()
    assert len(interaction_plot(obs, "block", "treatment").axes[0].lines) == 3
    sites = Observations.from_columns(
        list(obs.response) * 2,
        treatment=list(obs.column("treatment")) * 2,
        block=list(obs.column("block")) * 2,
        site=["north"] * 12 + ["south"] * 12,
    )
    figure = forest_plot(site_estimates(sites, site_effect="fixed"), "T1")
    axes = figure.axes[0]
    heights = dict(
        zip([t.get_text() for t in axes.get_yticklabels()], axes.get_yticks(), strict=True)
    )
    assert heights == {"north": 2, "south": 1, "combined": 0}  # combined at the bottom
    with pytest.raises(TrialError, match="no estimates"):
        forest_plot(site_estimates(sites, site_effect="fixed"), "T9")


def test_field_map_outlines_each_block() -> None:
    rows = [1, 1, 1, 2, 2, 2]
    cols = [1, 2, 3, 1, 2, 3]
    figure = field_map(rows, cols, [1.0, 2, 3, 4, 5, 6], blocks=["I"] * 3 + ["II"] * 3)
    outlines = [p for p in figure.axes[0].patches if isinstance(p, Rectangle)]
    assert [(r.get_x(), r.get_y(), r.get_width(), r.get_height()) for r in outlines] == [
        (0.5, 0.5, 3, 1),
        (0.5, 1.5, 3, 1),
    ]
    axes = figure.axes[0]
    assert list(axes.get_xticks()) == [1, 2, 3] and list(axes.get_yticks()) == [1, 2]
    with pytest.raises(TrialError, match="start at 1"):
        field_map([0], [1], [1.0])
