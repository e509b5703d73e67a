"""Orders visits by the gantry's real travel time (the performance core).

`motion` prices moves with the firmware's own speed ramps, `tour` orders hundreds to tens
of thousands of stops by that price, `sorts` reproduces FarmBot's orders for comparison,
`jobs` turns tasks (sow, water, weed, photograph) into an ordered list of moves.
"""

from potager.errors import PotagerError


class PlannerError(PotagerError):
    """Points or a request the planner cannot work with; the message names the culprit."""


__all__ = ["PlannerError"]
