"""The crops table and the soil bucket: the numbers the garden model runs on."""

from __future__ import annotations

import numpy as np
import pytest

from sim.crops import CROPS, MATURE_SHARE, MEAN_SEEDLING_RADIUS_MM, CropError, crop
from sim.garden import LEAF_COUNTS
from sim.growth import logistic
from sim.soil import (
    Grid,
    SoilParams,
    add_water,
    evaporation_mm,
    remove_water,
    sensor_reading,
    water_stress,
)

SOIL = SoilParams()


def test_the_table_has_the_five_crops_each_drawable() -> None:
    assert set(CROPS) == {"lettuce", "radish", "carrot", "spinach", "dwarf beans"}
    assert crop("lettuce").species == "lettuce" and crop("carrot").species == "carrot"
    assert all(params.species in LEAF_COUNTS for params in CROPS.values())


def test_an_unknown_crop_names_the_close_ones() -> None:
    with pytest.raises(CropError, match="did you mean 'spinach'"):
        crop("spinage")
    with pytest.raises(CropError, match="the crops are carrot, dwarf beans, lettuce"):
        crop("okra")


@pytest.mark.parametrize("name", sorted(CROPS))
def test_an_unstressed_crop_is_nearly_grown_at_maturity(name: str) -> None:
    params = crop(name)
    one = np.ones(1)
    span = params.growing_cdays * one
    radius = logistic(MEAN_SEEDLING_RADIUS_MM * one, params.max_radius_mm * one,
                      params.radius_rate_per_cday * one, span)  # fmt: skip
    assert radius[0] == pytest.approx(MATURE_SHARE * params.max_radius_mm)
    half = logistic(MEAN_SEEDLING_RADIUS_MM * one, params.max_radius_mm * one,
                    params.radius_rate_per_cday * one, span / 2)  # fmt: skip
    assert half[0] < radius[0]


def test_a_crop_must_emerge_before_it_matures() -> None:
    with pytest.raises(ValueError, match="emergence"):
        crop("radish").model_validate(crop("radish").model_dump() | {"emergence_cdays": 400})


def test_water_above_field_capacity_drains_and_none_goes_below_wilting() -> None:
    theta = np.array([SOIL.wilting_point_vol, 0.2])
    depth = np.full(2, 300.0)
    wet = add_water(theta, depth, np.array([6.0, 100.0]), SOIL)
    assert wet[0] == pytest.approx(SOIL.wilting_point_vol + 6.0 / 300.0)
    assert wet[1] == SOIL.field_capacity_vol
    assert np.all(remove_water(wet, depth, np.full(2, 500.0), SOIL) == SOIL.wilting_point_vol)


def test_stress_follows_fao56() -> None:
    """Ks = 1 until p of the available water is used, then linear to 0 (FAO-56 eq. 84)."""
    p = np.full(3, 0.3)
    available = SOIL.available_vol
    theta = SOIL.field_capacity_vol - available * np.array([0.3, 0.65, 1.0])
    assert water_stress(theta, p, SOIL) == pytest.approx([1.0, 0.5, 0.0])


def test_bare_soil_evaporates_less_as_it_dries_and_under_leaves() -> None:
    theta = np.array([SOIL.field_capacity_vol, 0.5 * (SOIL.field_capacity_vol + 0.11), 0.11])
    bare = evaporation_mm(theta, np.ones(3), 5.0, 1.0, SOIL)
    assert bare[0] == pytest.approx(SOIL.evaporation_coeff * 5.0) and bare[0] > bare[1] > bare[2]
    assert evaporation_mm(theta, np.full(3, 0.5), 5.0, 1.0, SOIL) == pytest.approx(bare / 2)


def test_a_disc_is_shared_over_the_cells_it_covers() -> None:
    grid = Grid(1000.0, 500.0, 25.0)
    assert grid.shape == (20, 40) and grid.size == 800
    cells, shares = grid.disc(500.0, 250.0, 70.0)
    assert shares.sum() == pytest.approx(1.0) and len(cells) > 20
    corner, corner_shares = grid.disc(0.0, 0.0, 70.0)  # half off the bed: all kept on it
    assert corner_shares.sum() == pytest.approx(1.0) and corner.min() == 0
    assert grid.cell_area_mm2().sum() == pytest.approx(1000.0 * 500.0)


def test_the_sensor_is_noisy_but_never_out_of_range() -> None:
    rng = np.random.default_rng(0)
    readings = [sensor_reading(0.2, 1.5, rng) for _ in range(500)]
    assert np.mean(readings) == pytest.approx(20.0, abs=0.3)
    assert 1.0 < np.std(readings) < 2.0
    assert sensor_reading(0.0, 5.0, rng) >= 0.0 and sensor_reading(1.0, 5.0, rng) <= 100.0
