"""A living virtual bed: crops that grow with warmth and water, weeds that come up after
rain and compete with them.

`GrowingBed` holds the state of the bed over a season (crops, weeds, the soil water of
every grid cell, the simulation clock); what happens in one time step is pure functions
of arrays (here and in sim.soil), so a season over hundreds of plants is a few hundred
vectorised steps. docs/garden-model.md has the equations and the source of every number.

- Development runs on thermal time: each day adds its mean temperature above the crop's
  base (sim.crops). A sown seed emerges after its emergence thermal time, or never (its
  germination rate, drawn from the seed); it then grows logistically in *effective*
  thermal time, the degree-days scaled by the water stress Ks squared and by the share
  of growth the weeds around it leave;
- the soil is a grid of buckets (sim.soil) filled by rain and watering, emptied by
  drainage, bare-soil evaporation and the crops' transpiration Kc Ks ET0 over their
  canopy; weather (sim.weather) gives temperatures, rain and ET0 day by day, and without
  any the bed has the constant sunny weather it was calibrated on;
- weeds come up at a background rate and in flushes a few days after the soil is wetted,
  more where it was wetted more; they grow unstressed (they are tough). A weeder strike
  uproots those centred within its reach and cuts back those it only grazes, which regrow.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields
from datetime import date

import numpy as np
from numpy.typing import NDArray

from sim import SimulatorError
from sim.camera import DAYLIGHT, Lighting, Rendered, render_photo
from sim.crops import MEAN_SEEDLING_RADIUS_MM, SEEDLING_BIOMASS_G, CropParams
from sim.crops import crop as crop_params
from sim.garden import LEAF_COUNTS, MAX_LEAVES, Garden, Kind, Plant, Species
from sim.soil import (
    Grid,
    SoilParams,
    add_water,
    evaporation_mm,
    mean_over_discs,
    remove_water,
    sensor_reading,
    spread_over_discs,
    water_stress,
)
from sim.weather import DailyWeather, Weather
from vision.camera_model import CameraModel

Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]
Ints = NDArray[np.intp]

DAY_S = 86_400.0
STEP_DAYS = 0.25
"""Growth is integrated in quarter days (cut at midnights, where the weather changes): a
watering every 2 days is resolved and a month is 120 vectorised steps."""
SHORTEST_STEP_S = 900.0
"""Actions closer than this to the bed's last step act on the bed as it was then, and the
time is grown over at the next step: a plant grows nothing worth a vectorised step in a
quarter of an hour, and a robot's watering round is thousands of actions seconds apart."""

CALIBRATION_DAY = DailyWeather(
    day=date(2026, 5, 1), t_min_c=13.0, t_max_c=27.0, rain_mm=0.0, et0_mm=5.0
)
"""The weather of a bed given none: a dry, warm, sunny late-spring day, every day. At its
20 C a lettuce gains 16 degree-days a day; 5 mm of ET0 is what Hargreaves-Samani gives
for such a day in May at 49 N."""
ADVECTION_FACTOR = 2.4
"""An isolated plant transpires more than its canopy's share of a field: its leaves also
catch the heat of the bare soil around it (the clothesline effect). Kc ET0 over the
canopy is multiplied by this; 2.4 calibrates the demo's watering trial."""

SEEDLING_RADIUS_MM = (0.8 * MEAN_SEEDLING_RADIUS_MM, 1.2 * MEAN_SEEDLING_RADIUS_MM)
SEEDLING_LEAVES = 2
"""A just-emerged plant: two seed leaves a few mm long."""
RATE_VIGOUR_SHARE = 0.5
"""A plant's vigour (the crop's `variability`) shows fully in its final size but only
half in its growth rate: the rate acts exponentially on a seedling, and a full share
would spread two-week-old plants far more (~20 %) than their final weights (~10 %)."""
SAME_HOLE_MM = 5.0
"""A second seed sown this close to a living crop lands in the same hole: one plant."""
ROOT_RADIUS_MM = 75.0
"""A young crop's roots fill about half its spacing; a fixed disc keeps neighbours at
150 mm or more from sharing soil."""
GROWTH_STRESS_EXPONENT = 2.0
"""Leaves stop expanding well before stomata close (leaf growth is the process most
sensitive to water deficit), so growth falls as Ks squared while transpiration falls as
Ks."""
WETTED_RADIUS_MM = 70.0
"""A watering nozzle's water soaks a disc this wide in loam before it drains down."""

WEED_SPECIES = (Species.BROADLEAF, Species.GRASS)
WEED_MAX_RADIUS_MM = 40.0
"""sim.garden.WEED_RADIUS_MM's upper end."""
WEED_BASE_TEMP_C = 4.0
WEED_RATE_PER_CDAY = 0.27 / 16.0
"""Logistic rate of a weed's radius: 0.27 a day at 20 C, so a weed is ~10 mm after a
week and ~30 mm after two."""
WEED_EMERGENCE_RADIUS_MM = (1.5, 3.0)
WEEDS_PER_M2_WEEK = 4.0
"""Background emergence on a cultivated bed, on the soil's residual moisture."""
FLUSH_WEEDS_PER_M2 = 10.0
"""Extra weeds a thorough wetting brings up (a moderate seed bank's top layer)."""
FLUSH_SATURATION_MM = 5.0
"""A wetting of this much or more triggers a whole flush; less, a proportional share."""
FLUSH_LAG_DAYS = (4, 9)
"""A flush comes up spread over these days after the wetting (germination + emergence)."""
WEED_COMPETITION = 3.0
"""Cousens' I: relative growth lost per unit weed cover in a crop's zone, at low cover."""
MAX_WEED_LOSS = 0.9
"""Cousens' A: the share of growth weeds take as their cover grows without bound."""
DAMAGED_SIZE_SHARE = 0.3
"""A weed a strike grazes (its canopy, not its centre, within reach) keeps 30 % of its
radius and regrows from its roots."""
CROP_HEART_MM = 5.0
"""A weeder strike that reaches this close to a crop's centre destroys its heart: dead."""


@dataclass(frozen=True)
class CropState:
    """One sown crop as the bed sees it now; `water_stress` is Ks, 1 = enough water.

    Before emergence `radius_mm` and `biomass_g` are 0; a seed that fails to germinate
    is not `alive` once its emergence time has passed.
    """

    index: int
    species: Species
    x_mm: float
    y_mm: float
    radius_mm: float
    soil_water_ml: float
    water_stress: float
    alive: bool
    crop: str
    emerged: bool
    biomass_g: float
    soil_capacity_ml: float
    """Plant-available water of the root disc at field capacity."""


@dataclass(frozen=True)
class WeedingOutcome:
    """What one weeder strike did: the weeds it uprooted (x, y, radius mm), those it only
    cut back, and crops hit."""

    removed: tuple[tuple[float, float, float], ...]
    crops_struck: int
    """Crops whose heart the strike reached: they are dead."""
    damaged: int = 0

    @property
    def weeds_removed(self) -> int:
        return len(self.removed)

    @property
    def struck_crop(self) -> bool:
        return self.crops_struck > 0


Look = tuple[Species, int, float, int]
Looks = NDArray[np.object_]


def looks_of(looks: list[Look]) -> Looks:
    """`looks` as a one-dimensional array of tuples (numpy would unpack them into a table)."""
    array = np.empty(len(looks), dtype=object)
    for index, look in enumerate(looks):
        array[index] = look
    return array


def inside(discs_mm: Floats, area_mm: tuple[float, float, float, float]) -> Bools:
    """Which discs (rows of x, y, radius) have their centre in the area (x0, y0, x1, y1)."""
    x_min, y_min, x_max, y_max = area_mm
    x_mm, y_mm = discs_mm[:, 0], discs_mm[:, 1]
    return np.asarray((x_min <= x_mm) & (x_mm <= x_max) & (y_min <= y_mm) & (y_mm <= y_max))


def _no_floats() -> Floats:
    return np.zeros(0)


def _no_cells() -> Ints:
    return np.zeros(0, np.intp)


def _no_flags() -> Bools:
    return np.zeros(0, np.bool_)


@dataclass
class _Plants:
    """Plants of one kind as parallel arrays (state) and a list (their fixed looks). The
    radius is a logistic curve in the plant's effective thermal time `progress_cdays`."""

    x_mm: Floats = field(default_factory=_no_floats)
    y_mm: Floats = field(default_factory=_no_floats)
    start_radius_mm: Floats = field(default_factory=_no_floats)
    max_radius_mm: Floats = field(default_factory=_no_floats)
    rate_per_cday: Floats = field(default_factory=_no_floats)
    progress_cdays: Floats = field(default_factory=_no_floats)
    cell: Ints = field(default_factory=_no_cells)
    """The soil cell each plant stands in."""
    looks: Looks = field(default_factory=lambda: looks_of([]))
    """(species, leaves when grown, rotation_deg, seed) per plant: an array of tuples, so
    that weeding one plant out of thousands copies no Python list."""

    @property
    def radius_mm(self) -> Floats:
        return logistic(
            self.start_radius_mm, self.max_radius_mm, self.rate_per_cday, self.progress_cdays
        )

    def extend(self, other: _Plants) -> None:
        """Append `other`'s plants (of the same class)."""
        for column in fields(self):
            mine, theirs = getattr(self, column.name), getattr(other, column.name)
            joined = mine + theirs if isinstance(mine, list) else np.concatenate([mine, theirs])
            setattr(self, column.name, joined)

    def keep(self, kept: Bools) -> None:
        if not kept.all():  # most weeder strikes and days remove nothing
            self.take(np.flatnonzero(kept))

    def take(self, indices: Ints) -> None:
        """Keep the plants at `indices`, in that order."""
        for column in fields(self):
            values = getattr(self, column.name)
            if isinstance(values, list):
                setattr(self, column.name, [values[i] for i in indices.tolist()])
            else:
                setattr(self, column.name, values[indices])

    def as_plants(self, kind: Kind, shown: Bools | None = None) -> list[Plant]:
        radii = self.radius_mm
        return [
            Plant(
                kind,
                species,
                float(self.x_mm[i]),
                float(self.y_mm[i]),
                float(radii[i]),
                leaf_count(float(radii[i]), float(self.max_radius_mm[i]), grown_leaves),
                rotation_deg,
                seed,
            )
            for i, (species, grown_leaves, rotation_deg, seed) in enumerate(self.looks)
            if shown is None or shown[i]
        ]


@dataclass
class _Crops(_Plants):
    """Sown crops (never removed: a dead crop keeps its index) with their crop's numbers."""

    start_biomass_g: Floats = field(default_factory=_no_floats)
    max_biomass_g: Floats = field(default_factory=_no_floats)
    biomass_rate_per_cday: Floats = field(default_factory=_no_floats)
    base_temp_c: Floats = field(default_factory=_no_floats)
    kc: Floats = field(default_factory=_no_floats)
    depletion_p: Floats = field(default_factory=_no_floats)
    emergence_cdays: Floats = field(default_factory=_no_floats)
    sown_cdays: Floats = field(default_factory=_no_floats)
    """Thermal time since sowing (unstressed): when it passes emergence, the seed is up."""
    germinates: Bools = field(default_factory=_no_flags)
    emerged: Bools = field(default_factory=_no_flags)
    alive: Bools = field(default_factory=_no_flags)
    names: list[str] = field(default_factory=list)

    @property
    def growing(self) -> Bools:
        return self.alive & self.emerged

    @property
    def biomass_g(self) -> Floats:
        grown_g = logistic(
            self.start_biomass_g,
            self.max_biomass_g,
            self.biomass_rate_per_cday,
            self.progress_cdays,
        )
        return np.where(self.growing, grown_g, 0.0)


@dataclass
class _Discs:
    """Which cells each plant's disc covers, and the disc's share in each: a sparse
    plant x cell matrix as three parallel arrays."""

    plant: Ints
    cell: Ints
    weight: Floats

    @classmethod
    def empty(cls) -> _Discs:
        return cls(np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0))

    def add(self, plant: int, cells: Ints, weights: Floats) -> None:
        self.plant = np.concatenate([self.plant, np.full(len(cells), plant, np.intp)])
        self.cell = np.concatenate([self.cell, cells])
        self.weight = np.concatenate([self.weight, weights])

    def mean(self, per_cell: Floats, plants: int) -> Floats:
        return mean_over_discs(per_cell, self.plant, self.cell, self.weight, plants)

    def spread(self, per_plant: Floats, cells: int) -> Floats:
        return spread_over_discs(per_plant, self.plant, self.cell, self.weight, cells)


class GrowingBed:
    """The virtual bed over a season; every action happens at a time on the simulation
    clock (seconds), and the bed first grows up to that time. Day 0 of `weather` is the
    day starting at `start_s`; `weed_pressure` scales every weed emergence rate."""

    def __init__(
        self,
        length_x_mm: float,
        length_y_mm: float,
        soil_seed: int = 0,
        seed: int = 0,
        start_s: float = 0.0,
        weather: Weather | None = None,
        weed_pressure: float = 1.0,
        soil: SoilParams | None = None,
    ) -> None:
        if not (length_x_mm > 0 and length_y_mm > 0):
            raise SimulatorError(
                f"the bed must have a positive size, got {length_x_mm} x {length_y_mm} mm"
            )
        if not math.isfinite(start_s):
            raise SimulatorError(f"start_s must be a finite clock time, got {start_s}")
        if not (math.isfinite(weed_pressure) and weed_pressure >= 0):
            raise SimulatorError(f"weed_pressure must be 0 or more, got {weed_pressure}")
        self.length_x_mm, self.length_y_mm = float(length_x_mm), float(length_y_mm)
        self.soil_seed, self.seed = soil_seed, seed
        self.start_s = self.now_s = float(start_s)
        self.weather = weather or Weather((CALIBRATION_DAY,), hold_last=True)
        self.weed_pressure = float(weed_pressure)
        self.soil = soil or SoilParams()
        self.grid = Grid(self.length_x_mm, self.length_y_mm, self.soil.cell_mm)
        self._cell_area_mm2 = self.grid.cell_area_mm2()
        self._per_cell_area = 1.0 / self._cell_area_mm2
        self._cell_bounds_mm = self.grid.cell_bounds_mm()
        self._theta = np.full(self.grid.size, self.soil.field_capacity_vol)
        """Volumetric water content per cell: the bed is sown at field capacity."""
        self._depth_mm = np.full(self.grid.size, self.soil.depth_mm)
        self._wetted_mm = np.zeros((FLUSH_LAG_DAYS[1] + 1, self.grid.size))
        """Water each cell received on each of the last days (a ring, by day index)."""
        self._rng = np.random.default_rng([seed, 1])
        self._sensor_rng = np.random.default_rng([seed, 4])
        self._crops = _Crops()
        self._roots, self._zones = _Discs.empty(), _Discs.empty()
        self._weeds = _Plants()
        self._pending_weeds = _Plants()
        self._pending_s = np.zeros(0)
        """Weeds drawn but not yet come up, and when they will."""
        self._weeds_removed = 0
        self._crops_struck = 0
        self._draw_weeds(0)

    # --- actions ---------------------------------------------------------------------

    def sow(
        self, x_mm: float, y_mm: float, crop: str = "lettuce", at_s: float | None = None
    ) -> int:
        """Sow a seed of `crop` at (x, y); returns its index. A seed sown into a living
        crop's hole (within SAME_HOLE_MM) adds nothing and returns that crop's index."""
        self._check_point("sow", x_mm, y_mm)
        params: CropParams = crop_params(crop)
        self.advance_to(self.now_s if at_s is None else at_s)
        crops = self._crops
        distance = np.hypot(crops.x_mm - x_mm, crops.y_mm - y_mm)
        same_hole = np.flatnonzero(crops.alive & (distance <= SAME_HOLE_MM))
        if len(same_hole):
            return int(same_hole[0])
        rng, index = self._rng, len(crops.names)
        low, high = LEAF_COUNTS[params.species]
        vigour = rng.normal(1.0, params.variability, 3).clip(0.6, 1.4)
        rate_vigour = 1.0 + RATE_VIGOUR_SHARE * (vigour[0] - 1.0)
        look = (
            params.species,
            int(rng.integers(low, high + 1)),
            float(rng.uniform(0, 360)),
            int(rng.integers(0, 2**31)),
        )
        crops.extend(
            _Crops(
                x_mm=_one(x_mm),
                y_mm=_one(y_mm),
                start_radius_mm=_one(rng.uniform(*SEEDLING_RADIUS_MM)),
                max_radius_mm=_one(params.max_radius_mm * vigour[1]),
                rate_per_cday=_one(params.radius_rate_per_cday * rate_vigour),
                progress_cdays=_one(0.0),
                cell=self.grid.cell_of(_one(x_mm), _one(y_mm)),
                looks=looks_of([look]),
                start_biomass_g=_one(SEEDLING_BIOMASS_G),
                max_biomass_g=_one(params.max_biomass_g * vigour[2]),
                biomass_rate_per_cday=_one(params.biomass_rate_per_cday * rate_vigour),
                base_temp_c=_one(params.base_temp_c),
                kc=_one(params.kc_mid),
                depletion_p=_one(params.depletion_p),
                emergence_cdays=_one(params.emergence_cdays),
                sown_cdays=_one(0.0),
                germinates=np.array([rng.uniform() < params.germination_rate]),
                emerged=np.zeros(1, np.bool_),
                alive=np.ones(1, np.bool_),
                names=[params.name],
            )
        )
        root_cells, root_weights = self.grid.disc(x_mm, y_mm, ROOT_RADIUS_MM)
        self._roots.add(index, root_cells, root_weights)
        self._zones.add(index, *self.grid.disc(x_mm, y_mm, params.max_radius_mm))
        # the store under a crop reaches as deep as its roots (the column is uniform)
        self._depth_mm[root_cells] = np.maximum(self._depth_mm[root_cells], params.root_depth_mm)
        return index

    def water(self, x_mm: float, y_mm: float, ml: float, at_s: float | None = None) -> float:
        """Pour `ml` at (x, y); returns the millilitres the soil kept (the rest went
        above field capacity and drained)."""
        self._check_point("water at", x_mm, y_mm)
        if not (math.isfinite(ml) and ml >= 0):
            raise SimulatorError(f"water must be 0 ml or more, got {ml} ml at ({x_mm}, {y_mm})")
        self.advance_to(self.now_s if at_s is None else at_s)
        cells, shares = self.grid.disc(x_mm, y_mm, WETTED_RADIUS_MM)
        added_mm = ml * 1000.0 * shares / self._cell_area_mm2[cells]
        before = self._theta[cells]
        self._theta[cells] = add_water(before, self._depth_mm[cells], added_mm, self.soil)
        self._wetted_mm[self._day_index() % len(self._wetted_mm), cells] += added_mm
        kept_mm3 = (
            (self._theta[cells] - before) * self._depth_mm[cells] * self._cell_area_mm2[cells]
        )
        return float(kept_mm3.sum() / 1000.0)

    def weed(
        self, x_mm: float, y_mm: float, radius_mm: float, at_s: float | None = None
    ) -> WeedingOutcome:
        """A weeder strike at (x, y): uproots every weed centred within `radius_mm`, cuts
        back those whose canopy it reaches, and kills any crop whose heart it reaches
        (within radius + CROP_HEART_MM)."""
        self._check_point("weed at", x_mm, y_mm)
        if not (math.isfinite(radius_mm) and radius_mm >= 0):
            raise SimulatorError(f"a strike's radius_mm must be 0 or more, got {radius_mm}")
        self.advance_to(self.now_s if at_s is None else at_s)
        weeds = self._weeds
        distance, radii = np.hypot(weeds.x_mm - x_mm, weeds.y_mm - y_mm), weeds.radius_mm
        hit = distance <= radius_mm
        grazed = ~hit & (distance <= radius_mm + radii)
        weeds.progress_cdays[grazed] = cut_back_progress(weeds, grazed)
        removed = tuple(
            (float(x), float(y), float(r))
            for x, y, r in zip(weeds.x_mm[hit], weeds.y_mm[hit], radii[hit], strict=True)
        )
        weeds.keep(~hit)
        crops = self._crops
        crop_distance = np.hypot(crops.x_mm - x_mm, crops.y_mm - y_mm)
        killed = crops.alive & (crop_distance <= radius_mm + CROP_HEART_MM)
        crops.alive &= ~killed
        self._weeds_removed += len(removed)
        self._crops_struck += int(killed.sum())
        return WeedingOutcome(removed, int(killed.sum()), int(grazed.sum()))

    def advance_to(self, at_s: float) -> None:
        """Grow everything from the bed's clock to `at_s` (not earlier than now); steps
        end at midnights, where the day's weather and weeds are drawn."""
        if not math.isfinite(at_s) or at_s < self.now_s:
            raise SimulatorError(
                f"the bed is at t = {self.now_s:.0f} s and cannot go back to t = {at_s} s: "
                "actions must come in clock order"
            )
        if at_s - self.now_s < SHORTEST_STEP_S and self._day_index(at_s) == self._day_index():
            return
        while self.now_s < at_s:
            day = self._day_index()
            midnight_s = self.start_s + (day + 1) * DAY_S
            end_s = min(at_s, midnight_s, self.now_s + STEP_DAYS * DAY_S)
            weather = self.weather.on(day)
            self._step(weather, (end_s - self.now_s) / DAY_S)
            self.now_s = end_s
            if end_s == midnight_s:
                self._draw_weeds(day + 1)
            self._emerge_weeds(weather)

    # --- views -----------------------------------------------------------------------

    def weed_discs(self) -> Floats:
        """Each standing weed's (x, y, canopy radius) in mm, a row a weed, in the garden's
        order: what a detector needs, without drawing thousands of plants."""
        weeds = self._weeds
        return np.column_stack([weeds.x_mm, weeds.y_mm, weeds.radius_mm]).reshape(-1, 3)

    def crop_discs(self) -> Floats:
        """Each living, emerged crop's (x, y, canopy radius) in mm, in sowing order."""
        crops, growing = self._crops, self._crops.growing
        return np.column_stack(
            [crops.x_mm[growing], crops.y_mm[growing], crops.radius_mm[growing]]
        ).reshape(-1, 3)

    def garden(self) -> Garden:
        """The bed now, to render: living, emerged crops (in sowing order), then weeds."""
        crops = self._crops.as_plants(Kind.CROP, self._crops.growing)
        plants = crops + self._weeds.as_plants(Kind.WEED)
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
        crops, count = self._crops, len(self._crops.names)
        stress = self._crop_stress()
        available_mm = (self._theta - self.soil.wilting_point_vol) * self._depth_mm
        root_ml = math.pi * ROOT_RADIUS_MM**2 / 1000.0
        water_ml = self._roots.mean(available_mm, count) * root_ml
        capacity_ml = self._roots.mean(self.soil.available_vol * self._depth_mm, count) * root_ml
        radius = np.where(crops.emerged, crops.radius_mm, 0.0)
        biomass = crops.biomass_g
        return tuple(
            CropState(
                i,
                look[0],
                float(crops.x_mm[i]),
                float(crops.y_mm[i]),
                float(radius[i]),
                float(water_ml[i]),
                float(stress[i]),
                bool(crops.alive[i]),
                crops.names[i],
                bool(crops.emerged[i]),
                float(biomass[i]),
                float(capacity_ml[i]),
            )
            for i, look in enumerate(crops.looks)
        )

    def yield_g(self) -> tuple[float, ...]:
        """Fresh weight each crop would give if harvested now (0 for dead or unemerged
        ones), in sowing order."""
        return tuple(float(g) for g in self._crops.biomass_g)

    def soil_moisture(self, x_mm: float, y_mm: float, at_s: float | None = None) -> float:
        """A soil-moisture probe pushed in at (x, y): volumetric water content in %, with
        the sensor's noise (its own seeded stream: reading changes nothing else)."""
        self._check_point("read the soil at", x_mm, y_mm)
        self.advance_to(self.now_s if at_s is None else at_s)
        cell = self.grid.cell_of(np.array([x_mm]), np.array([y_mm]))[0]
        noise = self.soil.sensor_noise_vol_pct
        return sensor_reading(float(self._theta[cell]), noise, self._sensor_rng)

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

    def _day_index(self, at_s: float | None = None) -> int:
        return math.floor(((self.now_s if at_s is None else at_s) - self.start_s) / DAY_S)

    def _crop_stress(self) -> Floats:
        theta = self._roots.mean(self._theta, len(self._crops.names))
        return water_stress(theta, self._crops.depletion_p, self.soil)

    def _step(self, weather: DailyWeather, days: float) -> None:
        """`days` (within one day) of weather: rain, growth, then the water it cost."""
        rain_mm = weather.rain_mm * days
        if rain_mm > 0:
            rain = np.full(self.grid.size, rain_mm)
            self._theta = add_water(self._theta, self._depth_mm, rain, self.soil)
            self._wetted_mm[self._day_index() % len(self._wetted_mm)] += rain_mm
        crops, cells = self._crops, self.grid.size
        degree_days = np.maximum(weather.t_mean_c - crops.base_temp_c, 0.0) * days
        stress = self._crop_stress()
        canopy_mm2 = np.where(crops.growing, math.pi * crops.radius_mm**2, 0.0)
        weed_mm2 = np.bincount(
            self._weeds.cell, weights=math.pi * self._weeds.radius_mm**2, minlength=cells
        )
        # weed canopy per cell area, unclipped: the mean over a zone is the zone's cover
        weed_density = weed_mm2 * self._per_cell_area
        weed_cover = np.minimum(self._zones.mean(weed_density, len(crops.names)), 1.0)
        share_left = 1.0 - weed_loss(weed_cover)
        effective = degree_days * growth_factor(stress) * share_left
        crops.progress_cdays += np.where(crops.growing, effective, 0.0)
        self._emerge_crops(degree_days)
        crop_ml = crops.kc * stress * weather.et0_mm * ADVECTION_FACTOR * canopy_mm2 / 1000.0
        crop_mm = self._roots.spread(crop_ml * days * 1000.0, cells) * self._per_cell_area
        cover = (self._roots.spread(canopy_mm2, cells) + weed_mm2) * self._per_cell_area
        bare = np.maximum(1.0 - cover, 0.0)
        soil_mm = evaporation_mm(self._theta, bare, weather.et0_mm, days, self.soil)
        self._theta = remove_water(self._theta, self._depth_mm, crop_mm + soil_mm, self.soil)
        weed_degree_days = max(weather.t_mean_c - WEED_BASE_TEMP_C, 0.0) * days
        self._weeds.progress_cdays += weed_degree_days

    def _emerge_crops(self, degree_days: Floats) -> None:
        """Seeds gather thermal time; at their emergence time they come up, or the ones
        that were never going to germinate are given up as dead."""
        crops = self._crops
        waiting = crops.alive & ~crops.emerged
        crops.sown_cdays += np.where(crops.alive, degree_days, 0.0)
        due = waiting & (crops.sown_cdays >= crops.emergence_cdays)
        crops.emerged |= due & crops.germinates
        crops.alive &= ~(due & ~crops.germinates)

    def _draw_weeds(self, day: int) -> None:
        """Draw the weeds coming up during `day`, from that day's own seed and the wetting
        of the days before it, so the season does not depend on how the clock moved."""
        ring = self._wetted_mm
        ring[day % len(ring)] = 0.0
        lags = range(FLUSH_LAG_DAYS[0], FLUSH_LAG_DAYS[1] + 1)
        wetted = sum(
            np.minimum(ring[(day - lag) % len(ring)], FLUSH_SATURATION_MM)
            for lag in lags
            if day - lag >= 0
        )
        per_m2 = WEEDS_PER_M2_WEEK / 7.0 + FLUSH_WEEDS_PER_M2 * wetted / (
            FLUSH_SATURATION_MM * len(lags)
        )
        rng = np.random.default_rng([self.seed, 2, day])
        counts = rng.poisson(self.weed_pressure * per_m2 * self._cell_area_mm2 / 1e6)
        cells = np.repeat(np.arange(self.grid.size), counts)
        x_min, y_min, x_max, y_max = (bound[cells] for bound in self._cell_bounds_mm)
        x_mm, y_mm = rng.uniform(x_min, x_max), rng.uniform(y_min, y_max)
        times_s = self.start_s + (day + rng.uniform(0, 1, len(cells))) * DAY_S
        # in order of coming up, so the weeds' order is the same whatever the step grid
        order = np.argsort(times_s, kind="stable")
        weeds = _new_weeds(rng, x_mm, y_mm, cells)
        weeds.take(order)
        self._pending_weeds.extend(weeds)
        self._pending_s = np.concatenate([self._pending_s, times_s[order]])

    def _emerge_weeds(self, weather: DailyWeather) -> None:
        """Weeds whose time has come (within the step just taken, on `weather`'s day)."""
        due = self._pending_s <= self.now_s
        if due.any():
            # grown from the moment each came up, in the day's thermal time: the logistic
            # in thermal time composes, so a season is the same whatever the step grid
            emerged = _subset(self._pending_weeds, due)
            rate = max(weather.t_mean_c - WEED_BASE_TEMP_C, 0.0)
            emerged.progress_cdays = rate * (self.now_s - self._pending_s[due]) / DAY_S
            self._weeds.extend(emerged)
            self._pending_weeds.keep(~due)
            self._pending_s = self._pending_s[~due]


def _one(value: float) -> Floats:
    """A one-plant column."""
    return np.array([float(value)])


def _subset(plants: _Plants, chosen: Bools) -> _Plants:
    part = copy.copy(plants)
    part.keep(chosen)
    return part


def _new_weeds(rng: np.random.Generator, x_mm: Floats, y_mm: Floats, cells: Ints) -> _Plants:
    """Weed seedlings at the given points (in `cells`), each of a random habit and vigour."""
    count = len(x_mm)
    species = [WEED_SPECIES[k] for k in rng.integers(0, len(WEED_SPECIES), count)]
    vigour = rng.normal(1.0, 0.1, (2, count)).clip(0.6, 1.4)
    grown_leaves = [int(rng.integers(LEAF_COUNTS[s][0], LEAF_COUNTS[s][1] + 1)) for s in species]
    rotations, seeds = rng.uniform(0, 360, count), rng.integers(0, 2**31, count)
    return _Plants(
        x_mm=x_mm,
        y_mm=y_mm,
        start_radius_mm=rng.uniform(*WEED_EMERGENCE_RADIUS_MM, count),
        max_radius_mm=WEED_MAX_RADIUS_MM * vigour[1],
        rate_per_cday=WEED_RATE_PER_CDAY * vigour[0],
        progress_cdays=np.zeros(count),
        cell=cells,
        looks=looks_of(
            [
                (s, n, float(r), int(seed))
                for s, n, r, seed in zip(species, grown_leaves, rotations, seeds, strict=True)
            ]
        ),
    )


# --- growth rules (pure) ----------------------------------------------------------------


def logistic(start: Floats, maximum: Floats, rate: Floats, progress: Floats) -> Floats:
    """A logistic curve from `start` towards `maximum`, `progress` along at `rate` (the
    exact solution, so any step length is stable and steps compose)."""
    ratio = maximum / start - 1.0
    return np.asarray(maximum / (1.0 + ratio * np.exp(-rate * progress)), np.float64)


def cut_back_progress(plants: _Plants, chosen: Bools) -> Floats:
    """The progress at which the chosen plants are DAMAGED_SIZE_SHARE of their size now
    (never below their start): the inverse of `logistic`."""
    start, maximum = plants.start_radius_mm[chosen], plants.max_radius_mm[chosen]
    target = np.maximum(DAMAGED_SIZE_SHARE * plants.radius_mm[chosen], start)
    ratio = (maximum / start - 1.0) / (maximum / target - 1.0)
    return np.asarray(np.log(ratio) / plants.rate_per_cday[chosen], np.float64)


def growth_factor(stress: Floats) -> Floats:
    """How much of its unstressed growth rate a crop keeps at stress Ks."""
    return np.asarray(stress**GROWTH_STRESS_EXPONENT, np.float64)


def weed_loss(cover: Floats) -> Floats:
    """The share of growth weeds covering `cover` of a crop's zone take from it: Cousens'
    rectangular hyperbola, in weed cover rather than density."""
    return np.asarray(WEED_COMPETITION * cover / (1.0 + WEED_COMPETITION * cover / MAX_WEED_LOSS))


def leaf_count(radius_mm: float, max_radius_mm: float, grown_leaves: int) -> int:
    """Leaves unfold as the plant grows: two seed leaves, then up to its grown count."""
    share = min(1.0, radius_mm / (0.75 * max_radius_mm))
    leaves = round(SEEDLING_LEAVES + (grown_leaves - SEEDLING_LEAVES) * share)
    return max(1, min(MAX_LEAVES, leaves))
