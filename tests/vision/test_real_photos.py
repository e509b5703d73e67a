"""Score floors on the real training photos (issue 4's targets), and FarmBot's fixture."""

from __future__ import annotations

import functools

import pytest

from vision.datasets import open_dataset
from vision.evaluate import Report, evaluate
from vision.farmbot import FarmBotSettings, farmbot_plants
from vision.images import load_photo

from .photos import dataset_dir

FARMBOT_CENTROIDS_PX = [
    (33, 187), (35, 49), (137, 244), (353, 557), (445, 290), (487, 531), (524, 471),
    (604, 341), (706, 492), (733, 521), (748, 446), (761, 227), (796, 415), (799, 455),
    (830, 558), (892, 302),
]  # fmt: skip
"""FarmBot's published output on soil_image.jpg (its README in shared/datasets)."""


def test_the_farmbot_baseline_reproduces_farmbots_own_detections() -> None:
    photo = load_photo(dataset_dir("farmbot_plant_detection") / "soil_image.jpg")
    plants = farmbot_plants(photo, FarmBotSettings(hsv_min=(30, 20, 20)))
    found = sorted((int(plant.x_px), int(plant.y_px)) for plant in plants)
    assert found == FARMBOT_CENTROIDS_PX
    assert len(farmbot_plants(photo)) == 16  # the app's defaults


@functools.cache
def report(name: str) -> Report:
    """The full-size, 4-fold report of one dataset (about 30 s for CWFID, 100 s for
    Carrot-Weed), shared by the tests below."""
    return evaluate(open_dataset(dataset_dir(name)), scale=1.0, folds=4)


@pytest.mark.parametrize(
    ("name", "floor"), [("cwfid", 0.88), ("carrot_weed", 0.90)], ids=["CWFID", "Carrot-Weed"]
)
def test_vegetation_iou_beats_the_floor_and_farmbot(name: str, floor: float) -> None:
    means = report(name).mean_vegetation_iou
    assert means["ours"] >= floor
    assert means["ours"] > means["farmbot"] + 0.05


def test_cwfid_crop_and_weed_meet_issue_4s_targets_with_the_sowing_map() -> None:
    ours = report("cwfid").classes["ours_sown"]
    farmbot = report("cwfid").classes["farmbot_sown"]
    assert ours.mean_iou >= 0.75  # mean of crop and weed IoU, pooled over all photos
    assert ours.weed_recall >= 0.85
    assert ours.crop_strikes == 0
    assert ours.mean_iou > farmbot.mean_iou + 0.3 and ours.weed_recall > farmbot.weed_recall


def test_carrot_weed_is_never_struck_and_beats_farmbots_rule() -> None:
    ours = report("carrot_weed").classes["ours_sown"]
    farmbot = report("carrot_weed").classes["farmbot_sown"]
    assert ours.crop_strikes == 0
    assert ours.mean_iou >= 0.70 and ours.mean_iou > farmbot.mean_iou + 0.15
    assert ours.weed_recall > farmbot.weed_recall + 0.2
