"""The bed's soil water: a bucket per grid cell, filled by rain and watering, emptied by
drainage, bare-soil evaporation and the crops' transpiration.

Each cell holds a volumetric water content theta over a depth (the deepest roots in it):
water above field capacity drains at once, and nothing takes it below the wilting point.
A crop draws from the cells under its root disc and feels their mean content through the
FAO-56 water stress coefficient Ks. Everything here is a pure function of arrays, so a
day over thousands of cells and hundreds of plants is a few numpy calls.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

Floats = NDArray[np.float64]
Ints = NDArray[np.intp]

DISC_SAMPLES = 64
"""Points standing for a disc (a sunflower spiral, equal areas): a disc's share in each
cell it touches, exact to a few per cent, with no geometry per cell."""


class SoilParams(BaseModel):
    """The bed's soil; defaults are a sandy loam (FAO-56 Table 19) on 25 mm cells."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field_capacity_vol: float = Field(default=0.23, gt=0, lt=1)
    wilting_point_vol: float = Field(default=0.11, ge=0, lt=1)
    depth_mm: float = Field(default=300.0, gt=0, description="store depth of bare cells")
    cell_mm: float = Field(default=25.0, gt=0)
    evaporation_coeff: float = Field(
        default=0.5, ge=0, description="bare, wet soil evaporates this share of ET0"
    )
    sensor_noise_vol_pct: float = Field(default=1.5, ge=0)

    @model_validator(mode="after")
    def _wilting_below_capacity(self) -> SoilParams:
        if not self.wilting_point_vol < self.field_capacity_vol:
            raise ValueError(
                f"the wilting point ({self.wilting_point_vol}) must be below field "
                f"capacity ({self.field_capacity_vol})"
            )
        return self

    @property
    def available_vol(self) -> float:
        """Plant-available water per unit depth (mm of water per mm of soil)."""
        return self.field_capacity_vol - self.wilting_point_vol


@dataclass(frozen=True)
class Grid:
    """Square cells over a bed, numbered row by row (x fastest); edge cells are cut to the
    bed."""

    length_x_mm: float
    length_y_mm: float
    cell_mm: float

    @property
    def shape(self) -> tuple[int, int]:
        """(cells along y, cells along x)."""
        return math.ceil(self.length_y_mm / self.cell_mm), math.ceil(
            self.length_x_mm / self.cell_mm
        )

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def cell_of(self, x_mm: Floats, y_mm: Floats) -> Ints:
        """The cell holding each point (points outside go to the nearest edge cell)."""
        rows, columns = self.shape
        column = np.clip((np.asarray(x_mm) // self.cell_mm).astype(np.intp), 0, columns - 1)
        row = np.clip((np.asarray(y_mm) // self.cell_mm).astype(np.intp), 0, rows - 1)
        return np.asarray(row * columns + column, np.intp)

    def cell_bounds_mm(self) -> tuple[Floats, Floats, Floats, Floats]:
        """(x_min, y_min, x_max, y_max) of every cell, cut to the bed."""
        rows, columns = self.shape
        x_min = np.tile(np.arange(columns) * self.cell_mm, rows)
        y_min = np.repeat(np.arange(rows) * self.cell_mm, columns)
        x_max = np.minimum(x_min + self.cell_mm, self.length_x_mm)
        y_max = np.minimum(y_min + self.cell_mm, self.length_y_mm)
        return x_min, y_min, x_max, y_max

    def cell_area_mm2(self) -> Floats:
        x_min, y_min, x_max, y_max = self.cell_bounds_mm()
        return (x_max - x_min) * (y_max - y_min)

    def disc(self, x_mm: float, y_mm: float, radius_mm: float) -> tuple[Ints, Floats]:
        """The cells a disc covers and the share of its area in each (shares sum to 1).
        Read-only arrays, remembered: a robot waters the same points all season."""
        return _disc(self, float(x_mm), float(y_mm), float(radius_mm))


@functools.lru_cache(maxsize=65_536)
def _disc(grid: Grid, x_mm: float, y_mm: float, radius_mm: float) -> tuple[Ints, Floats]:
    points_x, points_y = _unit_disc()
    cells = grid.cell_of(x_mm + radius_mm * points_x, y_mm + radius_mm * points_y)
    touched, counts = np.unique(cells, return_counts=True)
    shares = counts / float(DISC_SAMPLES)
    touched.flags.writeable = shares.flags.writeable = False
    return np.asarray(touched, np.intp), shares


@functools.cache
def _unit_disc() -> tuple[Floats, Floats]:
    """DISC_SAMPLES points of equal area over the unit disc (Vogel's sunflower)."""
    k = np.arange(DISC_SAMPLES) + 0.5
    radius = np.sqrt(k / DISC_SAMPLES)
    angle = k * math.pi * (3 - math.sqrt(5))
    return radius * np.cos(angle), radius * np.sin(angle)


# --- the daily step (pure) ---------------------------------------------------------------


def add_water(theta: Floats, depth_mm: Floats, added_mm: Floats, soil: SoilParams) -> Floats:
    """Contents after `added_mm` soaks in; whatever goes above field capacity drains."""
    return np.minimum(theta + added_mm / depth_mm, soil.field_capacity_vol)


def remove_water(theta: Floats, depth_mm: Floats, removed_mm: Floats, soil: SoilParams) -> Floats:
    """Contents after `removed_mm` leaves (never below the wilting point)."""
    return np.maximum(theta - removed_mm / depth_mm, soil.wilting_point_vol)


def wetness(theta: Floats, soil: SoilParams) -> Floats:
    """How full the available store is: 0 at the wilting point, 1 at field capacity."""
    share = (theta - soil.wilting_point_vol) * (1.0 / soil.available_vol)
    return np.minimum(np.maximum(share, 0.0), 1.0)


def water_stress(theta: Floats, depletion_p: Floats, soil: SoilParams) -> Floats:
    """FAO-56 Ks (eq. 84): 1 until a share p of the available water is gone, then falling
    linearly to 0 at the wilting point."""
    return np.clip(wetness(theta, soil) / (1.0 - depletion_p), 0.0, 1.0)


def evaporation_mm(
    theta: Floats, bare_share: Floats, et0_mm_day: float, days: float, soil: SoilParams
) -> Floats:
    """Evaporation from the bare part of each cell: a share of ET0 that falls as the soil
    dries (a dry crust shades the soil below it)."""
    return soil.evaporation_coeff * et0_mm_day * days * bare_share * wetness(theta, soil)


def mean_over_discs(values: Floats, plant: Ints, cell: Ints, weight: Floats, plants: int) -> Floats:
    """Each plant's weighted mean of a per-cell value over its disc (roots, or zone)."""
    return np.bincount(plant, weights=weight * values[cell], minlength=plants).astype(
        np.float64, copy=False
    )


def spread_over_discs(
    per_plant: Floats, plant: Ints, cell: Ints, weight: Floats, cells: int
) -> Floats:
    """Per-plant amounts shared out over the cells of their discs."""
    return np.bincount(cell, weights=weight * per_plant[plant], minlength=cells).astype(
        np.float64, copy=False
    )


def sensor_reading(theta: float, noise_vol_pct: float, rng: np.random.Generator) -> float:
    """A soil-moisture probe: volumetric %, with Gaussian noise, clipped to 0-100."""
    return float(np.clip(100.0 * theta + rng.normal(0.0, noise_vol_pct), 0.0, 100.0))
