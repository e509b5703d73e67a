"""Vision models taught by the simulator read photos of gardens they never saw."""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import pytest

from sim.camera import DAYLIGHT, EVENING, OVERCAST
from sim.vision_models import (
    TrainingShot,
    cache_paths,
    sim_vision_models,
    training_photo,
)
from vision.camera_model import CameraModel
from vision.classify import CropWeedModel
from vision.colour_model import ColourModel
from vision.datasets import CROP, SOIL, WEED

CAMERA = CameraModel(width_px=400, height_px=300, mm_per_px=0.5)
UNSEEN_SHOTS = (
    TrainingShot(15.0, DAYLIGHT),
    TrainingShot(40.0, DAYLIGHT),
    TrainingShot(55.0, EVENING),
    TrainingShot(70.0, OVERCAST),
    TrainingShot(85.0, DAYLIGHT),
    TrainingShot(25.0, OVERCAST),
    TrainingShot(35.0, DAYLIGHT),
    TrainingShot(60.0, DAYLIGHT),
)
"""A season's stages and lights, pooled: one photo's weeds are too few to score alone."""
UNSEEN_SEED = 9_999


@functools.cache
def trained_in(cache_dir: Path) -> tuple[ColourModel, CropWeedModel]:
    return sim_vision_models(CAMERA, 0.0, seed=0, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sim-models")


def pooled_iou(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    shared = sum(int((a & b).sum()) for a, b in pairs)
    either = sum(int((a | b).sum()) for a, b in pairs)
    return shared / either


def test_unseen_gardens_are_read_well(cache_dir: Path) -> None:
    colours, crop_weed = trained_in(cache_dir)
    vegetation, crops, weeds = [], [], []
    for number, shot in enumerate(UNSEEN_SHOTS):
        rendered, sown = training_photo(CAMERA, 0.0, shot, UNSEEN_SEED + number)
        found = colours.mask(rendered.photo)
        classes = crop_weed.classify(rendered.photo, found, CAMERA.mm_per_px, sown)
        vegetation.append((found, rendered.classes != SOIL))
        crops.append((classes == CROP, rendered.classes == CROP))
        weeds.append((classes == WEED, rendered.classes == WEED))
    assert pooled_iou(vegetation) >= 0.85
    assert pooled_iou(crops) >= 0.75
    assert pooled_iou(weeds) >= 0.5


def test_the_second_call_loads_the_cache_and_answers_the_same(cache_dir: Path) -> None:
    colours, crop_weed = trained_in(cache_dir)
    assert all(path.is_file() for path in cache_paths(CAMERA, 0.0, 0, cache_dir))
    started = time.perf_counter()
    loaded_colours, loaded_crop_weed = sim_vision_models(CAMERA, 0.0, seed=0, cache_dir=cache_dir)
    assert time.perf_counter() - started < 0.5
    rendered, sown = training_photo(CAMERA, 0.0, UNSEEN_SHOTS[1], UNSEEN_SEED)
    vegetation = colours.mask(rendered.photo)
    assert np.array_equal(loaded_colours.mask(rendered.photo), vegetation)
    assert np.array_equal(
        loaded_crop_weed.classify(rendered.photo, vegetation, CAMERA.mm_per_px, sown),
        crop_weed.classify(rendered.photo, vegetation, CAMERA.mm_per_px, sown),
    )


def test_the_cache_is_keyed_by_camera_height_and_seed(tmp_path: Path) -> None:
    names = {
        cache_paths(CAMERA, 0.0, 0, tmp_path),
        cache_paths(CAMERA, -100.0, 0, tmp_path),
        cache_paths(CAMERA, 0.0, 1, tmp_path),
        cache_paths(CAMERA.model_copy(update={"mm_per_px": 0.4}), 0.0, 0, tmp_path),
    }
    assert len(names) == 4
