"""Each treatment's difference from the control at every site of a trial, and pooled.

A multi-site trial is run to learn whether a treatment wins everywhere or only somewhere:
the combined ANOVA answers with one F, a forest plot (`trials.figures.effects_forest_plot`)
shows it. Each site is analysed on its own (RCBD when plots have blocks, else completely
random), so a noisy farm gets a wide interval instead of widening everyone's. The pooled
row comes from the combined model with site as a fixed factor (`anova_multisite` with
blocks, else the site x treatment factorial): the difference of the treatment means over
all sites with the pooled plot error. It answers "what did the treatment do at these
sites"; the site x treatment test (`interaction_p`) says whether one number may stand for
all of them. To infer to farms beyond the trial, use `anova_multisite(site_effect="random")`
or `mixed_model`.

>>> obs = Observations.from_columns(
...     [10, 12, 11, 14, 20, 26, 21, 27],
...     treatment=["T", "A"] * 4, block=[1, 1, 2, 2] * 2, site=["x"] * 4 + ["y"] * 4)
>>> effects = site_effects(obs, "T")
>>> [(row.site, row.treatment, row.difference) for row in effects.rows]
[('x', 'A', 2.5), ('y', 'A', 6.0)]
>>> effects.pooled[0].difference
4.25
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

from scipy import stats

from trials import TrialError
from trials.analysis import (
    AnovaResult,
    FactorMeans,
    Observations,
    anova_crd,
    anova_factorial,
    anova_multisite,
    anova_rcbd,
)

POOLED = "pooled"
INTERACTION_ALPHA = 0.05  # the usual 5 % level at which the sites are said to disagree


class SiteEffectsError(TrialError):
    """Per-site effects cannot be estimated (one site, no control, a site not analysable)."""


@dataclass(frozen=True)
class EffectRow:
    """A treatment minus the control at one site (or `POOLED`), in the response's unit."""

    site: str
    treatment: str
    difference: float
    se: float
    df: int
    lower: float
    upper: float


@dataclass(frozen=True)
class SiteEffects:
    """Differences from `control` per site and pooled, with `confidence` t intervals.

    `interaction_p` is the p value of site x treatment against the plot error (None when
    the data leave it no degrees of freedom).
    """

    response_name: str
    control: str
    confidence: float
    rows: tuple[EffectRow, ...]
    pooled: tuple[EffectRow, ...]
    interaction_p: float | None

    @property
    def treatments(self) -> tuple[str, ...]:
        """The compared treatments (all but the control), in their natural order."""
        return tuple(row.treatment for row in self.pooled)

    @property
    def consistent(self) -> bool | None:
        """Whether the sites agree (interaction not significant at 5 %); None if untested."""
        return None if self.interaction_p is None else self.interaction_p >= INTERACTION_ALPHA

    def to_rows(self) -> list[dict[str, object]]:
        """Per-site then pooled rows as plain dicts (for JSON, CSV or a DataFrame)."""
        return [asdict(row) for row in (*self.rows, *self.pooled)]


def site_effects(
    obs: Observations,
    control: str | None,
    *,
    treatment: str = "treatment",
    block: str | None = "block",
    site: str = "site",
    confidence: float = 0.95,
) -> SiteEffects:
    """Every treatment minus `control` at each site and pooled, with t intervals.

    Per site: the difference of that site's means, SE = the SED of its own ANOVA, t with its
    residual df. Pooled: the same from the combined fixed-site model (see the module doc).
    `block=None` analyses plots without blocks as completely random within each site.
    """
    if control is None:
        raise SiteEffectsError(
            "no control: mark the check treatment of the trial to compare the others with it"
        )
    site_codes, sites = obs.codes(site)
    if len(sites) < 2:
        raise SiteEffectsError(
            f"per-site effects need two sites or more; all plots are at {sites[0]}"
        )
    if control not in obs.column(treatment):
        raise SiteEffectsError(f"the control {control!r} is not a treatment of these plots")
    rows: list[EffectRow] = []
    for number, name in enumerate(sites):
        local = obs.subset(site_codes == number)
        try:
            means = _site_anova(local, treatment, block).factors[treatment]
        except TrialError as error:
            raise SiteEffectsError(f"site {name}: {error}") from None
        if control not in means.levels:
            raise SiteEffectsError(f"site {name} has no plot of the control {control!r}")
        rows += _differences(name, means, control, confidence)
    combined = combined_anova(obs, treatment, block, site)
    pooled = tuple(_differences(POOLED, combined.factors[treatment], control, confidence))
    interaction = {row.source: row.p for row in combined.table}.get(f"{site}:{treatment}")
    order = {row.treatment: position for position, row in enumerate(pooled)}
    return SiteEffects(
        obs.response_name,
        control,
        confidence,
        tuple(sorted(rows, key=lambda row: order[row.treatment])),  # stable: sites stay
        pooled,
        interaction,
    )


def _site_anova(obs: Observations, treatment: str, block: str | None) -> AnovaResult:
    return anova_rcbd(obs, treatment, block) if block else anova_crd(obs, treatment)


def combined_anova(obs: Observations, treatment: str, block: str | None, site: str) -> AnovaResult:
    """The pooled model of the module doc; the dashboard's main analysis uses it too, so its
    treatment F and means agree with the forest plot's pooled rows."""
    if block:
        return anova_multisite(
            obs, site_effect="fixed", treatment=treatment, block=block, site=site
        )
    return anova_factorial(obs, [site, treatment])


def _differences(
    site: str, means: FactorMeans, control: str, confidence: float
) -> Iterator[EffectRow]:
    """Each level minus the control with the SED between them and a t interval."""
    reference = means.levels.index(control)
    t_value = float(stats.t.ppf(0.5 + confidence / 2, means.df_error))
    for index, level in enumerate(means.levels):
        if index == reference:
            continue
        difference = float(means.means[index] - means.means[reference])
        se = float(means.sed[index, reference])
        half = t_value * se
        yield EffectRow(
            site, level, difference, se, means.df_error, difference - half, difference + half
        )


__all__ = [
    "POOLED",
    "EffectRow",
    "SiteEffects",
    "SiteEffectsError",
    "combined_anova",
    "site_effects",
]
