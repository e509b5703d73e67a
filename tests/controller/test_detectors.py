"""`detect` steps: FarmBot's plant-detection done with the photo grid and our vision, on
the simulator's camera, with arguments checked before anything moves."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from controller.sequence_load import SequenceError
from controller.sequences import check_text, dry_run, load_sequence
from potager.robots import get_profile
from sim.detection import simulator_detectors
from sim.garden import Kind, garden_for_farm
from sim.serve import firmware_for

PROFILE = get_profile("genesis")
EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "find-weeds.yaml"


@pytest.fixture(autouse=True)
def _models_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POTAGER_DATA_DIR", str(tmp_path_factory.getbasetemp() / "potager-data"))


def test_plant_detection_finds_the_weeds_and_strikes_none_near_a_lettuce() -> None:
    detectors, eyes = simulator_detectors(PROFILE)
    checked = load_sequence(EXAMPLE, PROFILE, detectors=detectors)
    eyes.farm = checked.farm
    run = dry_run(checked, PROFILE, firmware_for(PROFILE), detectors=detectors)
    found = run.record.detections["plant-detection"]
    assert found["photos"] >= 1
    garden = garden_for_farm(checked.farm, PROFILE.length_x_mm, PROFILE.length_y_mm)
    x_min, y_min, x_max, y_max = found["area_mm"]
    weeds = [p for p in garden.plants if p.kind is Kind.WEED]
    in_area = [w for w in weeds if x_min <= w.x_mm <= x_max and y_min <= w.y_mm <= y_max]
    lettuces = [(p.x_mm, p.y_mm) for p in checked.farm.plants]
    assert found["weeds"], "a flush of weeds around the lettuces gets strikes"
    for strike in found["weeds"]:
        assert min(math.dist((strike["x_mm"], strike["y_mm"]), at) for at in lettuces) >= 60
        nearest = min(
            weeds, key=lambda w: math.dist((w.x_mm, w.y_mm), (strike["x_mm"], strike["y_mm"]))
        )
        assert (
            math.dist((nearest.x_mm, nearest.y_mm), (strike["x_mm"], strike["y_mm"]))
            <= nearest.radius_mm + 5
        )
    seen = len(found["weeds"]) + len(found["review"])
    assert seen >= len(in_area) / 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            "{area_mm: [600, 0, 100, 500]}",
            "area_mm is x_min, y_min, x_max, y_max with max above min",
        ),
        ("{crop_spread: 60}", "crop_spread"),
        ("{crop_spread_mm: -1}", "greater than 0"),
    ],
)
def test_its_arguments_are_checked_before_anything_moves(arguments: str, message: str) -> None:
    detectors, _ = simulator_detectors(PROFILE)
    text = EXAMPLE.read_text().replace("arguments: {crop_spread_mm: 60}", f"arguments: {arguments}")
    with pytest.raises(SequenceError, match=message):
        check_text(text, PROFILE, detectors=detectors)


def test_without_a_camera_a_detect_step_is_refused_by_name() -> None:
    with pytest.raises(SequenceError, match="no detector is called 'plant-detection'"):
        load_sequence(EXAMPLE, PROFILE, detectors={})
