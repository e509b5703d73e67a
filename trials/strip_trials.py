"""Farm-scale strip trials (essais en bandes): each treatment strip against its neighbours.

A strip trial has no blocks to speak of: the field changes along the row, so a treatment
strip is compared with the control strips on either side of it (their mean), and the
replicates give the spread of those differences. That is a paired t test per treatment,
the analysis farm advisers use for such trials, with the difference also given as a
percentage of the neighbouring controls.

>>> obs = Observations.from_columns(
...     [10, 12, 10, 13, 11, 9, 12, 9, 13, 10], treatment=list("CTCTCCTCTC"),
...     block=[1, 1, 1, 1, 1, 2, 2, 2, 2, 2], col=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
>>> [round(row.difference, 2) for row in strip_trial_differences(obs, control="C")]
[2.75]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from trials import TrialError
from trials.analysis import Observations


@dataclass(frozen=True)
class StripDifference:
    """One treatment: mean of (strip - mean of its neighbouring controls) over its strips."""

    treatment: str
    strips: int
    difference: float
    se: float
    t: float
    p: float
    low: float
    high: float
    """the confidence interval of the difference"""
    percent_of_control: float


def strip_trial_differences(
    obs: Observations,
    control: str,
    *,
    treatment: str = "treatment",
    block: str = "block",
    col: str = "col",
    confidence: float = 0.95,
) -> list[StripDifference]:
    """Each treatment's paired difference from its adjacent control strips, with a t test.

    Strips are ordered by `col` within each replicate (`block`); a treatment strip with no
    control strip beside it is refused, since it has nothing to be compared with.
    """
    labels, blocks = obs.column(treatment), obs.column(block)
    columns = [_whole(value, col) for value in obs.column(col)]
    if control not in labels:
        raise TrialError(f"control {control!r} is not a {treatment}; levels: {sorted(set(labels))}")
    gaps: dict[str, list[tuple[float, float]]] = {}
    for replicate in sorted(set(blocks)):
        rows = sorted(
            (c, i) for i, (c, b) in enumerate(zip(columns, blocks, strict=True)) if b == replicate
        )
        order = [i for _, i in rows]
        for position, index in enumerate(order):
            if labels[index] == control:
                continue
            beside = [order[p] for p in (position - 1, position + 1) if 0 <= p < len(order)]
            controls = [obs.response[i] for i in beside if labels[i] == control]
            if not controls:
                raise TrialError(
                    f"{treatment} {labels[index]!r} in {block} {replicate} (col {columns[index]}) "
                    "has no control strip beside it: a strip trial alternates control and treatment"
                )
            gaps.setdefault(labels[index], []).append(
                (obs.response[index], float(np.mean(controls)))
            )
    return [_tested(name, pairs, confidence) for name, pairs in sorted(gaps.items())]


def _whole(value: str, column: str) -> int:
    try:
        return int(float(value))
    except ValueError:
        raise TrialError(f"{column} {value!r} is not a strip position number") from None


def _tested(name: str, pairs: list[tuple[float, float]], confidence: float) -> StripDifference:
    if len(pairs) < 2:
        raise TrialError(
            f"{name!r} has {len(pairs)} strip: a difference needs 2 replicates or more"
        )
    strip = np.array([value for value, _ in pairs])
    neighbours = np.array([value for _, value in pairs])
    differences = strip - neighbours
    n = len(differences)
    mean = float(differences.mean())
    se = float(differences.std(ddof=1) / np.sqrt(n))
    t = mean / se if se > 0 else float("inf") * np.sign(mean)
    p = float(2 * stats.t.sf(abs(t), n - 1)) if se > 0 else 0.0
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * se
    percent = 100.0 * float(strip.mean() / neighbours.mean())
    return StripDifference(name, n, mean, se, float(t), p, mean - half, mean + half, percent)
