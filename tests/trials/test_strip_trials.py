"""Strip trials: each treatment strip against the control strips beside it."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import stats

import trials.strip_trials
from trials import TrialError
from trials.analysis import Observations
from trials.design import strip_trial
from trials.strip_trials import strip_trial_differences


def test_the_docstring_example_holds() -> None:
    assert doctest.testmod(trials.strip_trials).failed == 0


def test_a_designed_strip_trial_gives_a_paired_t_test_per_treatment() -> None:
    book = strip_trial("bare", ["mulch", "compost"], 4, seed=3)
    rng = np.random.default_rng(5)
    trend = {plot.plot: 0.3 * plot.col for plot in book.plots}  # the field improves along the row
    effect = {"bare": 0.0, "mulch": 2.0, "compost": 0.0}
    values = [10 + trend[p.plot] + effect[p.treatment] + rng.normal(0, 0.2) for p in book.plots]
    obs = Observations.from_columns(
        values,
        treatment=[p.treatment for p in book.plots],
        block=[p.block for p in book.plots],
        col=[p.col for p in book.plots],
    )
    rows = {row.treatment: row for row in strip_trial_differences(obs, control="bare")}
    assert set(rows) == {"mulch", "compost"} and rows["mulch"].strips == 4
    assert rows["mulch"].low < 2.0 < rows["mulch"].high and rows["mulch"].p < 0.001
    assert rows["compost"].low < 0.0 < rows["compost"].high  # the trend cancels out
    # the same as a paired t test of each strip against its neighbours' mean
    by_col = {p.col: (p.treatment, v) for p, v in zip(book.plots, values, strict=True)}
    strips, neighbours = [], []
    for col, (name, value) in sorted(by_col.items()):
        if name == "mulch":
            strips.append(value)
            neighbours.append((by_col[col - 1][1] + by_col[col + 1][1]) / 2)
    reference = stats.ttest_rel(strips, neighbours)
    assert rows["mulch"].t == pytest.approx(reference.statistic)
    assert rows["mulch"].p == pytest.approx(reference.pvalue)
    assert rows["mulch"].percent_of_control == pytest.approx(
        100 * np.mean(strips) / np.mean(neighbours)
    )


def test_a_treatment_strip_without_a_control_beside_it_is_refused() -> None:
    obs_one_rep = Observations.from_columns(
        [10, 12, 10], treatment=["C", "T", "C"], block=[1] * 3, col=[1, 2, 3]
    )
    with pytest.raises(TrialError, match="2 replicates"):
        strip_trial_differences(obs_one_rep, control="C")
    lonely = Observations.from_columns(
        [10, 12, 13, 10, 11, 14], treatment=list("CTTCTC"), block=[1, 1, 1, 2, 2, 2],
        col=[1, 2, 3, 1, 2, 3],
    )  # fmt: skip
    with pytest.raises(TrialError, match="has no control strip beside it"):
        strip_trial_differences(lonely, control="C")
    with pytest.raises(TrialError, match="control 'X' is not a treatment"):
        strip_trial_differences(lonely, control="X")
