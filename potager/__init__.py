"""Potager's shared vocabulary: errors, settings, clocks and robot profiles.

Everything here is imported by the other packages and imports none of them.
"""

from potager.errors import PotagerError

__all__ = ["PotagerError"]
