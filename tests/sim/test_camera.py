"""The virtual bed and its camera: reproducible gardens, truth that sits where the camera
model says, and photos realistic enough for the vegetation mask to find the plants."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import numpy as np
import pytest

from sim import SimulatorError
from sim.camera import DAYLIGHT, EVENING, OVERCAST, Lighting, Rendered, render_photo
from sim.garden import Garden, Kind, Plant, Species, scatter_weeds, sow_grid
from vision import VisionError
from vision.camera_model import CameraModel, OriginCorner
from vision.datasets import CROP, SOIL, WEED
from vision.evaluate import iou
from vision.vegetation import vegetation_mask

BED = (0.0, 0.0, 1200.0, 800.0)
CAMERA = CameraModel(width_px=640, height_px=480, mm_per_px=0.5)


@functools.cache
def garden() -> Garden:
    """Lettuces and carrot rows with a flush of weeds, as a bed looks a month after sowing."""
    lettuces = sow_grid((0, 0, 1200, 600), 300, 300, Species.LETTUCE, radius_mm=70, seed=1)
    carrots = sow_grid((0, 600, 1200, 800), 120, 200, Species.CARROT, radius_mm=50, seed=2)
    weeds = scatter_weeds(BED, 80, seed=3)
    return Garden(1200, 800, tuple(lettuces + carrots + weeds), soil_seed=5)


def lettuce_at(x_mm: float, y_mm: float, radius_mm: float = 60) -> Plant:
    return Plant(Kind.CROP, Species.LETTUCE, x_mm, y_mm, radius_mm, leaf_count=10, seed=7)


def centroid_px(rendered: Rendered, index: int) -> np.ndarray:
    rows, cols = np.nonzero(rendered.instances == index + 1)
    return np.array([cols.mean(), rows.mean()])


def touches_border(rendered: Rendered, index: int) -> bool:
    plant = rendered.instances == index + 1
    return bool(plant[0].any() or plant[-1].any() or plant[:, 0].any() or plant[:, -1].any())


def test_sowing_and_scattering_are_reproducible_by_seed() -> None:
    assert sow_grid(BED, 250, 250, seed=4) == sow_grid(BED, 250, 250, seed=4)
    assert sow_grid(BED, 250, 250, seed=4) != sow_grid(BED, 250, 250, seed=5)
    assert scatter_weeds(BED, 30, seed=4) == scatter_weeds(BED, 30, seed=4)
    assert scatter_weeds(BED, 30, seed=4) != scatter_weeds(BED, 30, seed=5)


def test_a_grid_puts_each_crop_in_its_own_cell_and_weeds_stay_small() -> None:
    crops = sow_grid((0, 0, 1000, 500), 250, 250, radius_mm=60, seed=0, jitter_mm=0)
    assert sorted({c.x_mm for c in crops}) == [125, 375, 625, 875]
    assert sorted({c.y_mm for c in crops}) == [125, 375]
    assert all(48 <= c.radius_mm <= 72 and c.kind is Kind.CROP for c in crops)
    weeds = scatter_weeds(BED, 200, seed=0)
    radii = np.array([w.radius_mm for w in weeds])
    assert radii.min() >= 5 and radii.max() <= 40 and np.median(radii) < 22
    assert all(w.kind is Kind.WEED and 0 <= w.x_mm <= 1200 for w in weeds)


def test_a_plant_sits_at_the_pixel_the_camera_model_predicts() -> None:
    # worked by hand: origin bottom-left, so +x is to the right and +y is up the image
    bed = Garden(1000, 1000, (lettuce_at(520, 410, radius_mm=20),))
    rendered = render_photo(bed, CAMERA, 500, 400, 0)
    (seen,) = rendered.plants
    assert seen.centre_px == pytest.approx((320 + 40, 240 - 20))
    assert rendered.instances[220, 360] == 1 and rendered.classes[220, 360] == CROP
    assert np.allclose(centroid_px(rendered, 0), (360, 220), atol=2.0)
    assert seen.visible_px == np.count_nonzero(rendered.instances)


@pytest.mark.parametrize(
    "camera",
    [
        CameraModel(width_px=640, height_px=480, mm_per_px=0.5, rotation_deg=30),
        CameraModel(
            width_px=320,
            height_px=240,
            mm_per_px=1.1,
            calibration_z_mm=-100,
            origin=OriginCorner.TOP_RIGHT,
        ),
        CameraModel(width_px=1296, height_px=966, mm_per_px=0.25, offset_mm=(40, -25)),
        CameraModel(
            width_px=640,
            height_px=480,
            mm_per_px=0.5,
            camera_matrix=[[600.0, 0.0, 330.0], [0.0, 600.0, 235.0], [0.0, 0.0, 1.0]],
            distortion=[-0.25, 0.08, 0.0, 0.0, 0.0],
        ),
    ],
    ids=["turned 30 deg", "coarse, top-right origin", "fine, offset", "barrel lens"],
)
def test_turned_scaled_and_bent_cameras_place_plants_at_predicted_pixels(
    camera: CameraModel,
) -> None:
    rendered = render_photo(garden(), camera, 450, 450, 0)
    whole = [
        p
        for p in rendered.plants
        if p.plant.species is Species.LETTUCE and not touches_border(rendered, p.index)
    ]
    assert whole, "the view should hold at least one whole lettuce"
    for seen in whole:
        predicted = camera.bed_to_pixel((seen.plant.x_mm, seen.plant.y_mm), 450, 450, 0)[0]
        assert np.allclose(seen.centre_px, predicted)
        col, row = np.round(predicted).astype(int)
        assert rendered.instances[row, col] == seen.index + 1
        spread_px = seen.plant.radius_mm / camera.mm_per_px_at(0)
        assert np.linalg.norm(centroid_px(rendered, seen.index) - predicted) < 0.15 * spread_px


def test_truth_classes_follow_the_plants_kinds() -> None:
    rendered = render_photo(garden(), CAMERA, 300, 620, 0)
    kinds = {p.index: p.plant.kind for p in rendered.plants}
    assert {Kind.CROP, Kind.WEED} <= set(kinds.values())
    for index, kind in kinds.items():
        classes = np.unique(rendered.classes[rendered.instances == index + 1])
        assert list(classes) == [CROP if kind is Kind.CROP else WEED]
    assert np.all((rendered.classes == SOIL) == (rendered.instances == 0))
    assert 0.1 < np.count_nonzero(rendered.classes) / rendered.classes.size < 0.9


def test_overlapping_photos_agree_on_the_bed_truth() -> None:
    # 100 px apart along x: the shared part of the bed must carry the same truth
    left = render_photo(garden(), CAMERA, 300, 620, 0)
    right = render_photo(garden(), CAMERA, 350, 620, 0)
    shared_left, shared_right = left.instances[:, 100:], right.instances[:, :-100]
    assert np.mean(shared_left == shared_right) > 0.995


def test_light_changes_the_photo_but_never_the_truth() -> None:
    shots = {
        light: render_photo(garden(), CAMERA, 300, 620, 0, light, seed=2)
        for light in (DAYLIGHT, EVENING, OVERCAST)
    }
    day, evening = shots[DAYLIGHT], shots[EVENING]
    for shot in shots.values():
        assert np.array_equal(shot.instances, day.instances)
        assert np.array_equal(shot.classes, day.classes)
    assert evening.photo.mean() < 0.7 * day.photo.mean()
    blue, red = (evening.photo[..., c].mean() / day.photo[..., c].mean() for c in (0, 2))
    assert red > 1.3 * blue  # a low sun is orange


def test_the_same_arguments_give_the_same_photo_and_the_seed_only_the_noise() -> None:
    first = render_photo(garden(), CAMERA, 600, 400, 0, seed=1)
    again = render_photo(garden(), CAMERA, 600, 400, 0, seed=1)
    other = render_photo(garden(), CAMERA, 600, 400, 0, seed=2)
    assert np.array_equal(first.photo, again.photo)
    assert not np.array_equal(first.photo, other.photo)
    assert np.array_equal(first.instances, other.instances)


@pytest.mark.parametrize("light", [DAYLIGHT, EVENING, OVERCAST], ids=["day", "evening", "overcast"])
@pytest.mark.parametrize("x_mm, y_mm", [(300, 620), (600, 400), (900, 150)])
def test_the_vegetation_mask_finds_the_rendered_plants(
    light: Lighting, x_mm: float, y_mm: float
) -> None:
    rendered = render_photo(garden(), CAMERA, x_mm, y_mm, 0, light, seed=4)
    found = vegetation_mask(rendered.photo)
    assert iou(found, rendered.classes > 0) >= 0.85


def test_a_640_by_480_photo_renders_well_under_a_second() -> None:
    render_photo(garden(), CAMERA, 600, 400, 0)  # warm the leaf-outline cache
    fastest_s = min(_timed(lambda: render_photo(garden(), CAMERA, 600, 400, 0)) for _ in range(3))
    assert fastest_s < 0.6


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def test_bad_settings_are_refused_with_the_reason() -> None:
    with pytest.raises(SimulatorError, match="outside the bed"):
        Garden(500, 500, (lettuce_at(600, 100),))
    with pytest.raises(SimulatorError, match="positive size"):
        Garden(0, 500)
    with pytest.raises(SimulatorError, match="radius_mm must be positive"):
        lettuce_at(10, 10, radius_mm=0)
    with pytest.raises(SimulatorError, match="spacing must be positive"):
        sow_grid(BED, 0, 100)
    with pytest.raises(SimulatorError, match="empty"):
        scatter_weeds((10, 10, 10, 50), 5)
    with pytest.raises(SimulatorError, match="colour_temperature_k"):
        Lighting(colour_temperature_k=100)
    with pytest.raises(VisionError, match="too low"):
        render_photo(garden(), CAMERA, 500, 400, -100)
