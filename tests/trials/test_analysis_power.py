"""Power and replicate planning, and the docstring examples of the analysis modules."""

from __future__ import annotations

import doctest

import pytest

import trials.analysis
import trials.comparisons
import trials.figures
from trials import TrialError
from trials.comparisons import design_power, replicates_for_power


def test_two_treatment_crd_power_equals_the_two_sample_t_test() -> None:
    from statsmodels.stats.power import TTestIndPower

    reference = TTestIndPower().power(effect_size=1.2, nobs1=8, alpha=0.05)
    assert design_power(2, 8, 1.2, 1.0, design="crd") == pytest.approx(reference, abs=1e-4)


def test_replicates_are_the_smallest_reaching_the_target_power() -> None:
    plan = replicates_for_power(6, 10.0, cv_percent=12, grand_mean=60.0, power=0.9)
    assert plan.error_sd == pytest.approx(7.2)
    assert plan.power >= 0.9
    below = design_power(6, plan.replicates - 1, 10.0, 7.2, design="rcbd")
    assert below < 0.9
    assert replicates_for_power(6, 10.0, error_sd=7.2, design="crd").replicates <= plan.replicates


def test_power_planning_refuses_incomplete_inputs() -> None:
    with pytest.raises(TrialError, match="cv_percent together with grand_mean"):
        replicates_for_power(4, 1.0, cv_percent=10)
    with pytest.raises(TrialError, match="do not reach power"):
        replicates_for_power(4, 0.01, error_sd=10.0, max_replicates=5)
    with pytest.raises(TrialError, match="'crd' or 'rcbd'"):
        design_power(4, 3, 1.0, 1.0, design="latin")  # type: ignore[arg-type]


@pytest.mark.parametrize("module", [trials.analysis, trials.comparisons, trials.figures])
def test_docstring_examples_run(module: object) -> None:
    outcome = doctest.testmod(module)  # type: ignore[arg-type]
    assert outcome.attempted > 0
    assert outcome.failed == 0


@pytest.mark.parametrize(("df", "k"), [(5, 3), (8, 4), (48, 10), (300, 50), (5000, 2)])
def test_fast_studentized_range_agrees_with_scipy(df: float, k: int) -> None:
    import numpy as np
    from scipy import stats

    from trials.comparisons import range_cdf, range_quantile

    q = np.array([0.5, 2.0, 3.5, 5.0, 7.0])
    ours = range_cdf(q, np.full(len(q), k), df)
    assert ours == pytest.approx(stats.studentized_range.cdf(q, k, df), abs=2e-7)
    if df < 1000:
        assert range_quantile(0.95, k, df) == pytest.approx(
            stats.studentized_range.ppf(0.95, k, df), abs=1e-6
        )
