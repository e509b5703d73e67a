"""Mean separation and planning: pure functions on means, their SEDs and an error term.

Everything here works from treatment means, the matrix of standard errors of differences
(SED) between them and the error degrees of freedom, never from raw data: the same code
then serves a CRD, the main plots of a split-plot (error a) and the adjusted means of an
alpha design (where SEDs differ between pairs). `trials.analysis.compare` feeds it.

Critical values follow agricolae: LSD uses Student's t, Tukey (Tukey-Kramer when SEDs
differ), Student-Newman-Keuls and Duncan use the studentized range, Duncan with protection
level (1 - alpha)^(p - 1) for a range of p means; Dunnett uses the multivariate t.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from trials import TrialError

Method = Literal["lsd", "tukey", "snk", "duncan", "dunnett", "bonferroni", "holm"]
METHODS: tuple[Method, ...] = ("lsd", "tukey", "snk", "duncan", "dunnett", "bonferroni", "holm")
_DUNNETT_SEED = 20240601  # the multivariate t integral is quasi-Monte Carlo: fix it


@dataclass(frozen=True)
class PairRow:
    """One pairwise comparison: `difference` is mean(a) - mean(b)."""

    level_a: str
    level_b: str
    difference: float
    sed: float
    statistic: float
    p: float
    significant: bool


@dataclass(frozen=True)
class GroupRow:
    """One treatment in the letter display (agricolae's `groups` table)."""

    level: str
    mean: float
    letters: str
    percent_of_control: float | None


@dataclass(frozen=True)
class Comparison:
    """Result of a mean separation; `groups` is sorted by decreasing mean."""

    method: Method
    alpha: float
    df_error: float
    critical_difference: float | None
    pairs: tuple[PairRow, ...]
    groups: tuple[GroupRow, ...]

    def to_rows(self) -> list[dict[str, object]]:
        """The letter table as plain dicts, one per treatment."""
        return [asdict(row) for row in self.groups]

    def pair_rows(self) -> list[dict[str, object]]:
        """The pairwise table as plain dicts, one per pair."""
        return [asdict(row) for row in self.pairs]


def sed_from_counts(ms_error: float, counts: ArrayLike) -> NDArray[np.float64]:
    """SED matrix sqrt(MSE (1/n_i + 1/n_j)) of raw means with `counts` observations each."""
    inverse = 1.0 / np.asarray(counts, dtype=float)
    sed = np.sqrt(ms_error * (inverse[:, None] + inverse[None, :]))
    np.fill_diagonal(sed, 0.0)
    return sed


def compare_means(
    levels: Sequence[str],
    means: ArrayLike,
    sed: NDArray[np.float64],
    df_error: float,
    method: Method = "tukey",
    *,
    alpha: float = 0.05,
    control: str | None = None,
) -> Comparison:
    """Separate treatment means by `method` and label them with letters.

    Example (agricolae's sweetpotato data, MSE 22.48 on 8 df, 3 plots per virus):

    >>> sed = sed_from_counts(22.48, [3, 3, 3, 3])
    >>> c = compare_means(["cc", "fc", "ff", "oo"], [24.4, 12.867, 36.333, 36.9], sed, 8, "lsd")
    >>> [(g.level, g.letters) for g in c.groups]
    [('oo', 'a'), ('ff', 'a'), ('cc', 'b'), ('fc', 'c')]
    """
    mean_array = np.asarray(means, dtype=float)
    _check_inputs(levels, mean_array, sed, df_error, method, alpha, control)
    if method == "dunnett":
        assert control is not None
        pairs = _dunnett_pairs(levels, mean_array, sed, df_error, alpha, control)
        letters = [""] * len(levels)
    else:
        pairs = _all_pairs(levels, mean_array, sed, df_error, method, alpha)
        letters = compact_letters(levels, mean_array, pairs)
    return Comparison(
        method=method,
        alpha=alpha,
        df_error=df_error,
        critical_difference=_critical_difference(len(levels), sed, df_error, method, alpha),
        pairs=tuple(pairs),
        groups=_groups(levels, mean_array, letters, control),
    )


def _check_inputs(
    levels: Sequence[str],
    means: NDArray[np.float64],
    sed: NDArray[np.float64],
    df_error: float,
    method: str,
    alpha: float,
    control: str | None,
) -> None:
    if method not in METHODS:
        raise TrialError(f"unknown comparison method {method!r}; choose one of {METHODS}")
    if len(levels) < 2 or len(levels) != len(means):
        raise TrialError(f"need at least two treatment means, got {len(means)}")
    if sed.shape != (len(levels), len(levels)):
        raise TrialError(f"SED matrix has shape {sed.shape}, expected {len(levels)} square")
    if not 0 < alpha < 1:
        raise TrialError(f"alpha must lie between 0 and 1, got {alpha}")
    if not df_error > 0:
        raise TrialError("no error degrees of freedom: add replicates to compare means")
    if method == "dunnett" and control not in levels:
        raise TrialError(f"Dunnett needs control= one of the treatments {list(levels)}")
    if control is not None and control not in levels:
        raise TrialError(f"control {control!r} is not a treatment; treatments: {list(levels)}")


def _all_pairs(
    levels: Sequence[str],
    means: NDArray[np.float64],
    sed: NDArray[np.float64],
    df_error: float,
    method: Method,
    alpha: float,
) -> list[PairRow]:
    first, second = np.triu_indices(len(levels), k=1)
    difference = means[first] - means[second]
    pair_sed = sed[first, second]
    t_value = _t_values(difference, pair_sed)
    p = _pair_p_values(np.abs(t_value), _range_spans(means, first, second), df_error, method)
    p = np.minimum(p, 1.0)
    return [
        PairRow(levels[i], levels[j], float(d), float(s), float(t), float(pv), bool(pv < alpha))
        for i, j, d, s, t, pv in zip(first, second, difference, pair_sed, t_value, p, strict=True)
    ]


def _t_values(difference: NDArray[np.float64], sed: NDArray[np.float64]) -> NDArray[np.float64]:
    """difference / SED; with no residual variation (SED 0, e.g. a simulated trial whose
    plots all yielded nothing) equal means give t = 0 (p = 1), different ones t = +-inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = difference / sed
    return np.where(sed > 0, ratio, np.where(difference == 0, 0.0, np.copysign(np.inf, difference)))


def _range_spans(
    means: NDArray[np.float64], first: NDArray[np.intp], second: NDArray[np.intp]
) -> NDArray[np.intp]:
    """How many ordered means lie between (and including) each pair: the 'p' of SNK/Duncan."""
    rank = np.empty(len(means), dtype=np.intp)
    rank[np.argsort(-means, kind="stable")] = np.arange(len(means))
    return np.asarray(np.abs(rank[first] - rank[second]) + 1, dtype=np.intp)


def _pair_p_values(
    abs_t: NDArray[np.float64],
    spans: NDArray[np.intp],
    df_error: float,
    method: Method,
) -> NDArray[np.float64]:
    k = int(spans.max())
    q = abs_t * math.sqrt(2.0)
    if method == "tukey":
        return 1.0 - range_cdf(q, np.full(len(q), k), df_error)
    if method == "snk":
        return 1.0 - range_cdf(q, spans, df_error)
    if method == "duncan":
        return np.asarray(1.0 - np.power(range_cdf(q, spans, df_error), 1.0 / (spans - 1)))
    raw = 2.0 * stats.t.sf(abs_t, df_error)
    if method == "bonferroni":
        return np.asarray(raw * len(raw), dtype=float)
    if method == "holm":
        return holm_adjust(raw)
    return np.asarray(raw, dtype=float)


_SMALL_DF = 5  # below this the quadrature below loses accuracy: scipy integrates instead
_Z_STEP = 0.1
_Z = np.arange(-8.5, 8.5 + _Z_STEP, _Z_STEP)
_Z_WEIGHTS = np.exp(-(_Z**2) / 2) / math.sqrt(2 * math.pi) * _Z_STEP


def range_cdf(q: ArrayLike, k: ArrayLike, df: float) -> NDArray[np.float64]:
    """P(Q <= q) for the studentized range of k means with `df` error df, vectorised.

    scipy.stats.studentized_range integrates each value adaptively, ~25 ms apiece at large
    df: 30 s for the 1,225 pairs of 50 treatments. Here both integrals (over the normal
    range, then over s = sqrt(chi2/df) on a log scale) use the trapezoidal rule on fixed
    grids, which is spectrally accurate for these smooth bell-shaped integrands; it agrees
    with scipy within 1e-7 for df >= 5 (checked in the tests).
    """
    q = np.asarray(q, dtype=float)
    counts = np.asarray(k, dtype=float)
    if df < _SMALL_DF:
        return np.asarray(stats.studentized_range.cdf(q, counts, df), dtype=float)
    if df > 1e5:  # s is 1 within 0.3 %: the infinite-df range, as scipy does there
        return _infinite_df_cdf(q, counts)
    nodes = 48 if df < 1000 else 16
    low, high = np.sqrt(stats.chi2.ppf([1e-13, 1 - 1e-13], df) / df)
    log_s = np.linspace(math.log(low), math.log(high), nodes)
    s = np.exp(log_s)
    weights = np.exp(stats.chi.logpdf(s * math.sqrt(df), df) + 0.5 * math.log(df) + log_s)
    weights *= log_s[1] - log_s[0]
    scaled = _infinite_df_cdf((q[:, None] * s[None, :]).ravel(), np.repeat(counts, nodes))
    return np.asarray(np.clip(scaled.reshape(len(q), nodes) @ weights, 0.0, 1.0))


def _infinite_df_cdf(x: NDArray[np.float64], k: NDArray[np.float64]) -> NDArray[np.float64]:
    inside = special.ndtr(_Z) - special.ndtr(_Z - x[:, None])
    return np.asarray(k * np.sum(_Z_WEIGHTS * inside ** (k[:, None] - 1), axis=1))


@functools.lru_cache(maxsize=1024)
def range_quantile(probability: float, k: int, df: float) -> float:
    """The studentized-range quantile, by root finding on `range_cdf`; remembered, as a
    campaign analyses the same design (same k and df) run after run."""

    def gap(q: float) -> float:
        return float(range_cdf(np.array([q]), np.array([k]), df)[0]) - probability

    return float(optimize.brentq(gap, 1e-6, 100.0, xtol=1e-12))


def holm_adjust(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Holm's step-down adjusted p-values (same order as `p`), as R's p.adjust."""
    order = np.argsort(p, kind="stable")
    m = len(p)
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def _dunnett_pairs(
    levels: Sequence[str],
    means: NDArray[np.float64],
    sed: NDArray[np.float64],
    df_error: float,
    alpha: float,
    control: str,
) -> list[PairRow]:
    """Two-sided Dunnett tests of each treatment against `control`.

    scipy.stats.dunnett needs the raw samples and pools their own variance, which is the
    right error only for a CRD; blocked and split designs have another error term, so the
    joint multivariate-t probability is computed here from the SEDs (checked against
    scipy.stats.dunnett on a CRD in the tests).
    """
    c = list(levels).index(control)
    others = [i for i in range(len(levels)) if i != c]
    pair_sed = sed[others, c]
    t_value = (means[others] - means[c]) / pair_sed
    covariance = (
        pair_sed[:, None] ** 2 + pair_sed[None, :] ** 2 - sed[np.ix_(others, others)] ** 2
    ) / 2
    correlation = covariance / np.outer(pair_sed, pair_sed)
    joint = stats.multivariate_t(shape=correlation, df=df_error)
    rng = np.random.default_rng(_DUNNETT_SEED)
    rows = []
    for i, t, s in zip(others, t_value, pair_sed, strict=True):
        bound = np.full(len(others), abs(t))
        p = float(np.clip(1.0 - joint.cdf(bound, lower_limit=-bound, random_state=rng), 0, 1))
        d = float(means[i] - means[c])
        rows.append(PairRow(levels[i], control, d, float(s), float(t), p, p < alpha))
    return rows


def _critical_difference(
    k: int, sed: NDArray[np.float64], df_error: float, method: Method, alpha: float
) -> float | None:
    """LSD or HSD when every pair has the same SED (balanced data), else None."""
    off_diagonal = sed[~np.eye(k, dtype=bool)]
    if not np.allclose(off_diagonal, off_diagonal[0]):
        return None
    common = float(off_diagonal[0])
    if method == "lsd":
        return float(stats.t.ppf(1 - alpha / 2, df_error)) * common
    if method == "tukey":
        return range_quantile(1 - alpha, k, df_error) * common / math.sqrt(2)
    return None


def compact_letters(
    levels: Sequence[str], means: NDArray[np.float64], pairs: Sequence[PairRow]
) -> list[str]:
    """Letters a, b, c ... so that two means share a letter unless they differ significantly.

    The highest mean gets "a". Each letter marks a maximal run of consecutive (ordered)
    means with no significant difference inside it, as read off an underlined table; a
    non-significant pair that no run covers (possible when SEDs differ) gets its own letter.
    """
    k = len(levels)
    index = {level: i for i, level in enumerate(levels)}
    same = np.eye(k, dtype=bool)
    for pair in pairs:
        i, j = index[pair.level_a], index[pair.level_b]
        same[i, j] = same[j, i] = not pair.significant
    order = [int(i) for i in np.argsort(-means, kind="stable")]
    groups = _maximal_runs(order, same)
    covered = np.zeros((k, k), dtype=bool)
    for group in groups:
        covered[np.ix_(group, group)] = True
    groups += [[i, j] for i in order for j in order if i < j and same[i, j] and not covered[i, j]]
    letters = [""] * k
    for number, group in enumerate(groups):
        for i in group:
            letters[i] += _letter(number)
    return letters


def _maximal_runs(order: list[int], same: NDArray[np.bool_]) -> list[list[int]]:
    """Runs of ordered means, each as long as all its pairs are alike, none inside another."""
    runs: list[list[int]] = []
    last_end = -1
    for start in range(len(order)):
        end = start
        while end + 1 < len(order) and same[order[end + 1], order[start : end + 1]].all():
            end += 1
        if end > last_end:
            runs.append(order[start : end + 1])
            last_end = end
    return runs


def _letter(number: int) -> str:
    """a ... z, then A ... Z, then a1, b1 ... for very large trials."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    cycle, position = divmod(number, len(alphabet))
    return alphabet[position] + (str(cycle) if cycle else "")


def _groups(
    levels: Sequence[str], means: NDArray[np.float64], letters: list[str], control: str | None
) -> tuple[GroupRow, ...]:
    control_mean = means[list(levels).index(control)] if control is not None else None
    return tuple(
        GroupRow(
            level=levels[i],
            mean=float(means[i]),
            letters=letters[i],
            percent_of_control=(float(100 * means[i] / control_mean) if control_mean else None),
        )
        for i in np.argsort(-means, kind="stable")
    )


@dataclass(frozen=True)
class PowerPlan:
    """Replicates needed for a planned trial, and the power they give."""

    design: Literal["crd", "rcbd"]
    n_treatments: int
    replicates: int
    power: float
    error_sd: float
    difference: float
    alpha: float


def design_power(
    n_treatments: int,
    replicates: int,
    difference: float,
    error_sd: float,
    *,
    alpha: float = 0.05,
    design: Literal["crd", "rcbd"] = "rcbd",
) -> float:
    """Power of the treatment F test when two treatments differ by `difference`.

    The other treatments sit midway, the least favourable case, so the noncentrality is
    r d^2 / (2 sigma^2); the error df are t(r-1) for a CRD and (t-1)(r-1) for an RCBD.

    >>> round(design_power(4, 6, 10.0, 5.0), 3)
    0.724
    """
    df_treatment = n_treatments - 1
    df_error = _error_df(n_treatments, replicates, design)
    noncentrality = replicates * difference**2 / (2 * error_sd**2)
    critical = stats.f.ppf(1 - alpha, df_treatment, df_error)
    return float(stats.ncf.sf(critical, df_treatment, df_error, noncentrality))


def _error_df(n_treatments: int, replicates: int, design: str) -> int:
    if design == "crd":
        return n_treatments * (replicates - 1)
    if design == "rcbd":
        return (n_treatments - 1) * (replicates - 1)
    raise TrialError(f"power is planned for 'crd' or 'rcbd', not {design!r}")


def replicates_for_power(
    n_treatments: int,
    difference: float,
    *,
    error_sd: float | None = None,
    cv_percent: float | None = None,
    grand_mean: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    design: Literal["crd", "rcbd"] = "rcbd",
    max_replicates: int = 200,
) -> PowerPlan:
    """Smallest number of replicates (blocks) that detects `difference` with `power`.

    Give the error as `error_sd`, or as `cv_percent` of an expected `grand_mean` (a
    farmer usually knows the CV of past trials rather than an SD).

    >>> replicates_for_power(5, 1.0, cv_percent=10, grand_mean=5.0).replicates
    8
    """
    sd = _error_sd(error_sd, cv_percent, grand_mean)
    if n_treatments < 2 or difference <= 0 or not 0 < power < 1:
        raise TrialError("need >= 2 treatments, a positive difference and 0 < power < 1")
    for replicates in range(2, max_replicates + 1):
        achieved = design_power(
            n_treatments, replicates, difference, sd, alpha=alpha, design=design
        )
        if achieved >= power:
            return PowerPlan(design, n_treatments, replicates, achieved, sd, difference, alpha)
    raise TrialError(
        f"even {max_replicates} replicates do not reach power {power}: "
        "plan a larger difference or reduce the error (better blocking, larger plots)"
    )


def _error_sd(error_sd: float | None, cv_percent: float | None, grand_mean: float | None) -> float:
    if error_sd is not None and error_sd > 0:
        return error_sd
    if cv_percent is not None and grand_mean is not None and cv_percent > 0 and grand_mean > 0:
        return cv_percent / 100 * grand_mean
    raise TrialError("give a positive error_sd, or cv_percent together with grand_mean")
