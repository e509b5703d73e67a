"""The virtual bed's plants and weeds: what the simulated camera photographs.

A garden is a bed size and a list of plants, each a crop or a weed of a species whose shape
the renderer knows, with its position, size and a seed for the details (leaf lengths, hues)
so that every photo of one plant shows the same plant. Sowing and weed scattering are
reproducible from their seeds; the numbers are plausible for a vegetable bed: crops 20-120
mm across in radius, weeds mostly small (5-40 mm).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from potager.farm import Farm
from sim import SimulatorError

Rectangle = tuple[float, float, float, float]
"""(x_min, y_min, x_max, y_max) in bed millimetres."""

MAX_LEAVES = 64
WEED_RADIUS_MM = (5.0, 40.0)


class Kind(StrEnum):
    """What the robot should do with a plant: tend it or pull it."""

    CROP = "crop"
    WEED = "weed"


class Species(StrEnum):
    """The shapes the renderer draws: two crops and the two commonest weed habits."""

    LETTUCE = "lettuce"  # rosette of broad, frilly leaves, paler towards the heart
    CARROT = "carrot"  # a few feathery compound leaves
    BROADLEAF = "broadleaf"  # small rosette weed (chickweed, shepherd's purse, dandelion)
    GRASS = "grass"  # thin blades from one point (annual meadow grass)


LEAF_COUNTS: dict[Species, tuple[int, int]] = {
    Species.LETTUCE: (8, 14),
    Species.CARROT: (3, 7),
    Species.BROADLEAF: (4, 8),
    Species.GRASS: (3, 8),
}
"""Typical leaf counts per species (inclusive), drawn from when sowing."""


@dataclass(frozen=True)
class Plant:
    """One plant on the bed; `seed` fixes its look so every photo of it agrees."""

    kind: Kind
    species: Species
    x_mm: float
    y_mm: float
    radius_mm: float
    leaf_count: int
    rotation_deg: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.x_mm) and math.isfinite(self.y_mm)):
            raise SimulatorError(f"a plant needs a finite position, got ({self.x_mm}, {self.y_mm})")
        if not self.radius_mm > 0:
            raise SimulatorError(f"a plant's radius_mm must be positive, got {self.radius_mm}")
        if not 1 <= self.leaf_count <= MAX_LEAVES:
            raise SimulatorError(
                f"a plant has 1 to {MAX_LEAVES} leaves, got leaf_count={self.leaf_count}"
            )


@dataclass(frozen=True)
class Garden:
    """A bed (x from 0 to `length_x_mm`, y from 0 to `length_y_mm`) and what grows in it.

    `soil_seed` fixes the soil's texture and stones, which belong to the bed, not the photo.
    """

    length_x_mm: float
    length_y_mm: float
    plants: tuple[Plant, ...] = ()
    soil_seed: int = 0

    def __post_init__(self) -> None:
        if not (self.length_x_mm > 0 and self.length_y_mm > 0):
            raise SimulatorError(
                f"the bed must have a positive size, got {self.length_x_mm} x {self.length_y_mm} mm"
            )
        for index, plant in enumerate(self.plants):
            if not (0 <= plant.x_mm <= self.length_x_mm and 0 <= plant.y_mm <= self.length_y_mm):
                raise SimulatorError(
                    f"plant {index} ({plant.species}) at ({plant.x_mm:.1f}, {plant.y_mm:.1f}) mm "
                    f"is outside the bed (0..{self.length_x_mm}, 0..{self.length_y_mm}) mm"
                )


def sow_grid(
    area_mm: Rectangle,
    spacing_x_mm: float,
    spacing_y_mm: float,
    species: Species = Species.LETTUCE,
    radius_mm: float = 60.0,
    seed: int = 0,
    jitter_mm: float = 5.0,
) -> list[Plant]:
    """Crops on a grid (rows along x), each in the middle of its own spacing cell.

    Sown plants never sit exactly on the grid nor grow alike, so each is moved by up to
    `jitter_mm` and sized within +-20 % of `radius_mm`. An area narrower than one spacing
    gets a single row (or column) down its middle.
    """
    x_min, y_min, x_max, y_max = _checked_area(area_mm)
    if not (spacing_x_mm > 0 and spacing_y_mm > 0):
        raise SimulatorError(f"spacing must be positive, got {spacing_x_mm} x {spacing_y_mm} mm")
    if not radius_mm > 0 or jitter_mm < 0:
        raise SimulatorError(
            f"radius_mm must be positive and jitter_mm 0 or more, got {radius_mm}, {jitter_mm}"
        )
    xs = _cell_centres(x_min, x_max, spacing_x_mm)
    ys = _cell_centres(y_min, y_max, spacing_y_mm)
    rng = np.random.default_rng(seed)
    centres = np.array([(x, y) for y in ys for x in xs], np.float64)
    centres += rng.uniform(-jitter_mm, jitter_mm, centres.shape)
    centres = np.clip(centres, (x_min, y_min), (x_max, y_max))
    radii = radius_mm * rng.uniform(0.8, 1.2, len(centres))
    return _plants(Kind.CROP, [species] * len(centres), centres, radii, rng)


def garden_for_farm(
    farm: Farm, length_x_mm: float, length_y_mm: float, weeds: int = 20, seed: int = 0
) -> Garden:
    """What a farm map looks like on the simulator: a lettuce at each of its plants, and
    `weeds` weeds come up around them (within 200 mm), for a dry run's camera to see."""
    rng = np.random.default_rng(seed)
    crops = _plants(
        Kind.CROP,
        [Species.LETTUCE] * len(farm.plants),
        np.array([(p.x_mm, p.y_mm) for p in farm.plants], np.float64).reshape(-1, 2),
        50.0 * rng.uniform(0.8, 1.2, len(farm.plants)),
        rng,
    )
    places = [(p.x_mm, p.y_mm) for p in [*farm.plants, *farm.points]]
    if not places:
        return Garden(length_x_mm, length_y_mm, tuple(crops), soil_seed=seed)
    xs, ys = zip(*places, strict=True)
    area = (
        max(0.0, min(xs) - 200.0),
        max(0.0, min(ys) - 200.0),
        min(length_x_mm, max(xs) + 200.0),
        min(length_y_mm, max(ys) + 200.0),
    )
    flush = scatter_weeds(area, weeds, seed=seed + 1, radius_range_mm=(5.0, 20.0))
    return Garden(length_x_mm, length_y_mm, tuple(crops + flush), soil_seed=seed)


def scatter_weeds(
    area_mm: Rectangle,
    count: int,
    seed: int = 0,
    radius_range_mm: tuple[float, float] = WEED_RADIUS_MM,
    species: Sequence[Species] = (Species.BROADLEAF, Species.GRASS),
) -> list[Plant]:
    """`count` weeds uniformly over the area; sizes log-uniform, so most are small as in a
    real flush of seedlings."""
    area = _checked_area(area_mm)
    low_mm, high_mm = radius_range_mm
    if count < 0 or not 0 < low_mm <= high_mm or not species:
        raise SimulatorError(
            f"need count >= 0, 0 < min radius <= max radius and a species, got {count}, "
            f"{radius_range_mm}, {list(species)}"
        )
    rng = np.random.default_rng(seed)
    centres = rng.uniform(area[:2], area[2:], (count, 2))
    radii = np.exp(rng.uniform(math.log(low_mm), math.log(high_mm), count))
    chosen = [species[i] for i in rng.integers(0, len(species), count)]
    return _plants(Kind.WEED, chosen, centres, radii, rng)


def _plants(
    kind: Kind,
    species: Sequence[Species],
    centres: NDArray[np.float64],
    radii: NDArray[np.float64],
    rng: np.random.Generator,
) -> list[Plant]:
    plants = []
    for one, (x_mm, y_mm), radius in zip(species, centres, radii, strict=True):
        low, high = LEAF_COUNTS[one]
        plants.append(
            Plant(
                kind=kind,
                species=one,
                x_mm=float(x_mm),
                y_mm=float(y_mm),
                radius_mm=float(radius),
                leaf_count=int(rng.integers(low, high + 1)),
                rotation_deg=float(rng.uniform(0.0, 360.0)),
                seed=int(rng.integers(0, 2**31)),
            )
        )
    return plants


def _cell_centres(low_mm: float, high_mm: float, spacing_mm: float) -> list[float]:
    count = max(1, math.floor((high_mm - low_mm) / spacing_mm))
    margin_mm = (high_mm - low_mm - (count - 1) * spacing_mm) / 2
    return [low_mm + margin_mm + i * spacing_mm for i in range(count)]


def _checked_area(area_mm: Rectangle) -> Rectangle:
    x_min, y_min, x_max, y_max = (float(v) for v in area_mm)
    if not all(math.isfinite(v) for v in area_mm) or not (x_max > x_min and y_max > y_min):
        raise SimulatorError(
            f"area {area_mm} is empty or not finite: give (x_min, y_min, x_max, y_max) mm "
            "with x_max > x_min and y_max > y_min"
        )
    return x_min, y_min, x_max, y_max
