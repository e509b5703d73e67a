"""The camera model: FarmBot's pixel <-> bed conventions, height, lens, the saved file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from vision import VisionError
from vision.camera_model import (
    FARMBOT_FOCAL_LENGTH_PX,
    CameraModel,
    OriginCorner,
    load_camera_model,
    save_camera_model,
)

SOIL_BGR = (40, 60, 90)  # brown, too dark for the red-dot window (V < 100)


def angle_gap_deg(first_deg: float, second_deg: float) -> float:
    return abs((first_deg - second_deg + 180.0) % 360.0 - 180.0)


# --- the camera model's conventions ------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "right_x_mm", "up_y_mm"),
    [
        (OriginCorner.BOTTOM_LEFT, 20.0, 20.0),
        (OriginCorner.BOTTOM_RIGHT, -20.0, 20.0),
        (OriginCorner.TOP_LEFT, 20.0, -20.0),
        (OriginCorner.TOP_RIGHT, -20.0, -20.0),
    ],
)
def test_the_origin_corner_sets_which_way_the_bed_axes_run(
    origin: OriginCorner, right_x_mm: float, up_y_mm: float
) -> None:
    model = CameraModel(
        width_px=640, height_px=480, mm_per_px=2.0, origin=origin, offset_mm=(50, 100)
    )
    centre_x, centre_y = model.centre_px
    points = [(centre_x, centre_y), (centre_x + 10, centre_y), (centre_x, centre_y - 10)]
    centre_mm, right_mm, up_mm = model.pixel_to_bed(points, 1000.0, 500.0, 0.0)
    assert centre_mm == pytest.approx((1050.0, 600.0))  # the camera's position plus the offset
    assert right_mm - centre_mm == pytest.approx((right_x_mm, 0.0))
    assert up_mm - centre_mm == pytest.approx((0.0, up_y_mm))


def test_the_centre_pixel_is_rounded_down_as_farmbot_does() -> None:
    assert CameraModel(width_px=931, height_px=581, mm_per_px=1.0).centre_px == (465.0, 290.0)


@pytest.mark.parametrize("rotation_deg", [30.0, 90.0, -45.0])
def test_a_camera_turned_counter_clockwise_shows_bed_x_turned_the_same_way(
    rotation_deg: float,
) -> None:
    model = CameraModel(width_px=640, height_px=480, mm_per_px=2.0, rotation_deg=rotation_deg)
    angle = np.radians(rotation_deg)
    centre = np.array(model.centre_px)
    along_bed_x = centre + 10 * np.array([np.cos(angle), -np.sin(angle)])  # rows grow down
    moved_mm = (
        model.pixel_to_bed([along_bed_x], 0, 0, 0)[0] - model.pixel_to_bed(centre, 0, 0, 0)[0]
    )
    assert moved_mm == pytest.approx((20.0, 0.0), abs=1e-9)


def test_pixel_size_grows_by_one_over_the_focal_length_per_mm_of_rise() -> None:
    model = CameraModel(
        width_px=640, height_px=480, mm_per_px=1.0, calibration_z_mm=-100.0, focal_length_px=500.0
    )
    assert model.mm_per_px_at(-100.0) == pytest.approx(1.0)
    assert model.mm_per_px_at(0.0) == pytest.approx(1.2)
    assert model.mm_per_px_at(-300.0) == pytest.approx(0.6)
    assert model.view_mm(0.0) == pytest.approx((768.0, 576.0))
    first, second = model.pixel_to_bed([(100, 240), (200, 240)], 0, 0, 0.0)
    assert second[0] - first[0] == pytest.approx(120.0)


def test_the_default_height_correction_is_farmbots() -> None:
    model = CameraModel(width_px=640, height_px=480, mm_per_px=1.5, calibration_z_mm=0.0)
    assert model.mm_per_px_at(FARMBOT_FOCAL_LENGTH_PX) == pytest.approx(2.5)


def test_a_camera_z_below_the_lens_reach_is_refused_not_mirrored() -> None:
    model = CameraModel(width_px=640, height_px=480, mm_per_px=0.5, focal_length_px=500.0)
    with pytest.raises(VisionError, match="too low"):
        model.pixel_to_bed([(0, 0)], 0, 0, -300.0)


def lens_model() -> CameraModel:
    return CameraModel(
        width_px=640,
        height_px=480,
        mm_per_px=0.8,
        calibration_z_mm=-200.0,
        rotation_deg=33.0,
        origin=OriginCorner.TOP_RIGHT,
        offset_mm=(50.0, 100.0),
        focal_length_px=520.0,
        camera_matrix=[[520.0, 0.0, 322.0], [0.0, 520.0, 236.0], [0.0, 0.0, 1.0]],
        distortion=[-0.35, 0.08, 0.0, 0.0, 0.0],  # strong barrel, as on wide FarmBot cameras
    )


def test_pixels_survive_a_round_trip_through_the_bed_with_rotation_and_distortion() -> None:
    model = lens_model()
    columns, rows = np.meshgrid(np.linspace(0, 639, 9), np.linspace(0, 479, 7))
    pixels = np.column_stack([columns.ravel(), rows.ravel()])  # corners included
    bed_mm = model.pixel_to_bed(pixels, 700.0, 300.0, -150.0)
    assert model.bed_to_pixel(bed_mm, 700.0, 300.0, -150.0) == pytest.approx(pixels, abs=1e-4)
    assert model.pixel_to_bed(
        model.bed_to_pixel(bed_mm, 700.0, 300.0, -150.0), 700.0, 300.0, -150.0
    ) == pytest.approx(bed_mm, abs=1e-4)


def test_a_barrel_lens_puts_the_image_corners_further_out_and_the_middle_in_place() -> None:
    bent = lens_model()
    straight = bent.model_copy(update={"camera_matrix": None, "distortion": None})
    principal_and_corner_px = [(322, 236), (0, 0)]
    bent_mm = bent.pixel_to_bed(principal_and_corner_px, 0, 0, -200)
    straight_mm = straight.pixel_to_bed(principal_and_corner_px, 0, 0, -200)
    assert bent_mm[0] == pytest.approx(straight_mm[0])
    reach_bent_mm = np.linalg.norm(bent_mm[1] - bent_mm[0])
    reach_straight_mm = np.linalg.norm(straight_mm[1] - straight_mm[0])
    assert reach_bent_mm > reach_straight_mm + 20.0


def test_the_affine_matrix_agrees_with_pixel_to_bed() -> None:
    model = CameraModel(
        width_px=640, height_px=480, mm_per_px=1.3, rotation_deg=12.0, offset_mm=(5, 7)
    )
    pixels = np.array([[0.0, 0.0], [639.0, 12.0], [300.0, 470.0]])
    matrix = model.pixel_to_bed_matrix(100.0, 200.0, -50.0)
    moved = cv2.transform(pixels.reshape(-1, 1, 2), matrix).reshape(-1, 2)
    assert moved == pytest.approx(model.pixel_to_bed(pixels, 100.0, 200.0, -50.0))


def test_a_lens_needs_both_its_matrix_and_its_distortion() -> None:
    with pytest.raises(ValidationError, match="come together"):
        CameraModel(width_px=64, height_px=48, mm_per_px=1.0, camera_matrix=np.eye(3).tolist())
    with pytest.raises(ValidationError, match="3 x 3"):
        CameraModel(
            width_px=64, height_px=48, mm_per_px=1.0, camera_matrix=[[1.0]], distortion=[0.0] * 5
        )


# --- saved camera models --------------------------------------------------------------------


def test_a_saved_model_loads_back_equal(tmp_path: Path) -> None:
    model = lens_model().model_copy(update={"robot": "bed-1"})
    path = save_camera_model(model, tmp_path)
    assert path == tmp_path / "cameras" / "bed-1.json"
    assert json.loads(path.read_text())["version"] == 1
    assert load_camera_model("bed-1", tmp_path) == model
    assert os.listdir(path.parent) == ["bed-1.json"]  # no temporary file left behind


def test_a_failed_save_leaves_the_previous_model_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = CameraModel(robot="bed-1", width_px=640, height_px=480, mm_per_px=1.0)
    path = save_camera_model(old, tmp_path)

    def crash(source: str, target: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(VisionError, match=r"cannot save camera model .*disk full"):
        save_camera_model(old.model_copy(update={"mm_per_px": 2.0}), tmp_path)
    monkeypatch.undo()
    assert load_camera_model("bed-1", tmp_path) == old
    assert os.listdir(path.parent) == ["bed-1.json"]


def write_model_file(data_dir: Path, text: str, robot: str = "bed-1") -> Path:
    path = data_dir / "cameras" / f"{robot}.json"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


def valid_model_json(**changes: object) -> str:
    data = CameraModel(robot="bed-1", width_px=640, height_px=480, mm_per_px=1.0).model_dump(
        mode="json"
    )
    return json.dumps(data | changes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not valid JSON"),
        (valid_model_json(version=2), "has version 2; this Potager reads version 1"),
        ('["a list"]', "has version None"),
        (valid_model_json(mm_per_px=-1.0), r"is damaged \(mm_per_px"),
        (valid_model_json(robot="bed-2"), "robot 'bed-2', not 'bed-1'"),
    ],
    ids=["corrupt", "future-version", "not-an-object", "damaged", "other-robot"],
)
def test_a_bad_model_file_says_which_file_and_what_to_do(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write_model_file(tmp_path, text)
    with pytest.raises(VisionError, match=message) as raised:
        load_camera_model("bed-1", tmp_path)
    assert str(path) in str(raised.value)
    assert "calibrate the camera" in str(raised.value)


def test_a_robot_without_a_model_is_told_to_calibrate(tmp_path: Path) -> None:
    with pytest.raises(
        VisionError, match=r"robot 'bed-9' has no camera model .*calibrate the camera"
    ):
        load_camera_model("bed-9", tmp_path)


def test_a_robot_name_that_is_no_file_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VisionError, match="cannot name a camera file"):
        load_camera_model("../etc/passwd", tmp_path)
