"""Statistical field trials: randomized designs on beds, observations, analysis, exports.

`design` generates randomized layouts (field books), `plots` lays them onto bed
millimetres, `store` records trials and observations in the database, `analysis` runs the
ANOVA and mean comparisons each design calls for, and `export` speaks CSV, BrAPI and
ISA-Tab.
"""

from potager.errors import PotagerError


class TrialError(PotagerError):
    """A design, layout, record or analysis that cannot be done; the message says why."""


__all__ = ["TrialError"]
