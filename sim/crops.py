"""The crops a simulated bed can grow, each described by the handful of numbers the garden
model needs; docs/garden-model.md gives the source of every one (or says it is ours).

Growth runs on thermal time: degree-days above the crop's base temperature, so that a
cold spring slows every crop by the same rule. A crop emerges once its seed has had
`emergence_cdays` and reaches harvest maturity at `maturity_cdays` (both from sowing);
between the two its canopy radius and fresh weight follow logistic curves that reach
`MATURE_SHARE` of their maxima at maturity, which fixes their rates from the table alone.
"""

from __future__ import annotations

import difflib
import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim import SimulatorError
from sim.garden import Species

MATURE_SHARE = 0.95
"""A crop at maturity has 95 % of its maximum size: the logistic never quite gets there."""
MEAN_SEEDLING_RADIUS_MM = 5.0
"""A just-emerged seedling: two seed leaves a few millimetres long."""
SEEDLING_BIOMASS_G = 0.02
"""Fresh weight of a just-emerged seedling (cotyledons and a radicle): 20 mg."""


class CropError(SimulatorError):
    """A crop was asked for that the table does not hold."""


class CropParams(BaseModel):
    """One crop's parameters; temperatures in degrees C, thermal times in degree-days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    species: Species = Field(description="the shape the simulated camera draws it with")
    base_temp_c: float = Field(description="no development below this daily mean")
    emergence_cdays: float = Field(gt=0, description="thermal time from sowing to emergence")
    maturity_cdays: float = Field(gt=0, description="thermal time from sowing to harvest")
    max_biomass_g: float = Field(gt=0, description="fresh weight harvested per plant")
    max_radius_mm: float = Field(gt=MEAN_SEEDLING_RADIUS_MM)
    kc_mid: float = Field(gt=0, description="FAO-56 crop coefficient, mid-season")
    germination_rate: float = Field(ge=0, le=1, description="share of seeds that emerge")
    variability: float = Field(ge=0, lt=0.5, description="plant-to-plant CV of vigour")
    depletion_p: float = Field(gt=0, lt=1, description="FAO-56 p: depletion before stress")
    root_depth_mm: float = Field(gt=0, description="depth of the soil store the roots use")

    @model_validator(mode="after")
    def _emerges_before_maturity(self) -> CropParams:
        if not self.emergence_cdays < self.maturity_cdays:
            raise ValueError(
                f"{self.name}: emergence ({self.emergence_cdays} Cd) must come before "
                f"maturity ({self.maturity_cdays} Cd)"
            )
        return self

    @property
    def radius_rate_per_cday(self) -> float:
        """Logistic rate of the canopy radius per degree-day of unstressed growth."""
        return logistic_rate(MEAN_SEEDLING_RADIUS_MM, self.max_radius_mm, self.growing_cdays)

    @property
    def biomass_rate_per_cday(self) -> float:
        """Logistic rate of the fresh weight per degree-day of unstressed growth."""
        return logistic_rate(SEEDLING_BIOMASS_G, self.max_biomass_g, self.growing_cdays)

    @property
    def growing_cdays(self) -> float:
        """Thermal time from emergence to maturity."""
        return self.maturity_cdays - self.emergence_cdays


def logistic_rate(start: float, maximum: float, span: float) -> float:
    """The rate at which a logistic curve from `start` reaches MATURE_SHARE of `maximum`
    after `span`: x(t) = max / (1 + (max / start - 1) exp(-rate t))."""
    return math.log((maximum / start - 1.0) / (1.0 / MATURE_SHARE - 1.0)) / span


CROPS: dict[str, CropParams] = {
    params.name: params
    for params in (
        CropParams(
            name="lettuce",
            species=Species.LETTUCE,
            base_temp_c=4.0,
            emergence_cdays=40.0,
            maturity_cdays=650.0,
            max_biomass_g=300.0,
            max_radius_mm=120.0,
            kc_mid=1.00,
            germination_rate=0.95,
            variability=0.10,
            depletion_p=0.30,
            root_depth_mm=300.0,
        ),
        CropParams(
            name="radish",
            species=Species.LETTUCE,
            base_temp_c=5.0,
            emergence_cdays=50.0,
            maturity_cdays=360.0,
            max_biomass_g=25.0,
            max_radius_mm=60.0,
            kc_mid=0.90,
            germination_rate=0.90,
            variability=0.10,
            depletion_p=0.30,
            root_depth_mm=300.0,
        ),
        CropParams(
            name="carrot",
            species=Species.CARROT,
            base_temp_c=3.5,
            emergence_cdays=170.0,
            maturity_cdays=1100.0,
            max_biomass_g=100.0,
            max_radius_mm=90.0,
            kc_mid=1.05,
            germination_rate=0.80,
            variability=0.10,
            depletion_p=0.35,
            root_depth_mm=500.0,
        ),
        CropParams(
            name="spinach",
            species=Species.LETTUCE,
            base_temp_c=2.0,
            emergence_cdays=110.0,
            maturity_cdays=720.0,
            max_biomass_g=50.0,
            max_radius_mm=100.0,
            kc_mid=1.00,
            germination_rate=0.85,
            variability=0.10,
            depletion_p=0.20,
            root_depth_mm=300.0,
        ),
        CropParams(
            name="dwarf beans",
            species=Species.LETTUCE,
            base_temp_c=10.0,
            emergence_cdays=65.0,
            maturity_cdays=465.0,
            max_biomass_g=120.0,
            max_radius_mm=175.0,
            kc_mid=1.05,
            germination_rate=0.90,
            variability=0.10,
            depletion_p=0.45,
            root_depth_mm=500.0,
        ),
    )
}


def crop(name: str) -> CropParams:
    """The crop called `name`; an unknown name is refused with the closest known ones."""
    try:
        return CROPS[name]
    except KeyError:
        close = difflib.get_close_matches(name, CROPS, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
        raise CropError(
            f"unknown crop {name!r}: {hint}the crops are {', '.join(sorted(CROPS))}"
        ) from None
