"""Finds plants and weeds in top-down photos and places them in bed millimetres.

`images` loads and checks photos; `vegetation` and `colour_model` separate plants from
soil; `classify` tells crop from weed and places weeding targets; `calibrate` maps pixels
to bed millimetres; `photogrid` plans photos over a bed, stitches them and measures canopy
cover; `farmbot` re-implements FarmBot's own detector (the baseline users have today);
`datasets` reads annotated photo folders and `evaluate` scores detectors on them.
"""

from potager.errors import PotagerError


class VisionError(PotagerError):
    """A photo or a dataset the vision code cannot use; the message says which and why."""


__all__ = ["VisionError"]
