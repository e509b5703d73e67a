from __future__ import annotations

import numpy as np
import pytest

from vision import VisionError
from vision.colour_model import ColourModel, train_colour_model
from vision.evaluate import iou
from vision.vegetation import VegetationSettings, is_false_colour, vegetation_mask

from .photos import drawn_bed


@pytest.mark.parametrize("false_colour", [False, True], ids=["true colour", "red/NIR"])
def test_drawn_leaves_are_found_on_either_kind_of_camera(false_colour: bool) -> None:
    photo, truth = drawn_bed(seed=1, false_colour=false_colour)
    assert is_false_colour(photo) == false_colour
    assert iou(vegetation_mask(photo), truth) > 0.95


def test_halving_the_light_changes_almost_nothing() -> None:
    photo, truth = drawn_bed(seed=2)
    shaded = (photo // 2).astype(np.uint8)
    assert iou(vegetation_mask(shaded), truth) > 0.93


def test_specks_smaller_than_the_setting_in_mm_are_removed() -> None:
    photo, truth = drawn_bed(seed=3)
    photo[5:7, 5:7] = (50, 180, 60)  # a 2 x 2 px green speck on soil
    settings = VegetationSettings(speck_mm=2.0, gap_mm=0.0)
    assert vegetation_mask(photo)[6, 6]
    assert not vegetation_mask(photo, mm_per_px=0.5, settings=settings)[6, 6]  # 4 px kernel
    assert iou(vegetation_mask(photo, mm_per_px=0.5, settings=settings), truth) > 0.88


def test_negative_sizes_are_refused() -> None:
    with pytest.raises(VisionError, match="0 or more"):
        VegetationSettings(speck_mm=-1)


def test_a_colour_model_learns_the_camera_and_survives_a_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = train_colour_model(drawn_bed(seed=s) for s in range(3))
    photo, truth = drawn_bed(seed=9)
    assert iou(model.mask(photo), truth) > 0.95
    model.save(tmp_path / "camera.npz")
    again = ColourModel.load(tmp_path / "camera.npz")
    assert np.array_equal(again.mask(photo), model.mask(photo))


def test_a_broken_colour_model_file_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "camera.npz"
    path.write_bytes(b"not a model")
    with pytest.raises(VisionError, match="not a colour model"):
        ColourModel.load(path)
    with pytest.raises(VisionError, match="no training photos"):
        train_colour_model([])
