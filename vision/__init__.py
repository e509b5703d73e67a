"""Finds plants and weeds in top-down photos and places them in bed millimetres.

`images` loads and checks photos, `vegetation` separates plants from soil, `farmbot`
re-implements FarmBot's own detector (the baseline users have today), `datasets` reads
annotated photo folders and `evaluate` scores detectors on them side by side.
"""

from potager.errors import PotagerError


class VisionError(PotagerError):
    """A photo or a dataset the vision code cannot use; the message says which and why."""


__all__ = ["VisionError"]
