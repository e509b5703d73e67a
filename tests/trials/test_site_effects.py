"""Per-site differences from the control: checked by hand and against statsmodels' OLS."""

from __future__ import annotations

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest
import statsmodels.formula.api as smf
from matplotlib.patches import Polygon
from scipy import stats

from trials import TrialError
from trials.analysis import Observations
from trials.figures import effects_forest_plot, to_svg
from trials.site_effects import POOLED, SiteEffectsError, site_effects

SITES = ("Dijon", "Lyon", "Rennes")
TREATMENTS = ("T", "A", "B")


def tiny() -> Observations:
    """Two sites, two blocks, control T and A: small enough to check on paper."""
    return Observations.from_columns(
        [10, 12, 11, 14, 20, 26, 21, 27],
        treatment=["T", "A"] * 4,
        block=[1, 1, 2, 2] * 2,
        site=["x"] * 4 + ["y"] * 4,
    )


def network(interaction_mm: float, seed: int = 5) -> Observations:
    """Three sites x four blocks x three treatments; A gains `interaction_mm` per site."""
    rng = np.random.default_rng(seed)
    rows = [
        (site, block, treatment)
        for site in SITES
        for block in range(1, 5)
        for treatment in TREATMENTS
    ]
    response = [
        20.0
        + {"T": 0.0, "A": 5.0, "B": 9.0}[treatment]
        + (interaction_mm * SITES.index(site) if treatment == "A" else 0.0)
        + block
        + rng.normal(0.0, 1.0)
        for site, block, treatment in rows
    ]
    return Observations.from_columns(
        response,
        response_name="height",
        site=[r[0] for r in rows],
        block=[r[1] for r in rows],
        treatment=[r[2] for r in rows],
    )


def frame(obs: Observations) -> pd.DataFrame:
    return pd.DataFrame({"y": obs.response, **{name: obs.column(name) for name in obs.labels}})


def test_a_two_block_site_gives_the_paired_difference_and_its_t_interval() -> None:
    effects = site_effects(tiny(), "T")
    x, y = effects.rows
    # site x: A - T is 2 in block 1 and 3 in block 2, so 2.5 with SE 0.5 (sd 0.707 / sqrt 2)
    assert (x.site, x.treatment, x.difference, x.df) == ("x", "A", 2.5, 1)
    assert x.se == pytest.approx(0.5)
    assert (x.lower, x.upper) == pytest.approx((2.5 - 12.7062 * 0.5, 2.5 + 12.7062 * 0.5), abs=1e-4)
    # site y: 6 in both blocks, no noise at all
    assert (y.difference, y.se) == pytest.approx((6.0, 0.0))
    pooled = effects.pooled[0]
    assert (pooled.site, pooled.difference) == (POOLED, 4.25)
    # fixed sites: pooled plot error (0.25 + 0) / 2 df, SED sqrt(2 MSE / 4 plots)
    assert pooled.df == 2 and pooled.se == pytest.approx(np.sqrt(2 * 0.125 / 4))


def test_each_site_matches_an_ols_fit_of_that_site_alone() -> None:
    obs = network(interaction_mm=2.0)
    effects = site_effects(obs, "T")
    data = frame(obs)
    for row in effects.rows:
        fit = smf.ols(
            "y ~ C(block) + C(treatment, Treatment('T'))", data[data.site == row.site]
        ).fit()
        name = f"C(treatment, Treatment('T'))[T.{row.treatment}]"
        assert row.difference == pytest.approx(fit.params[name])
        assert row.se == pytest.approx(fit.bse[name])
        assert (row.lower, row.upper) == pytest.approx(tuple(fit.conf_int().loc[name]))
    assert [(r.treatment, r.site) for r in effects.rows] == [
        (treatment, site) for treatment in ("A", "B") for site in SITES
    ]


def test_the_pooled_row_is_the_mean_difference_with_the_combined_plot_error() -> None:
    obs = network(interaction_mm=2.0)
    effects = site_effects(obs, "T")
    full = smf.ols("y ~ C(site) + C(site):C(block) + C(treatment) * C(site)", frame(obs)).fit()
    for pooled in effects.pooled:
        per_site = [r.difference for r in effects.rows if r.treatment == pooled.treatment]
        se = np.sqrt(2 * full.mse_resid / 12)  # 3 sites x 4 blocks per treatment
        half = stats.t.ppf(0.975, full.df_resid) * se
        assert pooled.difference == pytest.approx(np.mean(per_site))
        assert (pooled.se, pooled.df) == pytest.approx((se, full.df_resid))
        assert (pooled.lower, pooled.upper) == pytest.approx(
            (pooled.difference - half, pooled.difference + half)
        )


def test_the_interaction_test_says_whether_the_sites_agree() -> None:
    assert site_effects(network(interaction_mm=0.0), "T").consistent is True
    disagree = site_effects(network(interaction_mm=4.0), "T")
    assert disagree.consistent is False and disagree.interaction_p is not None
    assert disagree.interaction_p < 0.001


def test_plots_without_blocks_are_compared_as_a_completely_random_design() -> None:
    obs = Observations.from_columns(
        [10, 11, 12, 14, 15, 17, 20, 22, 21, 30, 31, 29],
        treatment=["T", "T", "T", "A", "A", "A"] * 2,
        site=["x"] * 6 + ["y"] * 6,
    )
    effects = site_effects(obs, "T", block=None)
    samples = ([10, 11, 12, 14, 15, 17], [20, 22, 21, 30, 31, 29])
    for row, values in zip(effects.rows, samples, strict=True):
        test = stats.ttest_ind(values[3:], values[:3])  # pooled-variance t = CRD ANOVA
        interval = test.confidence_interval(0.95)
        assert (row.lower, row.upper) == pytest.approx((interval.low, interval.high))
    assert effects.pooled[0].difference == pytest.approx((13 / 3 + 9) / 2)


def test_one_site_no_control_or_a_site_without_it_is_a_clear_error() -> None:
    obs = network(interaction_mm=0.0)
    one_site = obs.subset(np.array(obs.column("site")) == "Lyon")
    with pytest.raises(SiteEffectsError, match="two sites"):
        site_effects(one_site, "T")
    with pytest.raises(SiteEffectsError, match="no control"):
        site_effects(obs, None)
    with pytest.raises(SiteEffectsError, match="'Z' is not a treatment"):
        site_effects(obs, "Z")
    sites, treatments = np.array(obs.column("site")), np.array(obs.column("treatment"))
    no_control_at_lyon = obs.subset((sites != "Lyon") | (treatments != "T"))
    with pytest.raises(SiteEffectsError, match="site Lyon has no plot of the control"):
        site_effects(no_control_at_lyon, "T")
    assert issubclass(SiteEffectsError, TrialError)


def test_a_site_that_cannot_be_analysed_is_named() -> None:
    obs = tiny()
    one_block_at_x = obs.subset(np.array([True, True, False, False] + [True] * 4))
    with pytest.raises(SiteEffectsError, match="site x: no residual degrees of freedom"):
        site_effects(one_block_at_x, "T")


def test_rows_are_tidy_per_site_then_pooled() -> None:
    rows = site_effects(tiny(), "T").to_rows()
    assert [row["site"] for row in rows] == ["x", "y", POOLED]
    assert set(rows[0]) == {"site", "treatment", "difference", "se", "df", "lower", "upper"}


def test_the_forest_plot_has_a_row_per_site_and_treatment_and_a_diamond_each() -> None:
    effects = site_effects(network(interaction_mm=2.0), "T")
    figure = effects_forest_plot(effects, "mm")
    axes = figure.axes[0]
    labels = [tick.get_text() for tick in axes.get_yticklabels()]
    assert labels == [f"{t}: {s}" for t in ("A", "B") for s in (*SITES, POOLED)]
    assert len([p for p in axes.patches if isinstance(p, Polygon)]) == 2
    assert axes.get_xlabel() == "height (mm), difference from T"
    zero = [line for line in axes.lines if np.allclose(np.asarray(line.get_xdata()), 0.0)]
    assert zero, "no vertical line at zero"
    assert "<svg" in to_svg(figure)
