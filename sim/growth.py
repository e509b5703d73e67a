"""A living virtual bed: crops that grow as they are watered, weeds that come up on their own.

`GrowingBed` holds the state of the bed over a season (crops, weeds, the water in the soil
around every crop, the simulation clock); what happens in one time step is pure functions
of arrays, so a jump of a month over thousands of plants is a few hundred numpy steps.

The model is deliberately small and documented by its constants:
- a crop's radius grows logistically towards its species' maximum; the rate is scaled by
  its vigour (plant-to-plant variation) and by the square of the water stress coefficient
  Ks (FAO-56): 1 while the soil around it holds enough water, falling linearly to 0 as it
  dries;
- each crop has a root zone, a disc of soil with a capped water store. Watering at a point
  wets a disc of soil; every crop gets the share of it that falls on its root zone, the
  rest (and whatever overflows a full store) drains away;
- the store loses water to the crop (evapotranspiration over its canopy, so a big plant
  needs more) and to the bare soil around it (evaporation, slower as the soil dries);
- weeds come up at a steady rate over the bed (a Poisson process, drawn per day from the
  seed so that a season is the same however the clock is advanced) and grow whatever the
  watering: they are tough.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sim import SimulatorError
from sim.camera import DAYLIGHT, Lighting, Rendered, render_photo
from sim.garden import LEAF_COUNTS, MAX_LEAVES, Garden, Kind, Plant, Species
from vision.camera_model import CameraModel

Floats = NDArray[np.float64]

DAY_S = 86_400.0
STEP_DAYS = 0.25
"""Growth is integrated in quarter days: a watering every 2 days is resolved and a month
is 120 vectorised steps."""

MAX_RADIUS_MM: dict[Species, float] = {
    Species.LETTUCE: 120.0,  # a 24 cm head, a large butterhead
    Species.CARROT: 90.0,
    Species.BROADLEAF: 40.0,  # sim.garden.WEED_RADIUS_MM's upper end
    Species.GRASS: 35.0,
}
GROWTH_PER_DAY: dict[Species, float] = {
    Species.LETTUCE: 0.14,  # unstressed, a 5 mm seedling reaches ~90 mm in 28 days
    Species.CARROT: 0.12,
    Species.BROADLEAF: 0.27,  # a weed is ~10 mm after a week, ~30 mm after two
    Species.GRASS: 0.27,
}
"""Logistic relative growth rate (1/day) without water stress."""
SEEDLING_RADIUS_MM = (4.0, 6.0)
SEEDLING_LEAVES = 2
"""A just-emerged crop: two seed leaves a few mm long."""
VIGOUR_SPREAD = 0.1
"""Standard deviation of each plant's growth rate and maximum size, as a share: gives the
~10 % plant-to-plant variation a field trial's analysis needs as error."""
SAME_HOLE_MM = 5.0
"""A second seed sown this close to a living crop lands in the same hole: one plant."""

ROOT_RADIUS_MM = 75.0
"""A lettuce's roots fill about half its spacing early on; a fixed disc keeps capacities
simple and neighbours at 150 mm or more from sharing soil."""
AVAILABLE_WATER_MM = 24.0
"""Plant-available water of a full root zone, as depth: ~120 mm/m of a loam over ~200 mm
of young lettuce roots. 24 mm over the root disc is ~420 ml: a 300 ml watering of a
half-dry store overflows, a 50 ml one barely wets it."""
INITIAL_WATER_SHARE = 1.0
"""The bed is sown at field capacity (prepared and watered in): an unwatered seedling
lives on that for a week or two, then stalls."""
STRESS_FREE_SHARE = 0.5
"""Ks is 1 while the store is at least half full (FAO-56's p = 0.5 depletion) and falls
linearly to 0 at empty."""
GROWTH_STRESS_EXPONENT = 2.0
"""Leaves stop expanding well before stomata close (leaf growth is the process most
sensitive to water deficit), so growth falls as Ks squared while transpiration falls as
Ks."""
CROP_ET_MM_DAY = 12.0
"""Transpiration of a well-watered canopy, over the area the canopy covers: ET0 ~5 mm on
a sunny day, more than doubled for an isolated plant whose leaves also catch the heat of
the bare soil around it (the clothesline effect). Demand grows with the plant, which is
what makes 150 and 300 ml a plant every two days differ at the end of a month."""
SOIL_EVAPORATION_MM_DAY = 2.5
"""Evaporation from the bare, wetted part of the root zone, proportional to how full the
store is (a dry crust evaporates little): the fixed cost that makes small waterings so
much less useful than big ones."""
WETTED_RADIUS_MM = 70.0
"""A watering nozzle's water soaks a disc this wide in loam before it drains down."""

WEEDS_PER_M2_WEEK = 4.0
"""Weed seedlings emerging on a cultivated bed in summer (a moderate seed bank)."""
WEED_SPECIES = (Species.BROADLEAF, Species.GRASS)
WEED_EMERGENCE_RADIUS_MM = (1.5, 3.0)
CROP_HEART_MM = 5.0
"""A weeder strike that reaches this close to a crop's centre destroys its heart: dead."""


@dataclass(frozen=True)
class CropState:
    """One sown crop as the bed sees it now; `water_stress` is Ks, 1 = enough water."""

    index: int
    species: Species
    x_mm: float
    y_mm: float
    radius_mm: float
    soil_water_ml: float
    water_stress: float
    alive: bool


@dataclass(frozen=True)
class WeedingOutcome:
    """What one weeder strike did: the weeds it uprooted (x, y, radius mm), and crops hit."""

    removed: tuple[tuple[float, float, float], ...]
    crops_struck: int
    """Crops whose heart the strike reached: they are dead."""

    @property
    def weeds_removed(self) -> int:
        return len(self.removed)

    @property
    def struck_crop(self) -> bool:
        return self.crops_struck > 0


@dataclass
class _Plants:
    """Plants of one kind as parallel arrays (state) and a list (their fixed looks)."""

    x_mm: Floats
    y_mm: Floats
    radius_mm: Floats
    rate_per_day: Floats
    max_radius_mm: Floats
    looks: list[tuple[Species, int, float, int]]
    """(species, leaves when grown, rotation_deg, seed) per plant."""

    @classmethod
    def empty(cls) -> _Plants:
        nothing = np.zeros(0)
        return cls(nothing, nothing, nothing, nothing, nothing, [])

    def extend(self, other: _Plants) -> None:
        for name in ("x_mm", "y_mm", "radius_mm", "rate_per_day", "max_radius_mm"):
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))
        self.looks += other.looks

    def keep(self, kept: NDArray[np.bool_]) -> None:
        for name in ("x_mm", "y_mm", "radius_mm", "rate_per_day", "max_radius_mm"):
            setattr(self, name, getattr(self, name)[kept])
        self.looks = [look for look, k in zip(self.looks, kept, strict=True) if k]

    def subset(self, chosen: NDArray[np.bool_]) -> _Plants:
        part = _Plants(self.x_mm, self.y_mm, self.radius_mm, self.rate_per_day,
                       self.max_radius_mm, list(self.looks))  # fmt: skip
        part.keep(chosen)
        return part

    def as_plants(self, kind: Kind, shown: NDArray[np.bool_] | None = None) -> list[Plant]:
        plants = []
        for i, (species, grown_leaves, rotation_deg, seed) in enumerate(self.looks):
            if shown is not None and not shown[i]:
                continue
            radius = float(self.radius_mm[i])
            plants.append(
                Plant(
                    kind,
                    species,
                    float(self.x_mm[i]),
                    float(self.y_mm[i]),
                    radius,
                    leaf_count(radius, float(self.max_radius_mm[i]), grown_leaves),
                    rotation_deg,
                    seed,
                )
            )
        return plants


class GrowingBed:
    """The virtual bed over a season; every action happens at a time on the simulation
    clock (seconds), and the bed first grows up to that time."""

    def __init__(
        self,
        length_x_mm: float,
        length_y_mm: float,
        soil_seed: int = 0,
        seed: int = 0,
        start_s: float = 0.0,
    ) -> None:
        if not (length_x_mm > 0 and length_y_mm > 0):
            raise SimulatorError(
                f"the bed must have a positive size, got {length_x_mm} x {length_y_mm} mm"
            )
        if not math.isfinite(start_s):
            raise SimulatorError(f"start_s must be a finite clock time, got {start_s}")
        self.length_x_mm, self.length_y_mm = float(length_x_mm), float(length_y_mm)
        self.soil_seed, self.seed = soil_seed, seed
        self.start_s = self.now_s = float(start_s)
        self._rng = np.random.default_rng([seed, 1])
        self._crops = _Plants.empty()
        self._water_ml = np.zeros(0)
        self._alive = np.zeros(0, np.bool_)
        self._weeds = _Plants.empty()
        self._weeds_removed = 0
        self._crops_struck = 0
        self._weeds_drawn_to_day = 0
        self._pending_weeds = _Plants.empty()
        self._pending_s = np.zeros(0)
        """Weeds drawn but not yet come up, and when they will."""

    # --- actions ---------------------------------------------------------------------

    def sow(
        self,
        x_mm: float,
        y_mm: float,
        species: Species = Species.LETTUCE,
        at_s: float | None = None,
    ) -> int:
        """Sow a crop at (x, y); returns its index. A seed sown into a living crop's hole
        (within SAME_HOLE_MM) adds nothing and returns that crop's index."""
        self._check_point("sow", x_mm, y_mm)
        self.advance_to(self.now_s if at_s is None else at_s)
        distance = np.hypot(self._crops.x_mm - x_mm, self._crops.y_mm - y_mm)
        same_hole = np.flatnonzero(self._alive & (distance <= SAME_HOLE_MM))
        if len(same_hole):
            return int(same_hole[0])
        rng = self._rng
        low, high = LEAF_COUNTS[species]
        vigour = rng.normal(1.0, VIGOUR_SPREAD, 2).clip(0.6, 1.4)
        seedling = _Plants(
            np.array([float(x_mm)]),
            np.array([float(y_mm)]),
            np.array([rng.uniform(*SEEDLING_RADIUS_MM)]),
            np.array([GROWTH_PER_DAY[species] * vigour[0]]),
            np.array([MAX_RADIUS_MM[species] * vigour[1]]),
            [(species, int(rng.integers(low, high + 1)), float(rng.uniform(0, 360)),
              int(rng.integers(0, 2**31)))],
        )  # fmt: skip
        self._crops.extend(seedling)
        self._water_ml = np.append(self._water_ml, INITIAL_WATER_SHARE * root_capacity_ml())
        self._alive = np.append(self._alive, True)
        return len(self._alive) - 1

    def water(self, x_mm: float, y_mm: float, ml: float, at_s: float | None = None) -> float:
        """Pour `ml` at (x, y); returns the millilitres the crops' root zones kept (the rest
        fell outside them or overflowed a full store and drained)."""
        self._check_point("water at", x_mm, y_mm)
        if not (math.isfinite(ml) and ml >= 0):
            raise SimulatorError(f"water must be 0 ml or more, got {ml} ml at ({x_mm}, {y_mm})")
        self.advance_to(self.now_s if at_s is None else at_s)
        shares = water_shares(x_mm, y_mm, ml, self._crops.x_mm, self._crops.y_mm)
        shares[~self._alive] = 0.0
        before = self._water_ml.sum()
        self._water_ml = np.minimum(self._water_ml + shares, root_capacity_ml())
        return float(self._water_ml.sum() - before)

    def weed(
        self, x_mm: float, y_mm: float, radius_mm: float, at_s: float | None = None
    ) -> WeedingOutcome:
        """A weeder strike at (x, y): uproots every weed centred within `radius_mm`, and
        kills any crop whose heart it reaches (within radius + CROP_HEART_MM)."""
        self._check_point("weed at", x_mm, y_mm)
        if not (math.isfinite(radius_mm) and radius_mm >= 0):
            raise SimulatorError(f"a strike's radius_mm must be 0 or more, got {radius_mm}")
        self.advance_to(self.now_s if at_s is None else at_s)
        weeds = self._weeds
        hit = np.hypot(weeds.x_mm - x_mm, weeds.y_mm - y_mm) <= radius_mm
        removed = tuple(
            (float(x), float(y), float(r))
            for x, y, r in zip(weeds.x_mm[hit], weeds.y_mm[hit], weeds.radius_mm[hit], strict=True)
        )
        weeds.keep(~hit)
        crop_distance = np.hypot(self._crops.x_mm - x_mm, self._crops.y_mm - y_mm)
        killed = self._alive & (crop_distance <= radius_mm + CROP_HEART_MM)
        self._alive &= ~killed
        self._weeds_removed += len(removed)
        self._crops_struck += int(killed.sum())
        return WeedingOutcome(removed, int(killed.sum()))

    def advance_to(self, at_s: float) -> None:
        """Grow everything from the bed's clock to `at_s` (not earlier than now)."""
        if not math.isfinite(at_s) or at_s < self.now_s:
            raise SimulatorError(
                f"the bed is at t = {self.now_s:.0f} s and cannot go back to t = {at_s} s: "
                "actions must come in clock order"
            )
        self._draw_weeds_until(at_s)
        while self.now_s < at_s:
            step_days = min(STEP_DAYS, (at_s - self.now_s) / DAY_S)
            self._step(step_days)
            self.now_s = min(at_s, self.now_s + step_days * DAY_S)
            self._emerge_weeds()

    # --- views -----------------------------------------------------------------------

    def garden(self) -> Garden:
        """The bed now, to render: living crops (in sowing order), then weeds."""
        plants = self._crops.as_plants(Kind.CROP, self._alive) + self._weeds.as_plants(Kind.WEED)
        return Garden(self.length_x_mm, self.length_y_mm, tuple(plants), self.soil_seed)

    def photo(
        self,
        camera: CameraModel,
        x_mm: float,
        y_mm: float,
        z_mm: float,
        seed: int = 0,
        lighting: Lighting = DAYLIGHT,
    ) -> Rendered:
        """The photo the camera takes now with the tool head at (x, y, z)."""
        return render_photo(self.garden(), camera, x_mm, y_mm, z_mm, lighting, seed)

    def crops(self) -> tuple[CropState, ...]:
        """Every crop ever sown (dead ones too, with `alive` False), in sowing order."""
        stress = water_stress(self._water_ml)
        return tuple(
            CropState(
                i,
                look[0],
                float(self._crops.x_mm[i]),
                float(self._crops.y_mm[i]),
                float(self._crops.radius_mm[i]),
                float(self._water_ml[i]),
                float(stress[i]),
                bool(self._alive[i]),
            )
            for i, look in enumerate(self._crops.looks)
        )

    @property
    def days(self) -> float:
        """Days since the bed's start."""
        return (self.now_s - self.start_s) / DAY_S

    @property
    def weeds_count(self) -> int:
        return len(self._weeds.looks)

    @property
    def weeds_removed(self) -> int:
        return self._weeds_removed

    @property
    def crops_struck(self) -> int:
        return self._crops_struck

    # --- inside ----------------------------------------------------------------------

    def _check_point(self, action: str, x_mm: float, y_mm: float) -> None:
        if not (0 <= x_mm <= self.length_x_mm and 0 <= y_mm <= self.length_y_mm):
            raise SimulatorError(
                f"cannot {action} ({x_mm}, {y_mm}) mm: outside the bed "
                f"(0..{self.length_x_mm:g}, 0..{self.length_y_mm:g}) mm"
            )

    def _step(self, days: float) -> None:
        crops, alive = self._crops, self._alive
        stress = water_stress(self._water_ml)
        used = water_use_ml(self._water_ml, crops.radius_mm, stress, days)
        self._water_ml = np.maximum(self._water_ml - used * alive, 0.0)
        rate_per_day = crops.rate_per_day * growth_factor(stress)
        growing = grown(crops.radius_mm, crops.max_radius_mm, rate_per_day, days)
        crops.radius_mm = np.where(alive, growing, crops.radius_mm)
        weeds = self._weeds
        weeds.radius_mm = grown(weeds.radius_mm, weeds.max_radius_mm, weeds.rate_per_day, days)

    def _draw_weeds_until(self, at_s: float) -> None:
        """Draw the emergences of every whole day up to `at_s`, each from its own seed, so
        the season does not depend on how the clock was advanced."""
        last_day = math.floor((at_s - self.start_s) / DAY_S)
        area_m2 = self.length_x_mm * self.length_y_mm / 1e6
        for day in range(self._weeds_drawn_to_day, last_day + 1):
            rng = np.random.default_rng([self.seed, 2, day])
            count = int(rng.poisson(WEEDS_PER_M2_WEEK / 7.0 * area_m2))
            times_s = self.start_s + (day + rng.uniform(0, 1, count)) * DAY_S
            self._pending_weeds.extend(_new_weeds(rng, count, self._size()))
            self._pending_s = np.concatenate([self._pending_s, times_s])
        self._weeds_drawn_to_day = max(self._weeds_drawn_to_day, last_day + 1)
        self._emerge_weeds()

    def _emerge_weeds(self) -> None:
        due = self._pending_s <= self.now_s
        if due.any():
            # grown from the moment each came up: weed growth is unstressed logistic, whose
            # exact solution composes, so a season is the same whatever the step grid
            emerged = self._pending_weeds.subset(due)
            days = (self.now_s - self._pending_s[due]) / DAY_S
            emerged.radius_mm = grown(
                emerged.radius_mm, emerged.max_radius_mm, emerged.rate_per_day * days, 1.0
            )
            self._weeds.extend(emerged)
            self._pending_weeds.keep(~due)
            self._pending_s = self._pending_s[~due]

    def _size(self) -> tuple[float, float]:
        return self.length_x_mm, self.length_y_mm


def _new_weeds(rng: np.random.Generator, count: int, size: tuple[float, float]) -> _Plants:
    """`count` weed seedlings uniformly over the bed."""
    species = [WEED_SPECIES[k] for k in rng.integers(0, len(WEED_SPECIES), count)]
    vigour = rng.normal(1.0, VIGOUR_SPREAD, (2, count)).clip(0.6, 1.4)
    grown_leaves = [int(rng.integers(LEAF_COUNTS[s][0], LEAF_COUNTS[s][1] + 1)) for s in species]
    rotations, seeds = rng.uniform(0, 360, count), rng.integers(0, 2**31, count)
    return _Plants(
        rng.uniform(0, size[0], count),
        rng.uniform(0, size[1], count),
        rng.uniform(*WEED_EMERGENCE_RADIUS_MM, count),
        np.array([GROWTH_PER_DAY[s] for s in species]) * vigour[0],
        np.array([MAX_RADIUS_MM[s] for s in species]) * vigour[1],
        [
            (s, n, float(r), int(seed))
            for s, n, r, seed in zip(species, grown_leaves, rotations, seeds, strict=True)
        ],
    )


# --- growth rules (pure) ----------------------------------------------------------------


def root_area_mm2() -> float:
    return math.pi * ROOT_RADIUS_MM**2


def root_capacity_ml() -> float:
    """Millilitres a full root zone holds for the plant (1 ml = 1000 mm^3)."""
    return AVAILABLE_WATER_MM * root_area_mm2() / 1000.0


def water_stress(water_ml: Floats) -> Floats:
    """Ks: 1 while the store is at least STRESS_FREE_SHARE full, down to 0 when empty."""
    return np.clip(water_ml / (STRESS_FREE_SHARE * root_capacity_ml()), 0.0, 1.0)


def growth_factor(stress: Floats) -> Floats:
    """How much of its unstressed growth rate a crop keeps at stress Ks."""
    return np.asarray(stress**GROWTH_STRESS_EXPONENT, np.float64)


def water_use_ml(water_ml: Floats, radius_mm: Floats, stress: Floats, days: float) -> Floats:
    """Water leaving each store in `days`: the canopy's transpiration (less under stress,
    as stomata close) and evaporation from the bare part of the root zone."""
    canopy_mm2 = np.pi * radius_mm**2
    crop_ml = CROP_ET_MM_DAY * canopy_mm2 * stress / 1000.0
    wetness = np.clip(water_ml / root_capacity_ml(), 0.0, 1.0)
    bare_mm2 = np.maximum(root_area_mm2() - canopy_mm2, 0.0)
    soil_ml = SOIL_EVAPORATION_MM_DAY * bare_mm2 * wetness / 1000.0
    return np.asarray((crop_ml + soil_ml) * days, np.float64)


def grown(radius_mm: Floats, max_radius_mm: Floats, rate_per_day: Floats, days: float) -> Floats:
    """Logistic growth over `days` at a constant rate (the exact solution, so any step
    length is stable)."""
    ratio = max_radius_mm / radius_mm - 1.0
    return np.asarray(max_radius_mm / (1.0 + ratio * np.exp(-rate_per_day * days)), np.float64)


def water_shares(x_mm: float, y_mm: float, ml: float, crops_x: Floats, crops_y: Floats) -> Floats:
    """Each crop's millilitres of `ml` poured at (x, y): the share of the wetted disc over
    its root zone (scaled down where root zones overlap, so no water is counted twice)."""
    distance = np.hypot(crops_x - x_mm, crops_y - y_mm)
    overlap = circle_overlap_mm2(distance, WETTED_RADIUS_MM, ROOT_RADIUS_MM)
    wetted_mm2 = math.pi * WETTED_RADIUS_MM**2
    return np.asarray(ml * overlap / max(wetted_mm2, float(overlap.sum())), np.float64)


def circle_overlap_mm2(distance_mm: Floats, radius_a_mm: float, radius_b_mm: float) -> Floats:
    """The area two discs share, for every centre distance."""
    d = np.maximum(np.asarray(distance_mm, np.float64), 1e-9)
    a, b = radius_a_mm, radius_b_mm
    cos_a = np.clip((d**2 + a**2 - b**2) / (2 * d * a), -1.0, 1.0)
    cos_b = np.clip((d**2 + b**2 - a**2) / (2 * d * b), -1.0, 1.0)
    kite = np.sqrt(np.clip((-d + a + b) * (d + a - b) * (d - a + b) * (d + a + b), 0.0, None))
    lens = a**2 * np.arccos(cos_a) + b**2 * np.arccos(cos_b) - kite / 2
    inside = np.pi * min(a, b) ** 2
    return np.where(d <= abs(a - b), inside, np.where(d >= a + b, 0.0, lens))


def leaf_count(radius_mm: float, max_radius_mm: float, grown_leaves: int) -> int:
    """Leaves unfold as the plant grows: two seed leaves, then up to its grown count."""
    share = min(1.0, radius_mm / (0.75 * max_radius_mm))
    leaves = round(SEEDLING_LEAVES + (grown_leaves - SEEDLING_LEAVES) * share)
    return max(1, min(MAX_LEAVES, leaves))
