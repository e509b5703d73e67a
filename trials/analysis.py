"""ANOVA for the field designs Potager lays out, with the error strata each design calls for.

Plain functions take `Observations` (long format: one response per plot) and return an
`AnovaResult`: a tidy table (stratum, source, df, SS, MS, F, p), the grand mean, CV %,
residual SD, treatment means with SE, and SEDs. `compare` then separates means
(`trials.comparisons`), and the multi-site functions combine sites.

Sums of squares are sequential (type I, as R's `aov`). statsmodels has no `Error()`
strata, so each design lists its terms with the error each is tested against (split-plot:
main plots against block x main, error a). For orthogonal data (complete blocks, balanced
split and strip plots, Latin squares) each term's SS comes straight from cell sums with
`np.bincount`, which stays fast for 100,000 plots; otherwise (alpha designs, augmented
designs, missing plots) they come from successive orthogonal projections, and treatment
means are adjusted (least-squares) means when the treatment enters the model additively;
a treatment that also enters an interaction (factorial, site x treatment) keeps raw means.

>>> obs = Observations.from_columns(
...     [12.1, 13.0, 14.2, 11.8, 12.9, 14.8, 12.5, 13.6, 15.1],
...     treatment=["T", "A", "B"] * 3, block=[1, 1, 1, 2, 2, 2, 3, 3, 3])
>>> result = anova_rcbd(obs)
>>> [(row.source, row.df) for row in result.table]
[('block', 2), ('treatment', 2), ('residual', 4)]
>>> [g.letters for g in compare(result, "treatment", "lsd").groups]
['a', 'b', 'c']
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import combinations
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from trials import TrialError
from trials.comparisons import Comparison, Method, compare_means, sed_from_counts

RESIDUAL = "residual"
SiteEffect = Literal["fixed", "random"]
_MAX_PROJECTION_CELLS = 40_000_000  # n x columns beyond which the dense path is refused


# ---------------------------------------------------------------- observations


@dataclass(frozen=True, eq=False)
class Observations:
    """One numeric response per plot plus its labels (treatment, block, row, col, site ...).

    Labels are kept as strings, so "1" and 1 name the same block.
    """

    response: NDArray[np.float64]
    labels: Mapping[str, tuple[str, ...]]
    response_name: str = "response"

    @classmethod
    def from_columns(
        cls,
        response: Sequence[object],
        *,
        response_name: str = "response",
        drop_missing: bool = False,
        **columns: Sequence[object],
    ) -> Observations:
        """Build from column lists of equal length; bad values raise TrialError naming the row.

        >>> Observations.from_columns(["4,5", 5.0], treatment=["a", "b"]).response.tolist()
        [4.5, 5.0]
        """
        _check_lengths(len(response), columns)
        values = [_parse_response(value, row, response_name) for row, value in enumerate(response)]
        missing = [row for row, value in enumerate(values) if value is None]
        if missing and not drop_missing:
            rows = ", ".join(str(row + 1) for row in missing[:5])
            raise TrialError(
                f"{response_name} is missing in row(s) {rows}; "
                "enter the value or pass drop_missing=True to analyse without those plots"
            )
        keep = [row for row, value in enumerate(values) if value is not None]
        labels = {name: _parse_labels(column, name, keep) for name, column in columns.items()}
        array = np.array([values[row] for row in keep], dtype=float)
        return cls(array, labels, response_name)

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, object]],
        response: str,
        columns: Sequence[str],
        *,
        drop_missing: bool = False,
    ) -> Observations:
        """Build from dicts (one per plot), e.g. rows read from a CSV field book."""
        rows = list(records)
        for number, record in enumerate(rows, start=1):
            absent = [name for name in (response, *columns) if name not in record]
            if absent:
                raise TrialError(f"record {number} has no {absent}; it has {sorted(record)}")
        return cls.from_columns(
            [record[response] for record in rows],
            response_name=response,
            drop_missing=drop_missing,
            **{name: [record[name] for record in rows] for name in columns},
        )

    def __len__(self) -> int:
        return len(self.response)

    def codes(self, name: str) -> tuple[NDArray[np.intp], tuple[str, ...]]:
        """Integer codes 0..k-1 of a label column and its levels in natural order."""
        column = self.column(name)
        levels = tuple(sorted(set(column), key=_natural_key))
        index = {level: i for i, level in enumerate(levels)}
        return np.fromiter((index[v] for v in column), dtype=np.intp, count=len(column)), levels

    def column(self, name: str) -> tuple[str, ...]:
        """The labels of one column; a TrialError lists the columns if it is absent."""
        if name not in self.labels:
            raise TrialError(f"no column {name!r}; the observations have {sorted(self.labels)}")
        return self.labels[name]

    def subset(self, keep: NDArray[np.bool_]) -> Observations:
        """The plots where `keep` is True."""
        rows = np.flatnonzero(keep)
        labels = {name: tuple(column[i] for i in rows) for name, column in self.labels.items()}
        return Observations(self.response[rows], labels, self.response_name)


def _check_lengths(n: int, columns: Mapping[str, Sequence[object]]) -> None:
    if n == 0:
        raise TrialError("no observations: the response column is empty")
    wrong = {name: len(column) for name, column in columns.items() if len(column) != n}
    if wrong:
        raise TrialError(f"columns must all have {n} rows like the response; got {wrong}")


def _parse_response(value: object, row: int, name: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise TrialError(f"row {row + 1}: {name} {value!r} is not a number")
    text = value.strip().replace(",", ".") if isinstance(value, str) else value
    try:
        number = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise TrialError(
            f"row {row + 1}: {name} {value!r} is not a number (use digits, e.g. 12.5 or 12,5)"
        ) from None
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise TrialError(f"row {row + 1}: {name} is infinite")
    return number


def _parse_labels(column: Sequence[object], name: str, keep: list[int]) -> tuple[str, ...]:
    labels = []
    for row in keep:
        value = column[row]
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            raise TrialError(f"row {row + 1}: {name} is missing; every plot needs a {name}")
        labels.append(str(value).strip())
    return tuple(labels)


def _natural_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class AnovaRow:
    """One line of the ANOVA table; F and p are None on error lines."""

    stratum: str
    source: str
    df: int
    ss: float
    ms: float
    f: float | None
    p: float | None


@dataclass(frozen=True)
class MeanRow:
    """A treatment mean (adjusted when the design is not orthogonal) and its SE."""

    factor: str
    level: str
    mean: float
    se: float
    n: int


@dataclass(frozen=True)
class SedRow:
    """A standard error of the difference between two means of the named kind."""

    kind: str
    sed: float
    df: float | None


@dataclass(frozen=True, eq=False)
class FactorMeans:
    """Everything mean separation needs for one factor: means, SED matrix, error df."""

    factor: str
    levels: tuple[str, ...]
    means: NDArray[np.float64]
    counts: NDArray[np.intp]
    se: NDArray[np.float64]
    sed: NDArray[np.float64]
    ms_error: float
    df_error: int

    def rows(self) -> tuple[MeanRow, ...]:
        """One `MeanRow` per level."""
        return tuple(
            MeanRow(self.factor, level, float(mean), float(se), int(n))
            for level, mean, se, n in zip(
                self.levels, self.means, self.se, self.counts, strict=True
            )
        )


@dataclass(frozen=True)
class AnovaResult:
    """An analysed trial: the table and what is derived from it."""

    design: str
    response_name: str
    table: tuple[AnovaRow, ...]
    grand_mean: float
    residual_sd: float
    cv_percent: float
    factors: Mapping[str, FactorMeans]
    sed: tuple[SedRow, ...] = field(default=())
    orthogonal: bool = True

    def to_rows(self) -> list[dict[str, object]]:
        """The ANOVA table as plain dicts (for JSON, CSV or a DataFrame)."""
        return [asdict(row) for row in self.table]

    def means(self, factor: str) -> tuple[MeanRow, ...]:
        """Means of `factor` with their standard errors."""
        return self._factor(factor).rows()

    def row(self, source: str) -> AnovaRow:
        """The table line of `source` (e.g. "treatment", "block:main", "residual")."""
        for line in self.table:
            if line.source == source:
                return line
        raise TrialError(f"no source {source!r}; sources: {[r.source for r in self.table]}")

    def _factor(self, factor: str) -> FactorMeans:
        if factor not in self.factors:
            raise TrialError(f"no treatment factor {factor!r}; choose from {list(self.factors)}")
        return self.factors[factor]


def format_anova(result: AnovaResult) -> str:
    """The ANOVA table as fixed-width text, with the grand mean, CV and SEDs under it."""
    lines = [
        f"{result.design}: {result.response_name}",
        f"{'stratum':<12}{'source':<20}{'df':>5}{'SS':>14}{'MS':>14}{'F':>10}{'p':>10}",
    ]
    for row in result.table:
        f = "" if row.f is None else f"{row.f:10.3f}"
        p = "" if row.p is None else f"{row.p:10.4f}"
        lines.append(
            f"{row.stratum:<12}{row.source:<20}{row.df:>5}{row.ss:14.4f}{row.ms:14.4f}{f:>10}{p:>10}"
        )
    lines.append(
        f"grand mean {result.grand_mean:.4g}, CV {result.cv_percent:.2f} %, "
        f"residual SD {result.residual_sd:.4g}"
    )
    lines += [f"SED {sed.kind}: {sed.sed:.4g}" for sed in result.sed]
    return "\n".join(lines)


def compare(
    result: AnovaResult,
    factor: str,
    method: Method = "tukey",
    *,
    alpha: float = 0.05,
    control: str | None = None,
) -> Comparison:
    """Separate the means of `factor` using the error the ANOVA tested it against.

    >>> obs = Observations.from_columns([5, 6, 9, 5.5, 6.5, 9.5], treatment=list("abcabc"))
    >>> [(g.level, g.letters) for g in compare(anova_crd(obs), "treatment", "lsd").groups]
    [('c', 'a'), ('b', 'b'), ('a', 'b')]
    """
    means = result._factor(factor)
    return compare_means(
        means.levels, means.means, means.sed, means.df_error, method, alpha=alpha, control=control
    )


# ---------------------------------------------------------------- the engine


@dataclass(frozen=True)
class _Term:
    """A model term: its factors, its stratum, and the error it is tested against.

    Untested terms (error strata, nuisance blocks) get no F in the table.
    """

    factors: tuple[str, ...]
    stratum: str
    error: str = RESIDUAL
    tested: bool = True

    @property
    def name(self) -> str:
        return ":".join(self.factors)


def _cell_codes(obs: Observations, factors: Sequence[str]) -> NDArray[np.intp]:
    """One code per observed combination of `factors` (nested labels stay distinct)."""
    combined = np.zeros(len(obs), dtype=np.intp)
    for name in factors:
        codes, levels = obs.codes(name)
        combined = combined * len(levels) + codes
    return np.unique(combined, return_inverse=True)[1].reshape(-1)


def _is_orthogonal(obs: Observations, terms: Sequence[_Term]) -> bool:
    """Tjur's condition: every two terms have proportional counts within their meet's cells."""
    for first, second in combinations(terms, 2):
        a, b = set(first.factors), set(second.factors)
        if a <= b or b <= a:
            continue
        if not _proportional(obs, first.factors, second.factors, tuple(sorted(a & b))):
            return False
    return True


def _proportional(
    obs: Observations, a: tuple[str, ...], b: tuple[str, ...], meet: tuple[str, ...]
) -> bool:
    join = tuple(dict.fromkeys(a + b))
    n_a, n_b, n_join, n_meet = (_cell_sizes(obs, f) for f in (a, b, join, meet))
    if not np.array_equal(n_join * n_meet, n_a * n_b):
        return False
    # every (a cell, b cell) pair inside a meet cell must be observed, not only proportional
    meet_codes = _cell_codes(obs, meet)
    a_in_meet = _distinct_per(meet_codes, _cell_codes(obs, a))
    b_in_meet = _distinct_per(meet_codes, _cell_codes(obs, b))
    join_cells = len(np.unique(_cell_codes(obs, join)))
    return bool(join_cells == int(np.sum(a_in_meet * b_in_meet)))


def _cell_sizes(obs: Observations, factors: Sequence[str]) -> NDArray[np.intp]:
    codes = _cell_codes(obs, factors)
    return np.asarray(np.bincount(codes)[codes], dtype=np.intp)


def _distinct_per(groups: NDArray[np.intp], codes: NDArray[np.intp]) -> NDArray[np.intp]:
    pairs = np.unique(groups * (int(codes.max()) + 1) + codes)
    return np.asarray(np.bincount(pairs // (int(codes.max()) + 1)), dtype=np.intp)


def _between_ss(y: NDArray[np.float64], codes: NDArray[np.intp]) -> tuple[float, int]:
    """SS between the cell means of `codes` around the grand mean, and cells - 1."""
    sums = np.bincount(codes, weights=y)
    counts = np.bincount(codes)
    return float(np.sum(sums**2 / counts) - y.sum() ** 2 / len(y)), len(counts) - 1


def _orthogonal_ss(obs: Observations, terms: Sequence[_Term]) -> list[tuple[int, float]]:
    """Term SS = between-cell SS minus the SS of the model terms it contains."""
    done: dict[frozenset[str], tuple[int, float]] = {}
    for term in sorted(terms, key=lambda t: len(t.factors)):
        ss, df = _between_ss(obs.response, _cell_codes(obs, term.factors))
        for factors, (sub_df, sub_ss) in done.items():
            if factors < set(term.factors):
                ss, df = ss - sub_ss, df - sub_df
        done[frozenset(term.factors)] = (df, max(ss, 0.0))
    return [done[frozenset(term.factors)] for term in terms]


def _projected_ss(obs: Observations, terms: Sequence[_Term]) -> list[tuple[int, float]]:
    """Sequential SS by projecting y on each term's indicators, orthogonalised on the past."""
    n = len(obs)
    basis = np.ones((n, 1)) / math.sqrt(n)
    y = obs.response
    out = []
    for term in terms:
        codes = _cell_codes(obs, term.factors)
        if n * (basis.shape[1] + codes.max() + 1) > _MAX_PROJECTION_CELLS:
            raise TrialError(
                f"{n} unbalanced plots with {codes.max() + 1} {term.name} cells are too many to "
                "analyse exactly; analyse sites separately or complete the missing plots"
            )
        indicators = np.zeros((n, int(codes.max()) + 1))
        indicators[np.arange(n), codes] = 1.0
        new = _orthonormal_remainder(indicators - basis @ (basis.T @ indicators))
        out.append((new.shape[1], float(np.sum((new.T @ y) ** 2))))
        basis = np.hstack([basis, new])
    return out


def _orthonormal_remainder(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    u, singular, _ = np.linalg.svd(matrix, full_matrices=False)
    tolerance = max(matrix.shape) * np.finfo(float).eps * max(float(singular.max(initial=0)), 1.0)
    return np.asarray(u[:, singular > tolerance * 1e3])


def _anova_table(
    obs: Observations, terms: Sequence[_Term], residual_stratum: str
) -> tuple[tuple[AnovaRow, ...], bool]:
    orthogonal = _is_orthogonal(obs, terms)
    parts = _orthogonal_ss(obs, terms) if orthogonal else _projected_ss(obs, terms)
    total_ss = float(np.sum((obs.response - obs.response.mean()) ** 2))
    residual_df = len(obs) - 1 - sum(df for df, _ in parts)
    residual_ss = max(total_ss - sum(ss for _, ss in parts), 0.0)
    if residual_df <= 0:
        raise TrialError(
            "no residual degrees of freedom: every plot is a different treatment x block cell; "
            "add replicates (blocks) or remove an interaction"
        )
    mean_squares = {
        t.name: (ss / df if df else math.nan, df) for t, (df, ss) in zip(terms, parts, strict=True)
    }
    mean_squares[RESIDUAL] = (residual_ss / residual_df, residual_df)
    rows = [
        _row(term, df, ss, mean_squares)
        for term, (df, ss) in zip(terms, parts, strict=True)
        if df > 0
    ]
    rows.append(
        AnovaRow(
            residual_stratum,
            RESIDUAL,
            residual_df,
            residual_ss,
            residual_ss / residual_df,
            None,
            None,
        )
    )
    return tuple(rows), orthogonal


def _row(
    term: _Term, df: int, ss: float, mean_squares: Mapping[str, tuple[float, int]]
) -> AnovaRow:
    ms = ss / df
    if not term.tested:
        return AnovaRow(term.stratum, term.name, df, ss, ms, None, None)
    error_ms, error_df = mean_squares[term.error]
    if not error_df:
        raise TrialError(f"{term.name} cannot be tested: its error {term.error} has no df")
    f_value = ms / error_ms if error_ms > 0 else math.inf
    return AnovaRow(
        term.stratum, term.name, df, ss, ms, f_value, float(stats.f.sf(f_value, df, error_df))
    )


def _analyse(
    obs: Observations,
    design: str,
    terms: Sequence[_Term],
    treatments: Mapping[str, str],
    residual_stratum: str = "plots",
) -> AnovaResult:
    """Run the table, then the means of each treatment factor against its error term."""
    for term in terms:
        for name in term.factors:
            obs.column(name)
    table, orthogonal = _anova_table(obs, terms, residual_stratum)
    confounded = [name for name in treatments if name not in {row.source for row in table}]
    if confounded:
        raise TrialError(
            f"{confounded} cannot be estimated: confounded with blocks, rows or columns; "
            "check the field book (each treatment must appear in several blocks)"
        )
    residual = table[-1]
    grand_mean = float(obs.response.mean())
    errors = {row.source: row for row in table}
    factors = {
        factor: _factor_means(obs, terms, factor, errors.get(error, residual), orthogonal)
        for factor, error in treatments.items()
    }
    residual_sd = math.sqrt(residual.ms)
    return AnovaResult(
        design=design,
        response_name=obs.response_name,
        table=table,
        grand_mean=grand_mean,
        residual_sd=residual_sd,
        cv_percent=100 * residual_sd / grand_mean if grand_mean else math.nan,
        factors=factors,
        orthogonal=orthogonal,
    )


def _factor_means(
    obs: Observations, terms: Sequence[_Term], factor: str, error: AnovaRow, orthogonal: bool
) -> FactorMeans:
    codes, levels = obs.codes(factor)
    counts = np.bincount(codes, minlength=len(levels))
    if orthogonal or not _is_additive(terms, factor):
        means = np.bincount(codes, weights=obs.response, minlength=len(levels)) / counts
        se = np.sqrt(error.ms / counts)
        sed = sed_from_counts(error.ms, counts)
    else:
        means, se, sed = _adjusted_means(obs, terms, factor, error.ms)
    return FactorMeans(factor, levels, means, counts, se, sed, error.ms, error.df)


def _is_additive(terms: Sequence[_Term], factor: str) -> bool:
    return sum(factor in term.factors for term in terms) == 1


def _adjusted_means(
    obs: Observations, terms: Sequence[_Term], factor: str, ms_error: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Least-squares means: each treatment placed on every plot, predictions averaged.

    This is the intra-block adjusted mean of lattice and augmented designs; its SEDs come
    from the covariance MSE * L (X'X)^+ L' of those averaged predictions.
    """
    design = _indicator_matrix(obs, terms)
    levels = obs.codes(factor)[1]
    gram_inverse = np.linalg.pinv(design.T @ design)
    coefficients = gram_inverse @ (design.T @ obs.response)
    start = _column_offset(obs, terms, factor)
    average_row = design.mean(axis=0)
    average_row[start : start + len(levels)] = 0.0
    contrasts = np.tile(average_row, (len(levels), 1))
    contrasts[np.arange(len(levels)), start + np.arange(len(levels))] = 1.0
    covariance = ms_error * contrasts @ gram_inverse @ contrasts.T
    variance = np.diag(covariance)
    sed = np.sqrt(np.maximum(variance[:, None] + variance[None, :] - 2 * covariance, 0.0))
    return contrasts @ coefficients, np.sqrt(variance), sed


def _indicator_matrix(obs: Observations, terms: Sequence[_Term]) -> NDArray[np.float64]:
    blocks = [np.ones((len(obs), 1))]
    for term in terms:
        codes = _cell_codes(obs, term.factors)
        blocks.append(np.eye(int(codes.max()) + 1)[codes])
    return np.hstack(blocks)


def _column_offset(obs: Observations, terms: Sequence[_Term], factor: str) -> int:
    offset = 1
    for term in terms:
        if term.factors == (factor,):
            return offset
        offset += int(_cell_codes(obs, term.factors).max()) + 1
    raise TrialError(f"{factor} is not a main effect of the model")


# ---------------------------------------------------------------- designs


def anova_crd(obs: Observations, treatment: str = "treatment") -> AnovaResult:
    """Completely randomized design: treatment against the residual."""
    return _analyse(obs, "crd", [_Term((treatment,), "plots")], {treatment: RESIDUAL})


def anova_rcbd(
    obs: Observations, treatment: str = "treatment", block: str = "block"
) -> AnovaResult:
    """Randomized complete blocks (dispositif en blocs): block, then treatment.

    With missing plots the treatment SS is adjusted for blocks and means are LS means.
    """
    terms = [_Term((block,), "blocks"), _Term((treatment,), "plots")]
    return _analyse(obs, "rcbd", terms, {treatment: RESIDUAL})


def anova_latin(
    obs: Observations, treatment: str = "treatment", row: str = "row", col: str = "col"
) -> AnovaResult:
    """Latin square: rows and columns both removed from the error."""
    sizes = {len(set(obs.column(name))) for name in (treatment, row, col)}
    if len(sizes) != 1 or len(obs) != next(iter(sizes)) ** 2:
        raise TrialError(
            f"a Latin square needs t rows, t columns, t treatments and t*t plots; got "
            f"{[len(set(obs.column(n))) for n in (row, col, treatment)]} and {len(obs)} plots"
        )
    for line in (row, col):
        if len(set(zip(obs.column(line), obs.column(treatment), strict=True))) != len(obs):
            raise TrialError(f"not a Latin square: a treatment appears twice in one {line}")
    terms = [_Term((row,), "rows"), _Term((col,), "columns"), _Term((treatment,), "plots")]
    return _analyse(obs, "latin", terms, {treatment: RESIDUAL})


def anova_factorial(
    obs: Observations, factors: Sequence[str], block: str | None = None
) -> AnovaResult:
    """Factorial treatments (all interactions) in a CRD, or in an RCBD if `block` is given.

    >>> obs = Observations.from_columns(
    ...     [10, 12, 11, 15, 11, 12, 12, 16], n=[0, 0, 1, 1] * 2, k=[0, 1] * 4)
    >>> [row.source for row in anova_factorial(obs, ["n", "k"]).table]
    ['n', 'k', 'n:k', 'residual']
    """
    if len(factors) < 2:
        raise TrialError("a factorial needs at least two factors; use anova_crd for one")
    terms = [_Term((block,), "blocks")] if block else []
    for size in range(1, len(factors) + 1):
        terms += [_Term(combo, "plots") for combo in combinations(factors, size)]
    return _analyse(obs, "factorial", terms, dict.fromkeys(factors, RESIDUAL))


def anova_split_plot(obs: Observations, main: str, sub: str, block: str = "block") -> AnovaResult:
    """Split-plot in blocks: `main` tested against error (a) = block x main, `sub` and the
    interaction against error (b), the residual. SEDs are Gomez & Gomez's four kinds.

    Blocks are tested against error (a) too, as in Gomez & Gomez (1984) table 3.10.
    """
    error_a = f"{block}:{main}"
    terms = [
        _Term((block,), "blocks", error=error_a),
        _Term((main,), "main plots", error=error_a),
        _Term((block, main), "main plots", tested=False),
        _Term((sub,), "sub plots"),
        _Term((main, sub), "sub plots"),
    ]
    result = _analyse(obs, "split", terms, {main: error_a, sub: RESIDUAL}, "sub plots")
    return replace(result, sed=_split_plot_sed(result, main, sub, error_a))


def _split_plot_sed(result: AnovaResult, main: str, sub: str, error_a: str) -> tuple[SedRow, ...]:
    """Gomez & Gomez (1984) table 3.11: the four SEDs of a split-plot."""
    ea, eb = result.row(error_a), result.row(RESIDUAL)
    n_main, n_sub = len(result.factors[main].levels), len(result.factors[sub].levels)
    replicates = int(result.factors[main].counts[0]) // n_sub
    weighted = ((n_sub - 1) * eb.ms + ea.ms) / (replicates * n_sub)
    return (
        SedRow(f"two {main} means", math.sqrt(2 * ea.ms / (replicates * n_sub)), ea.df),
        SedRow(f"two {sub} means", math.sqrt(2 * eb.ms / (replicates * n_main)), eb.df),
        SedRow(f"two {sub} means at the same {main}", math.sqrt(2 * eb.ms / replicates), eb.df),
        SedRow(f"two {main} means at the same or different {sub}", math.sqrt(2 * weighted), None),
    )


def anova_strip_plot(obs: Observations, a: str, b: str, block: str = "block") -> AnovaResult:
    """Strip-plot (essai en bandes): `a` against block x a, `b` against block x b, the
    interaction against the residual. Blocks are shown untested: no single error fits them.
    """
    error_a, error_b = f"{block}:{a}", f"{block}:{b}"
    terms = [
        _Term((block,), "blocks", tested=False),
        _Term((a,), f"{a} strips", error=error_a),
        _Term((block, a), f"{a} strips", tested=False),
        _Term((b,), f"{b} strips", error=error_b),
        _Term((block, b), f"{b} strips", tested=False),
        _Term((a, b), "intersections"),
    ]
    return _analyse(obs, "strip", terms, {a: error_a, b: error_b}, "intersections")


def anova_alpha_lattice(
    obs: Observations, treatment: str = "treatment", rep: str = "rep", block: str = "block"
) -> AnovaResult:
    """Alpha or lattice design: incomplete blocks nested in replicates, intra-block analysis.

    Block labels may restart in each replicate (block 1 of rep 1 is not block 1 of rep 2);
    blocks are always taken within their replicate.
    """
    terms = [
        _Term((rep,), "replicates"),
        _Term((rep, block), "blocks", tested=False),
        _Term((treatment,), "plots"),
    ]
    return _analyse(obs, "alpha", terms, {treatment: RESIDUAL})


def anova_augmented(
    obs: Observations, checks: Sequence[str], treatment: str = "treatment", block: str = "block"
) -> AnovaResult:
    """Augmented design: replicated `checks` in every block, unreplicated entries.

    Entries are compared on means adjusted for the block effects the checks estimate.
    """
    levels = set(obs.column(treatment))
    absent = [check for check in checks if check not in levels]
    if not checks or absent:
        raise TrialError(f"checks {absent or '(none)'} are not treatments of these observations")
    terms = [_Term((block,), "blocks", tested=False), _Term((treatment,), "plots")]
    return _analyse(obs, "augmented", terms, {treatment: RESIDUAL})


# ---------------------------------------------------------------- several sites


def anova_multisite(
    obs: Observations,
    *,
    site_effect: SiteEffect,
    treatment: str = "treatment",
    block: str = "block",
    site: str = "site",
) -> AnovaResult:
    """Combined RCBD analysis over sites (blocks nested in sites).

    `site_effect` has no default because it changes the test: with sites "random" (a
    sample of farms, the usual Digiferme network) treatment is tested against the
    site x treatment MS, so a treatment must win across farms; with "fixed" sites it is
    tested against the pooled plot error. Sites are tested against blocks within sites.
    """
    if site_effect not in ("fixed", "random"):
        raise TrialError(f"site_effect must be 'fixed' or 'random', not {site_effect!r}")
    interaction = f"{site}:{treatment}"
    treatment_error = interaction if site_effect == "random" else RESIDUAL
    terms = [
        _Term((site,), "sites", error=f"{site}:{block}"),
        _Term((site, block), "blocks", tested=False),
        _Term((treatment,), "plots", error=treatment_error),
        _Term((site, treatment), "plots"),
    ]
    return _analyse(obs, f"multisite ({site_effect} sites)", terms, {treatment: treatment_error})


@dataclass(frozen=True)
class EstimateRow:
    """A treatment estimate at one site (or "combined") with its confidence interval."""

    site: str
    level: str
    mean: float
    se: float
    df: int
    lower: float
    upper: float


def site_estimates(
    obs: Observations,
    *,
    site_effect: SiteEffect,
    treatment: str = "treatment",
    block: str = "block",
    site: str = "site",
    confidence: float = 0.95,
) -> tuple[EstimateRow, ...]:
    """Treatment means per site (each its own RCBD) and combined, with t intervals."""
    rows: list[EstimateRow] = []
    site_codes, sites = obs.codes(site)
    for number, name in enumerate(sites):
        local = anova_rcbd(obs.subset(site_codes == number), treatment, block)
        rows += _estimates(name, local.factors[treatment], confidence)
    combined = anova_multisite(
        obs, site_effect=site_effect, treatment=treatment, block=block, site=site
    )
    return tuple(rows + _estimates("combined", combined.factors[treatment], confidence))


def _estimates(site: str, means: FactorMeans, confidence: float) -> list[EstimateRow]:
    t_value = float(stats.t.ppf(0.5 + confidence / 2, means.df_error))
    rows = []
    for row in means.rows():
        half = t_value * row.se
        rows.append(
            EstimateRow(
                site, row.level, row.mean, row.se, means.df_error, row.mean - half, row.mean + half
            )
        )
    return rows


@dataclass(frozen=True)
class MixedResult:
    """Treatment means from a mixed model, and the variance components it estimated."""

    estimates: tuple[EstimateRow, ...]
    variance_components: Mapping[str, float]
    converged: bool

    def to_rows(self) -> list[dict[str, object]]:
        """The treatment estimates as plain dicts."""
        return [asdict(row) for row in self.estimates]


def mixed_model(
    obs: Observations,
    *,
    treatment: str = "treatment",
    block: str = "block",
    site: str = "site",
    confidence: float = 0.95,
) -> MixedResult:
    """REML fit with random site, block-within-site and site x treatment (unbalanced data).

    statsmodels' MixedLM needs a DataFrame, hence pandas here only. `re_formula="1"` is
    given explicitly: with a `vc_formula` alone MixedLM would drop the site intercept.
    """
    import pandas as pd  # type: ignore[import-untyped]
    from statsmodels.regression.mixed_linear_model import MixedLM

    frame = pd.DataFrame(
        {
            "y": obs.response,
            "t": obs.column(treatment),
            "b": obs.column(block),
            "s": obs.column(site),
        }
    )
    model = MixedLM.from_formula(
        "y ~ 0 + C(t)",
        data=frame,
        groups="s",
        re_formula="1",
        vc_formula={"block": "0 + C(b)", "site_treatment": "0 + C(t)"},
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = model.fit(reml=True)
    z_value = float(stats.norm.ppf(0.5 + confidence / 2))
    _, levels = obs.codes(treatment)
    estimates = []
    for level in levels:
        name = f"C(t)[{level}]"
        mean, se = float(fit.fe_params[name]), float(fit.bse_fe[name])
        estimates.append(
            EstimateRow("mixed", level, mean, se, 0, mean - z_value * se, mean + z_value * se)
        )
    components = {site: float(fit.cov_re.iloc[0, 0]), "residual": float(fit.scale)}
    components.update(
        dict(zip([f"{site}:{block}", f"{site}:{treatment}"], map(float, fit.vcomp), strict=True))
    )
    converged = bool(fit.converged) and not any(
        "converge" in str(w.message).lower() for w in caught
    )
    return MixedResult(tuple(estimates), components, converged)
