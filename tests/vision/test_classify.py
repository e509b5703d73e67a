"""Crop vs weed and weeding targets, on rendered photos of the virtual bed with exact truth."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np
import pytest

from sim.camera import EVENING
from vision import VisionError
from vision.classify import (
    Action,
    CropWeedModel,
    TrainingCells,
    WeedingSettings,
    cell_features,
    training_cells,
    weeding_targets,
)
from vision.datasets import CROP, SOIL, WEED
from vision.vegetation import vegetation_mask

from .photos import RENDER_CAMERA, rendered_view

MM_PER_PX = RENDER_CAMERA.mm_per_px
TRAINING_VIEWS = range(6)
SCORED_VIEWS = (6, 7)


@functools.cache
def model(uses_sowing_map: bool = True) -> CropWeedModel:
    """A forest taught by the first rendered photos (truth vegetation and classes)."""
    examples = []
    for index in TRAINING_VIEWS:
        rendered, sown = rendered_view(index)
        cells = cell_features(
            rendered.photo,
            rendered.classes != SOIL,
            MM_PER_PX,
            sown if uses_sowing_map else None,
        )
        examples.append(training_cells(cells, rendered.classes))
    return CropWeedModel.train(sum(examples[1:], examples[0]), uses_sowing_map)


def class_iou(predicted: np.ndarray, truth: np.ndarray, kind: int) -> float:
    return float(
        ((predicted == kind) & (truth == kind)).sum()
        / ((predicted == kind) | (truth == kind)).sum()
    )


@pytest.mark.parametrize("index", SCORED_VIEWS)
def test_unseen_photos_get_crop_and_weed_right(index: int) -> None:
    rendered, sown = rendered_view(index)
    classes = model().classify(rendered.photo, vegetation_mask(rendered.photo), MM_PER_PX, sown)
    assert classes.shape == rendered.classes.shape and classes.dtype == np.uint8
    assert class_iou(classes, rendered.classes, CROP) >= 0.85
    assert class_iou(classes, rendered.classes, WEED) >= 0.6


def test_evening_light_changes_little() -> None:
    rendered, sown = rendered_view(SCORED_VIEWS[0], EVENING)
    classes = model().classify(rendered.photo, vegetation_mask(rendered.photo), MM_PER_PX, sown)
    assert class_iou(classes, rendered.classes, CROP) >= 0.8


@pytest.mark.parametrize("index", SCORED_VIEWS)
def test_no_weed_target_lands_on_a_crop_and_every_weed_gets_one(index: int) -> None:
    rendered, sown = rendered_view(index)
    classes = model().classify(rendered.photo, vegetation_mask(rendered.photo), MM_PER_PX, sown)
    targets = weeding_targets(classes, MM_PER_PX, sown)
    strikes = [t for t in targets if t.action is Action.WEED]
    assert strikes, "a photo full of weeds gets weeding targets"
    crop = (rendered.classes == CROP).astype(np.uint8)
    # the struck disc keeps clear of every true crop pixel, not just its centre
    for target in strikes:
        disc = np.zeros_like(crop)
        radius_px = round(target.radius_mm / MM_PER_PX)
        cv2.circle(disc, (round(target.x_px), round(target.y_px)), radius_px, 1, -1)
        assert not (disc & crop).any(), f"{target} would strike a crop"
    reached = {
        int(rendered.instances[round(t.y_px), round(t.x_px)]) for t in targets
    }  # strikes and reviews: every sizable weed is somebody's decision
    for plant in rendered.plants:
        if plant.plant.kind.value == "weed" and plant.visible_px * MM_PER_PX**2 >= 40:
            assert plant.index + 1 in reached, f"weed {plant.plant} has no target"


def test_a_model_without_the_sowing_map_still_tells_big_rosettes_from_weeds() -> None:
    rendered, _ = rendered_view(SCORED_VIEWS[0])
    unsown = model(uses_sowing_map=False)
    classes = unsown.classify(rendered.photo, vegetation_mask(rendered.photo), MM_PER_PX)
    assert class_iou(classes, rendered.classes, CROP) >= 0.6


def test_a_sowing_map_model_refuses_to_guess_without_the_map() -> None:
    rendered, _ = rendered_view(0)
    with pytest.raises(VisionError, match="trained with a sowing map"):
        model().classify(rendered.photo, rendered.classes != SOIL, MM_PER_PX)


def test_a_saved_model_loads_and_answers_the_same(tmp_path: Path) -> None:
    rendered, sown = rendered_view(SCORED_VIEWS[1])
    vegetation = vegetation_mask(rendered.photo)
    path = tmp_path / "crop-weed.npz"
    model().save(path)
    loaded = CropWeedModel.load(path)
    assert loaded.uses_sowing_map
    before = model().classify(rendered.photo, vegetation, MM_PER_PX, sown)
    assert np.array_equal(loaded.classify(rendered.photo, vegetation, MM_PER_PX, sown), before)


def test_a_corrupt_or_foreign_model_file_is_refused(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a model")
    with pytest.raises(VisionError, match="is not a crop/weed model"):
        CropWeedModel.load(garbage)
    old = tmp_path / "old.npz"
    np.savez(old, version=0, uses_sowing_map=True, forest=np.array(""))
    with pytest.raises(VisionError, match="format 0"):
        CropWeedModel.load(old)


def test_training_needs_both_classes_and_one_feature_set() -> None:
    only_weeds = TrainingCells(np.zeros((10, 13), np.float32), np.full(10, WEED, np.int32))
    with pytest.raises(VisionError, match="only one class"):
        CropWeedModel.train(only_weeds, uses_sowing_map=True)
    mixed = TrainingCells(np.zeros((10, 11), np.float32), np.arange(10, dtype=np.int32) % 2 + 1)
    with pytest.raises(VisionError, match="with and without a sowing map"):
        CropWeedModel.train(mixed, uses_sowing_map=True)
    with pytest.raises(VisionError, match="no labelled plant cells"):
        CropWeedModel.train(
            TrainingCells(np.zeros((0, 13), np.float32), np.zeros(0, np.int32)), True
        )


def drawn_classes() -> np.ndarray:
    """A crop disc at (100, 100) px, a small weed beside it, one far away, a long weed strip."""
    classes = np.zeros((300, 400), np.uint8)
    cv2.circle(classes, (100, 100), 30, CROP, -1)
    cv2.circle(classes, (140, 100), 6, WEED, -1)  # touching the crop's edge
    cv2.circle(classes, (300, 80), 10, WEED, -1)  # alone
    cv2.rectangle(classes, (20, 250), (380, 262), WEED, -1)  # 180 x 6 mm
    return classes


def test_a_lone_weed_is_struck_at_its_heart_with_a_radius_that_covers_it() -> None:
    targets = weeding_targets(drawn_classes(), 0.5, [(100.0, 100.0)])
    lone = next(t for t in targets if abs(t.x_px - 300) < 3 and abs(t.y_px - 80) < 3)
    assert lone.action is Action.WEED
    assert 5.0 <= lone.radius_mm <= 6.0  # a 10 px (5 mm) radius disc, reached to its edge


def test_a_weed_touching_a_crop_is_left_for_review() -> None:
    targets = weeding_targets(drawn_classes(), 0.5, [(100.0, 100.0)])
    beside = [t for t in targets if abs(t.x_px - 140) < 8 and abs(t.y_px - 100) < 8]
    assert [t.action for t in beside] == [Action.REVIEW]


def test_a_weed_near_a_sown_point_is_reviewed_even_where_no_crop_shows() -> None:
    classes = np.zeros((300, 400), np.uint8)
    cv2.circle(classes, (200, 150), 8, WEED, -1)
    sown_nearby = weeding_targets(classes, 0.5, [(230.0, 150.0)])  # 15 mm away
    assert [t.action for t in sown_nearby] == [Action.REVIEW]
    settings = WeedingSettings(crop_spread_mm=10.0)
    assert [t.action for t in weeding_targets(classes, 0.5, [(230.0, 150.0)], settings)] == [
        Action.WEED
    ]


def test_a_long_weed_gets_several_targets_that_together_cover_it() -> None:
    targets = weeding_targets(drawn_classes(), 0.5, [(100.0, 100.0)])
    strip = [t for t in targets if t.y_px > 240]
    assert len(strip) >= 180 / (2 * WeedingSettings().reach_mm)
    xs = sorted(t.x_px for t in strip)
    assert xs[0] < 20 + 2 * WeedingSettings().reach_mm / 0.5
    assert max(np.diff(xs)) <= 2 * WeedingSettings().reach_mm / 0.5 + 1


def test_specks_get_no_target_and_bad_maps_are_refused() -> None:
    classes = np.zeros((100, 100), np.uint8)
    classes[50, 50] = WEED
    assert weeding_targets(classes, 0.5) == []
    with pytest.raises(VisionError, match="8-bit"):
        weeding_targets(classes.astype(np.int32), 0.5)
    with pytest.raises(VisionError, match="mm_per_px must be positive"):
        weeding_targets(classes, 0)
    with pytest.raises(VisionError, match="sown points"):
        weeding_targets(classes, 0.5, np.array([[1.0, np.nan]]))


def test_training_is_reproducible_whatever_was_trained_before() -> None:
    rendered, sown = rendered_view(TRAINING_VIEWS[0])
    cells = cell_features(rendered.photo, rendered.classes != SOIL, MM_PER_PX, sown)
    examples = training_cells(cells, rendered.classes)
    first = CropWeedModel.train(examples, uses_sowing_map=True)
    cv2.randu(np.zeros((64, 64), np.float32), 0, 1)  # another user of OpenCV's generator
    second = CropWeedModel.train(examples, uses_sowing_map=True)
    photo, sown_px = rendered_view(SCORED_VIEWS[0])
    vegetation = vegetation_mask(photo.photo)
    assert np.array_equal(
        first.classify(photo.photo, vegetation, MM_PER_PX, sown_px),
        second.classify(photo.photo, vegetation, MM_PER_PX, sown_px),
    )
