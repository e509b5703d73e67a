"""Behaviour of the ANOVA engine, the designs, mean separation and input checks."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from trials import TrialError
from trials import analysis as analysis_module
from trials.analysis import (
    Observations,
    anova_alpha_lattice,
    anova_augmented,
    anova_crd,
    anova_latin,
    anova_multisite,
    anova_rcbd,
    anova_split_plot,
    anova_strip_plot,
    compare,
    mixed_model,
    site_estimates,
)
from trials.comparisons import compare_means, sed_from_counts


def balanced(rng: np.random.Generator, **levels: int) -> tuple[Observations, dict[str, np.ndarray]]:
    """Every combination of the named factors once, with random responses."""
    grids = np.meshgrid(*[np.arange(k) for k in levels.values()], indexing="ij")
    codes = {name: grid.ravel() for name, grid in zip(levels, grids, strict=True)}
    y = rng.normal(50, 5, grids[0].size) + sum(codes.values())
    obs = Observations.from_columns(
        list(y), **{n: [f"{n}{c}" for c in v] for n, v in codes.items()}
    )
    return obs, codes


def cell_ss(y: np.ndarray, *codes: np.ndarray) -> float:
    """Between-cell SS computed by hand with explicit loops over cells."""
    keys = list(zip(*codes, strict=True))
    total = 0.0
    for key in set(keys):
        members = y[[k == key for k in keys]]
        total += len(members) * (members.mean() - y.mean()) ** 2
    return total


def test_split_plot_f_values_match_a_hand_computation() -> None:
    obs, c = balanced(np.random.default_rng(3), block=4, main=3, sub=5)
    y = obs.response
    ss_block, ss_main, ss_sub = cell_ss(y, c["block"]), cell_ss(y, c["main"]), cell_ss(y, c["sub"])
    ss_error_a = cell_ss(y, c["block"], c["main"]) - ss_block - ss_main
    ss_inter = cell_ss(y, c["main"], c["sub"]) - ss_main - ss_sub
    ss_error_b = ((y - y.mean()) ** 2).sum() - ss_block - ss_main - ss_error_a - ss_sub - ss_inter
    ms_a, ms_b = ss_error_a / 6, ss_error_b / 36
    result = anova_split_plot(obs, main="main", sub="sub")
    assert result.row("main").f == pytest.approx(ss_main / 2 / ms_a)
    assert result.row("sub").f == pytest.approx(ss_sub / 4 / ms_b)
    assert result.row("main:sub").f == pytest.approx(ss_inter / 8 / ms_b)
    assert result.row("block").f == pytest.approx(ss_block / 3 / ms_a)
    assert result.factors["main"].df_error == 6
    assert result.sed[0].sed == pytest.approx(np.sqrt(2 * ms_a / (4 * 5)))
    assert result.sed[2].sed == pytest.approx(np.sqrt(2 * ms_b / 4))


def test_strip_plot_has_three_error_terms() -> None:
    obs, c = balanced(np.random.default_rng(4), block=3, a=4, b=3)
    y = obs.response
    ss_block = cell_ss(y, c["block"])
    error_a = cell_ss(y, c["block"], c["a"]) - ss_block - cell_ss(y, c["a"])
    error_b = cell_ss(y, c["block"], c["b"]) - ss_block - cell_ss(y, c["b"])
    result = anova_strip_plot(obs, "a", "b")
    assert result.row("a").f == pytest.approx(cell_ss(y, c["a"]) / 3 / (error_a / 6))
    assert result.row("b").f == pytest.approx(cell_ss(y, c["b"]) / 2 / (error_b / 4))
    assert result.row("residual").df == 12
    assert result.row("block").f is None


def test_orthogonal_shortcut_equals_projections(monkeypatch: pytest.MonkeyPatch) -> None:
    obs, _ = balanced(np.random.default_rng(5), block=3, main=2, sub=4)
    fast = anova_split_plot(obs, "main", "sub")
    monkeypatch.setattr(analysis_module, "_is_orthogonal", lambda *_: False)
    slow = anova_split_plot(obs, "main", "sub")
    assert fast.orthogonal and not slow.orthogonal
    for a, b in zip(fast.table, slow.table, strict=True):
        assert (a.source, a.df) == (b.source, b.df)
        assert a.ss == pytest.approx(b.ss, rel=1e-9, abs=1e-9)


def test_missing_plot_in_rcbd_adjusts_treatments_for_blocks() -> None:
    import pandas as pd
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    obs, _ = balanced(np.random.default_rng(6), block=4, treatment=3)
    obs = obs.subset(np.arange(len(obs)) != 4)
    result = anova_rcbd(obs)
    frame = pd.DataFrame(
        {"y": obs.response, "b": obs.column("block"), "t": obs.column("treatment")}
    )
    reference = anova_lm(ols("y ~ C(b) + C(t)", frame).fit())
    assert not result.orthogonal
    assert result.row("treatment").f == pytest.approx(reference.loc["C(t)", "F"])
    fitted = ols("y ~ C(t) + C(b)", frame).fit()
    means = result.factors["treatment"].means
    assert means[1] - means[0] == pytest.approx(fitted.params["C(t)[T.treatment1]"])


def test_latin_square_matches_statsmodels() -> None:
    import pandas as pd
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    size = 5
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    treatment = (rows + 2 * cols) % size
    y = np.random.default_rng(7).normal(20, 2, size * size) + treatment.ravel()
    obs = Observations.from_columns(
        list(y), row=list(rows.ravel()), col=list(cols.ravel()), treatment=list(treatment.ravel())
    )
    result = anova_latin(obs)
    frame = pd.DataFrame({"y": y, "r": rows.ravel(), "c": cols.ravel(), "t": treatment.ravel()})
    reference = anova_lm(ols("y ~ C(r) + C(c) + C(t)", frame).fit())
    assert result.row("treatment").f == pytest.approx(reference.loc["C(t)", "F"])
    assert result.row("residual").df == 12


def test_alpha_lattice_blocks_restart_in_each_replicate() -> None:
    import pandas as pd
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    # 6 treatments, 2 replicates of 3 incomplete blocks of 2; labels 1..3 reused per rep
    layout = {1: [(0, 1), (2, 3), (4, 5)], 2: [(0, 2), (1, 4), (3, 5)], 3: [(0, 3), (1, 5), (2, 4)]}
    rep, block, treatment = [], [], []
    for r, blocks in layout.items():
        for b, pair in enumerate(blocks, start=1):
            rep += [r, r]
            block += [b, b]
            treatment += [f"g{t}" for t in pair]
    y = np.random.default_rng(8).normal(10, 1, len(rep)) + np.array(block)
    result = anova_alpha_lattice(
        Observations.from_columns(list(y), rep=rep, block=block, treatment=treatment)
    )
    frame = pd.DataFrame(
        {
            "y": y,
            "r": rep,
            "b": [f"{r}-{b}" for r, b in zip(rep, block, strict=True)],
            "t": treatment,
        }
    )
    # blocks labelled within replicates (rep "1-2") already contain the rep effect; adding
    # C(r) too makes the matrix rank-deficient and anova_lm's type I table goes wrong
    fit = ols("y ~ C(b) + C(t)", frame).fit()
    assert result.row("treatment").f == pytest.approx(anova_lm(fit).loc["C(t)", "F"])
    assert result.row("rep:block").df == 6
    means = result.factors["treatment"].means
    assert means[3] - means[0] == pytest.approx(fit.params["C(t)[T.g3]"])
    assert result.means("treatment")[0].se > 0


def test_augmented_entries_are_adjusted_by_the_checks_block_effect() -> None:
    checks = ["A", "B"]
    block, treatment, y = [], [], []
    check_values = {1: (10.0, 12.0), 2: (14.0, 16.0)}
    entries = {1: [("e1", 20.0), ("e2", 22.0)], 2: [("e3", 25.0)]}
    for b in (1, 2):
        for name, value in zip(checks, check_values[b], strict=True):
            block.append(b)
            treatment.append(name)
            y.append(value)
        for name, value in entries[b]:
            block.append(b)
            treatment.append(name)
            y.append(value)
    result = anova_augmented(Observations.from_columns(y, block=block, treatment=treatment), checks)
    means = dict(
        zip(result.factors["treatment"].levels, result.factors["treatment"].means, strict=True)
    )
    # block 2's checks are 4 above block 1's, so entries differ from raw values by -/+2,
    # shifted by the unequal block sizes (4 and 3 plots) in the average block effect
    assert means["e3"] - means["e1"] == pytest.approx(25.0 - 4.0 - 20.0)
    assert means["A"] == pytest.approx(12.0 + 4.0 * (3 / 7 - 1 / 2))
    with pytest.raises(TrialError, match="checks"):
        anova_augmented(Observations.from_columns(y, block=block, treatment=treatment), ["Z"])


def test_tukey_matches_statsmodels_on_balanced_and_unbalanced_crd() -> None:
    from statsmodels.stats.multicomp import pairwise_tukeyhsd

    rng = np.random.default_rng(9)
    for sizes in ((6, 6, 6, 6), (4, 7, 5, 9)):
        labels = [f"t{i}" for i, n in enumerate(sizes) for _ in range(n)]
        y = rng.normal(0, 1, len(labels)) + np.array([int(label[1]) * 0.6 for label in labels])
        ours = compare(anova_crd(Observations.from_columns(list(y), treatment=labels)), "treatment")
        reference = pairwise_tukeyhsd(y, labels)
        assert [p.p for p in ours.pairs] == pytest.approx(list(reference.pvalues), abs=1e-6)
        assert [-p.difference for p in ours.pairs] == pytest.approx(list(reference.meandiffs))


def test_dunnett_matches_scipy_on_a_crd() -> None:
    rng = np.random.default_rng(1)
    groups = {"ctl": rng.normal(10, 2, 5), "a": rng.normal(12, 2, 5), "b": rng.normal(13, 2, 7)}
    labels = [name for name, values in groups.items() for _ in values]
    y = np.concatenate(list(groups.values()))
    result = anova_crd(Observations.from_columns(list(y), treatment=labels))
    ours = compare(result, "treatment", "dunnett", control="ctl")
    reference = stats.dunnett(groups["a"], groups["b"], control=groups["ctl"])
    by_level = {p.level_a: p for p in ours.pairs}
    assert by_level["a"].statistic == pytest.approx(reference.statistic[0])
    assert by_level["b"].p == pytest.approx(reference.pvalue[1], abs=2e-3)
    assert by_level["a"].p == pytest.approx(reference.pvalue[0], abs=2e-3)
    assert {g.level: round(g.percent_of_control or 0, 6) for g in ours.groups}["ctl"] == 100


def test_holm_and_bonferroni_match_statsmodels_multipletests() -> None:
    from statsmodels.stats.multitest import multipletests

    obs, _ = balanced(np.random.default_rng(10), block=3, treatment=5)
    result = anova_rcbd(obs)
    raw = [p.p for p in compare(result, "treatment", "lsd").pairs]
    for method in ("holm", "bonferroni"):
        adjusted = [p.p for p in compare(result, "treatment", method).pairs]
        assert adjusted == pytest.approx(list(multipletests(raw, method=method)[1]))


def test_letters_give_the_highest_mean_a_and_separate_clear_differences() -> None:
    obs = Observations.from_columns(
        [1.0, 1.1, 5.0, 5.1, 9.0, 9.1], treatment=["low", "low", "mid", "mid", "top", "top"]
    )
    groups = compare(anova_crd(obs), "treatment", "lsd").groups
    assert [(g.level, g.letters) for g in groups] == [("top", "a"), ("mid", "b"), ("low", "c")]


def test_multisite_random_sites_test_treatment_against_the_interaction() -> None:
    obs, _ = balanced(np.random.default_rng(11), site=4, block=3, treatment=5)
    fixed = anova_multisite(obs, site_effect="fixed")
    random = anova_multisite(obs, site_effect="random")
    interaction = random.row("site:treatment")
    assert random.row("treatment").f == pytest.approx(random.row("treatment").ms / interaction.ms)
    assert fixed.row("treatment").f == pytest.approx(
        fixed.row("treatment").ms / fixed.row("residual").ms
    )
    assert random.factors["treatment"].df_error == interaction.df == 12
    assert random.row("site").f == pytest.approx(
        random.row("site").ms / random.row("site:block").ms
    )
    with pytest.raises(TrialError, match="site_effect"):
        anova_multisite(obs, site_effect="sometimes")  # type: ignore[arg-type]


def test_site_estimates_cover_each_site_and_the_combined_mean() -> None:
    obs, _ = balanced(np.random.default_rng(12), site=3, block=3, treatment=2)
    rows = site_estimates(obs, site_effect="random")
    assert [r.site for r in rows] == ["site0"] * 2 + ["site1"] * 2 + ["site2"] * 2 + [
        "combined"
    ] * 2
    combined = rows[-1]
    assert combined.mean == pytest.approx(obs.response[obs.codes("treatment")[0] == 1].mean())
    assert combined.lower < combined.mean < combined.upper
    assert combined.df == 2


def test_mixed_model_keeps_the_site_intercept_and_recovers_means() -> None:
    obs, codes = balanced(np.random.default_rng(13), site=4, block=2, treatment=3)
    fit = mixed_model(obs)
    assert {"site", "site:block", "site:treatment", "residual"} <= set(fit.variance_components)
    raw = [obs.response[codes["treatment"] == t].mean() for t in range(3)]
    assert [row.mean for row in fit.estimates] == pytest.approx(raw, rel=1e-6)
    assert all(row.lower < row.mean < row.upper for row in fit.estimates)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"response": [1.0, "abc"], "treatment": ["a", "b"]}, "row 2"),
        ({"response": [1.0, None], "treatment": ["a", "b"]}, "drop_missing"),
        ({"response": [1.0, 2.0], "treatment": ["a"]}, "2 rows"),
        ({"response": [1.0, 2.0], "treatment": ["a", None]}, "row 2: treatment is missing"),
        ({"response": [1.0, True], "treatment": ["a", "b"]}, "not a number"),
        ({"response": [], "treatment": []}, "no observations"),
    ],
)
def test_bad_input_raises_trial_error_naming_the_problem(
    columns: dict[str, list[object]], message: str
) -> None:
    response = columns.pop("response")
    with pytest.raises(TrialError, match=message):
        Observations.from_columns(response, **columns)


def test_missing_values_can_be_dropped_and_records_are_checked() -> None:
    obs = Observations.from_columns(
        [1.0, float("nan"), "2,5"], drop_missing=True, treatment=["a", "b", "c"]
    )
    assert obs.response.tolist() == [1.0, 2.5]
    assert obs.column("treatment") == ("a", "c")
    with pytest.raises(TrialError, match="record 2 has no"):
        Observations.from_records([{"y": 1, "t": "a"}, {"y": 2}], "y", ["t"])


def test_analysis_refuses_designs_it_cannot_estimate() -> None:
    one_each = Observations.from_columns([1.0, 2.0, 3.0], treatment=["a", "b", "c"])
    with pytest.raises(TrialError, match="no residual degrees of freedom"):
        anova_crd(one_each)
    with pytest.raises(TrialError, match="no column 'block'"):
        anova_rcbd(one_each)
    not_latin = Observations.from_columns(
        [1.0, 2, 3, 4], treatment=list("abab"), row=[1, 1, 2, 2], col=[1, 2, 1, 2]
    )
    with pytest.raises(TrialError, match="twice in one col"):
        anova_latin(not_latin)
    with pytest.raises(TrialError, match="confounded"):
        anova_rcbd(not_latin, block="col")
    result = anova_crd(Observations.from_columns([1.0, 2.0, 3.0, 4.5], treatment=list("aabb")))
    with pytest.raises(TrialError, match="unknown comparison method"):
        compare(result, "treatment", "scheffe")  # type: ignore[arg-type]
    with pytest.raises(TrialError, match="control"):
        compare(result, "treatment", "dunnett")
    with pytest.raises(TrialError, match="no treatment factor"):
        compare(result, "variety")


@pytest.mark.parametrize("method", ["tukey", "lsd", "snk", "holm"])
def test_means_with_no_residual_variation_compare_without_warnings(method: str) -> None:
    sed = sed_from_counts(0.0, [3, 3, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        comparison = compare_means(["a", "b", "c"], [0.0, 0.0, 5.0], sed, 4, method)
    by_pair = {(pair.level_a, pair.level_b): pair for pair in comparison.pairs}
    assert by_pair[("a", "b")].statistic == 0.0 and by_pair[("a", "b")].p == pytest.approx(1.0)
    assert math.isinf(by_pair[("a", "c")].statistic) and by_pair[("a", "c")].p == 0.0
    assert by_pair[("a", "c")].significant and not by_pair[("a", "b")].significant
