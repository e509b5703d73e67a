"""ANOVA and mean separation on 100,000 plots, against statsmodels on the same data.

The trial: an RCBD with 50 treatments in 2,000 blocks (100,000 plots). Ours: building
`Observations` from plain columns, `anova_rcbd` and a Tukey comparison with letters, target
<= 1 s. The reference, measured in the same run: statsmodels `ols(...).fit()` + `anova_lm`
on a DataFrame of the same data, then `pairwise_tukeyhsd` (which ignores blocks, so it
only times the comparison step). Printed: seconds, the ratio ours/reference, met/MISSED,
and whether both give the same treatment F.

statsmodels builds the 100,000 x 2,050 dummy matrix and takes its pseudo-inverse: about 6
minutes on two cores (fit(method="qr") is no faster, statsmodels still computes the rank by
SVD). `--quick` (POTAGER_BENCH_QUICK=1) runs both sides on 200 blocks (10,000 plots) instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from trials.analysis import AnovaResult, Observations, anova_rcbd, compare

T = TypeVar("T")
TREATMENTS = 50
BLOCKS = 2000
QUICK_BLOCKS = 200
TARGET_S = 1.0


def trial_columns(seed: int = 1) -> tuple[list[float], list[str], list[str]]:
    """Responses with block and treatment effects, in field-book order."""
    rng = np.random.default_rng(seed)
    blocks = QUICK_BLOCKS if os.environ.get("POTAGER_BENCH_QUICK") else BLOCKS
    treatment = np.tile(np.arange(TREATMENTS), blocks)
    block = np.repeat(np.arange(blocks), TREATMENTS)
    y = 50 + 0.05 * treatment + rng.normal(0, 2, blocks)[block] + rng.normal(0, 5, len(block))
    return y.tolist(), [f"T{t:02d}" for t in treatment], [f"B{b}" for b in block]


def timed(function: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def ours(y: list[float], treatment: list[str], block: list[str]) -> AnovaResult:
    obs = Observations.from_columns(y, treatment=treatment, block=block)
    result = anova_rcbd(obs)
    compare(result, "treatment", "tukey")
    return result


def reference_anova(y: list[float], treatment: list[str], block: list[str]) -> float:
    import pandas as pd  # type: ignore[import-untyped]
    from statsmodels.formula.api import ols
    from statsmodels.stats.anova import anova_lm

    frame = pd.DataFrame({"y": y, "t": treatment, "b": block})
    table = anova_lm(ols("y ~ C(b) + C(t)", frame).fit())
    return float(table.loc["C(t)", "F"])


def reference_tukey(y: list[float], treatment: list[str]) -> None:
    from statsmodels.stats.multicomp import pairwise_tukeyhsd

    pairwise_tukeyhsd(np.asarray(y), np.asarray(treatment))


def main() -> bool:
    y, treatment, block = trial_columns()
    print(
        f"\n== RCBD ANOVA + Tukey letters, {TREATMENTS} treatments x {len(y) // TREATMENTS} blocks"
    )
    result, our_s = timed(lambda: ours(y, treatment, block))
    reference_f, anova_s = timed(lambda: reference_anova(y, treatment, block))
    _, tukey_s = timed(lambda: reference_tukey(y, treatment))
    reference_s = anova_s + tukey_s
    same = np.isclose(result.row("treatment").f or 0.0, reference_f, rtol=1e-8)
    print(f"{'':44}{'seconds':>9}")
    print(f"{'ours: Observations + anova_rcbd + compare':44}{our_s:9.3f}")
    print(f"{'statsmodels ols().fit() + anova_lm':44}{anova_s:9.3f}")
    print(f"{'statsmodels pairwise_tukeyhsd':44}{tukey_s:9.3f}")
    print(
        f"treatment F: ours {result.row('treatment').f:.6f}, statsmodels {reference_f:.6f}"
        f" ({'same' if same else 'DIFFERENT'})"
    )
    print(
        f"ratio ours/reference {our_s / reference_s:.3f}; target <= {TARGET_S:g} s: "
        f"{'met' if our_s <= TARGET_S else 'MISSED'}"
    )
    return bool(our_s <= TARGET_S and same)


if __name__ == "__main__":
    main()
