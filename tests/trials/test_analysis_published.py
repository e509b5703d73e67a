"""Published tables reproduced to the precision their source prints."""

from __future__ import annotations

import pytest

from tests.trials.analysis_data import NPK, OATS, OATS_NITROGEN, SWEETPOTATO, WARPBREAKS
from trials.analysis import (
    AnovaResult,
    Observations,
    anova_crd,
    anova_factorial,
    anova_rcbd,
    anova_split_plot,
    compare,
)


def npk() -> Observations:
    rows = [line.split() for line in NPK.splitlines()]
    return Observations.from_columns(
        [row[4] for row in rows],
        response_name="yield",
        block=[row[0] for row in rows],
        N=[row[1] for row in rows],
        P=[row[2] for row in rows],
        K=[row[3] for row in rows],
    )


def oats() -> Observations:
    values, blocks, varieties, nitrogen = [], [], [], []
    for block, plots in OATS.items():
        for variety, yields in plots.items():
            values += yields
            blocks += [block] * 4
            varieties += [variety] * 4
            nitrogen += OATS_NITROGEN
    return Observations.from_columns(values, block=blocks, V=varieties, N=nitrogen)


def warpbreaks() -> Observations:
    values, wool, tension = [], [], []
    for (w, t), breaks in WARPBREAKS.items():
        values += breaks
        wool += [w] * len(breaks)
        tension += [t] * len(breaks)
    return Observations.from_columns(values, response_name="breaks", wool=wool, tension=tension)


def sweetpotato() -> AnovaResult:
    values = [v for plots in SWEETPOTATO.values() for v in plots]
    virus = [name for name, plots in SWEETPOTATO.items() for _ in plots]
    return anova_crd(Observations.from_columns(values, treatment=virus))


def summary(result: AnovaResult) -> dict[str, tuple[int, float, float | None]]:
    return {row.source: (row.df, row.ss, row.f) for row in result.table}


def test_npk_matches_r_aov_table_with_the_confounded_interaction_dropped() -> None:
    # summary(aov(yield ~ block + N * P * K, npk)): SS to 2 decimals, F to 3
    expected = {
        "block": (5, 343.29, 4.447),
        "N": (1, 189.28, 12.259),
        "P": (1, 8.40, 0.544),
        "K": (1, 95.20, 6.166),
        "N:P": (1, 21.28, 1.378),
        "N:K": (1, 33.14, 2.146),
        "P:K": (1, 0.48, 0.031),
        "residual": (12, 185.29, None),
    }
    result = anova_factorial(npk(), ["N", "P", "K"], block="block")
    got = summary(result)
    assert set(got) == set(expected)  # N:P:K has no df left once blocks are fitted
    for source, (df, ss, f) in expected.items():
        assert got[source][0] == df
        assert got[source][1] == pytest.approx(ss, abs=0.006)
        if f is not None:
            assert got[source][2] == pytest.approx(f, abs=0.0006)
    assert result.row("N").p == pytest.approx(0.00437, abs=5e-6)
    assert not result.orthogonal


def test_oats_split_plot_strata_match_yates() -> None:
    # summary(aov(Y ~ N * V + Error(B / V), oats)), MASS: SS to units, F to 3 decimals
    result = anova_split_plot(oats(), main="V", sub="N")
    got = summary(result)
    assert got["block"][:2] == (5, pytest.approx(15875, abs=0.5))
    assert got["V"] == (2, pytest.approx(1786, abs=0.5), pytest.approx(1.485, abs=5e-4))
    assert got["block:V"][:2] == (10, pytest.approx(6013, abs=0.5))
    assert got["N"] == (3, pytest.approx(20020, abs=0.5), pytest.approx(37.686, abs=5e-4))
    assert got["V:N"] == (6, pytest.approx(322, abs=0.5), pytest.approx(0.303, abs=5e-4))
    assert got["residual"][:2] == (45, pytest.approx(7969, abs=0.5))
    assert result.row("V").p == pytest.approx(0.272, abs=5e-4)
    assert result.row("N").p == pytest.approx(2.46e-12, rel=2e-3)
    assert [row.stratum for row in result.table] == [
        "blocks", "main plots", "main plots", "sub plots", "sub plots", "sub plots"
    ]  # fmt: skip


def test_warpbreaks_two_way_factorial_matches_r() -> None:
    # summary(aov(breaks ~ wool * tension, warpbreaks)): SS to 1 decimal, p to 6
    result = anova_factorial(warpbreaks(), ["wool", "tension"])
    expected = {
        "wool": (450.7, 3.765, 0.058213),
        "tension": (2034.3, 8.498, 0.000693),
        "wool:tension": (1002.8, 4.189, 0.021044),
    }
    for source, (ss, f, p) in expected.items():
        row = result.row(source)
        assert (row.ss, row.f, row.p) == (
            pytest.approx(ss, abs=0.05),
            pytest.approx(f, abs=5e-4),
            pytest.approx(p, abs=5e-7),
        )
    assert result.row("residual").ss == pytest.approx(5745.1, abs=0.05)


def test_warpbreaks_tukey_hsd_matches_r_documentation_example() -> None:
    # TukeyHSD(aov(breaks ~ wool + tension), "tension"): diff and p adj to 7 decimals
    result = anova_rcbd(warpbreaks(), treatment="tension", block="wool")
    pairs = {(p.level_a, p.level_b): p for p in compare(result, "tension", "tukey").pairs}
    assert pairs["L", "M"].difference == pytest.approx(10.0, abs=5e-7)
    assert pairs["L", "M"].p == pytest.approx(0.0336262, abs=5e-7)
    assert pairs["H", "L"].difference == pytest.approx(-14.722222, abs=5e-7)
    assert pairs["H", "L"].p == pytest.approx(0.0011218, abs=5e-7)
    assert pairs["H", "M"].p == pytest.approx(0.4474210, abs=5e-7)


def test_sweetpotato_lsd_matches_agricolae() -> None:
    # LSD.test(model, "virus"): LSD 8.928965, p-values to 4 decimals, groups a a b c
    comparison = compare(sweetpotato(), "treatment", "lsd")
    assert comparison.critical_difference == pytest.approx(8.928965, abs=5e-7)
    assert [round(p.p, 4) for p in comparison.pairs] == [
        0.0176, 0.0151, 0.0121, 0.0003, 0.0003, 0.8873
    ]  # fmt: skip
    assert [(g.level, g.letters) for g in comparison.groups] == [
        ("oo", "a"), ("ff", "a"), ("cc", "b"), ("fc", "c")
    ]  # fmt: skip


def test_sweetpotato_hsd_matches_agricolae() -> None:
    # HSD.test: studentized range 4.52881, minimum significant difference 12.39967
    comparison = compare(sweetpotato(), "treatment", "tukey")
    assert comparison.critical_difference == pytest.approx(12.39967, abs=5e-6)
    assert [(g.level, g.letters) for g in comparison.groups] == [
        ("oo", "a"), ("ff", "ab"), ("cc", "bc"), ("fc", "c")
    ]  # fmt: skip


@pytest.mark.parametrize("method", ["snk", "duncan"])
def test_sweetpotato_range_tests_group_as_agricolae(method: str) -> None:
    comparison = compare(sweetpotato(), "treatment", method)  # type: ignore[arg-type]
    assert [g.letters for g in comparison.groups] == ["a", "a", "b", "c"]


def test_sweetpotato_cv_and_mean_square_as_agricolae() -> None:
    result = sweetpotato()
    assert result.row("residual").ms == pytest.approx(22.48917, abs=5e-6)
    assert result.cv_percent == pytest.approx(17.1666, abs=5e-5)
    assert result.grand_mean == pytest.approx(27.625, abs=5e-4)
