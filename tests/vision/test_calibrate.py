"""Camera calibration: FarmBot's two dots and printed cards through a known lens."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from vision import VisionError
from vision.calibrate import (
    FARMBOT_FOCAL_LENGTH_PX,
    CalibrationCard,
    card_calibration,
    find_card,
    two_dot_calibration,
)
from vision.images import Photo, load_photo

from .photos import dataset_dir

SOIL_BGR = (40, 60, 90)  # brown, too dark for the red-dot window (V < 100)


def angle_gap_deg(first_deg: float, second_deg: float) -> float:
    return abs((first_deg - second_deg + 180.0) % 360.0 - 180.0)


# --- FarmBot's two red dots ----------------------------------------------------------------


def bgr_of_hue(hue: int) -> tuple[int, int, int]:
    pixel = cv2.cvtColor(np.array([[[hue, 255, 220]]], np.uint8), cv2.COLOR_HSV2BGR)[0, 0]
    return int(pixel[0]), int(pixel[1]), int(pixel[2])


def drawn_dots(
    centres_px: list[tuple[int, int]],
    radius_px: int = 20,
    hue: int = 175,
    size_px: tuple[int, int] = (640, 480),
) -> Photo:
    photo = np.full((size_px[1], size_px[0], 3), SOIL_BGR, np.uint8)
    for centre in centres_px:
        cv2.circle(photo, centre, radius_px, bgr_of_hue(hue), -1)
    return photo


def test_farmbots_calibration_photo_gives_farmbots_numbers() -> None:
    photo = load_photo(dataset_dir("farmbot_plant_detection") / "p2c_test_calibration.jpg")
    result = two_dot_calibration(photo, separation_mm=1000.0, along="x")
    assert round(result.model.mm_per_px, 4) == 1.7182
    assert result.model.rotation_deg == pytest.approx(0.0, abs=0.01)
    assert result.model.centre_px == (465.0, 290.0)
    assert sorted(result.dots_px) == [
        pytest.approx((174.0, 465.0), abs=0.1),
        pytest.approx((756.0, 465.0), abs=0.1),
    ]
    assert result.separation_px == pytest.approx(582.0, abs=0.05)
    assert result.objects_found == 2


def test_farmbots_photo_turned_counter_clockwise_reads_as_that_turn() -> None:
    photo = load_photo(dataset_dir("farmbot_plant_detection") / "p2c_test_calibration.jpg")
    height, width = photo.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), 10.0, 1.0)  # positive: CCW
    turned = cv2.warpAffine(photo, turn, (width, height), borderValue=SOIL_BGR)
    model = two_dot_calibration(np.asarray(turned, np.uint8), separation_mm=1000.0).model
    assert model.rotation_deg == pytest.approx(10.0, abs=0.3)
    assert model.mm_per_px == pytest.approx(1.7182, rel=0.003)


def test_farmbots_photo_on_its_side_calibrates_along_y() -> None:
    photo = load_photo(dataset_dir("farmbot_plant_detection") / "p2c_test_calibration.jpg")
    upright = np.ascontiguousarray(cv2.rotate(photo, cv2.ROTATE_90_CLOCKWISE), np.uint8)
    model = two_dot_calibration(upright, separation_mm=1000.0, along="y").model
    assert model.rotation_deg == pytest.approx(0.0, abs=0.01)
    assert model.mm_per_px == pytest.approx(1.7182, abs=1e-4)
    assert (model.width_px, model.height_px) == (581, 930)


@pytest.mark.parametrize(
    ("along", "line_deg", "rotation_deg"),
    [("x", 15.0, 15.0), ("x", -30.0, -30.0), ("y", 60.0, -30.0), ("y", 100.0, 10.0)],
)
def test_two_dots_map_onto_one_bed_axis_the_right_distance_apart(
    along: Literal["x", "y"], line_deg: float, rotation_deg: float
) -> None:
    angle = np.radians(line_deg)
    half_px = 120 * np.array([np.cos(angle), -np.sin(angle)])  # on screen, rows grow down
    centre = np.array([320, 240])
    dots = [
        tuple(np.round(centre - half_px).astype(int)),
        tuple(np.round(centre + half_px).astype(int)),
    ]
    result = two_dot_calibration(drawn_dots(dots), separation_mm=240.0, along=along)
    assert result.model.rotation_deg == pytest.approx(rotation_deg, abs=0.5)
    first, second = result.model.pixel_to_bed(result.dots_px, 0, 0, 0)
    apart = np.abs(second - first)
    on_axis, off_axis = (apart[0], apart[1]) if along == "x" else (apart[1], apart[0])
    assert on_axis == pytest.approx(240.0, abs=0.5)
    assert off_axis == pytest.approx(0.0, abs=0.5)


def test_red_on_both_sides_of_hue_zero_is_found() -> None:
    photo = drawn_dots([(150, 240)], hue=175)
    cv2.circle(photo, (450, 240), 20, bgr_of_hue(8), -1)
    result = two_dot_calibration(photo, separation_mm=300.0)
    assert result.objects_found == 2
    assert result.model.mm_per_px == pytest.approx(1.0, rel=0.01)


def test_a_dot_split_across_hue_zero_closes_into_one_object() -> None:
    photo = drawn_dots([(150, 240), (450, 240)], hue=175)
    columns = np.arange(photo.shape[1])
    for centre_x in (150, 450):
        right_half = (columns > centre_x + 2) & (photo[:, :, 2] > 150)
        photo[right_half] = bgr_of_hue(5)
        gap = (np.abs(columns - centre_x) <= 2) & (photo[:, :, 2] > 150)
        photo[gap] = SOIL_BGR  # a 5 px seam of soil between the two halves
    result = two_dot_calibration(photo, separation_mm=300.0)
    assert result.objects_found == 2  # each split dot is one object, as FarmBot closes it
    assert result.model.mm_per_px == pytest.approx(1.0, rel=0.01)


def test_extra_red_objects_warn_and_the_two_largest_are_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    photo = drawn_dots([(100, 240), (500, 240)], radius_px=25)
    cv2.circle(photo, (300, 100), 10, bgr_of_hue(175), -1)
    with caplog.at_level(logging.WARNING, logger="vision.calibrate"):
        result = two_dot_calibration(photo, separation_mm=400.0)
    assert "3 red objects" in caplog.text
    assert sorted(result.dots_px) == [
        pytest.approx((100, 240), abs=0.5),
        pytest.approx((500, 240), abs=0.5),
    ]


def test_one_red_dot_is_not_enough() -> None:
    with pytest.raises(VisionError, match=r"shows 1 red object.*two red dots 100.0 mm apart"):
        two_dot_calibration(drawn_dots([(320, 240)]))


def test_dots_far_off_the_axis_are_refused_with_a_way_out() -> None:
    with pytest.raises(VisionError, match=r"60 deg off.*along='y'.*ChArUco"):
        two_dot_calibration(drawn_dots([(260, 344), (380, 136)]))  # a 60 deg line


@pytest.mark.parametrize(
    ("arguments", "message"),
    [({"separation_mm": 0.0}, "separation_mm is 0.0"), ({"along": "z"}, "'x' or 'y'")],
)
def test_bad_two_dot_arguments_are_refused(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(VisionError, match=message):
        two_dot_calibration(drawn_dots([(100, 240), (500, 240)]), **arguments)


# --- printed cards through a known lens -----------------------------------------------------

CHESSBOARD = CalibrationCard(squares_x=8, squares_y=6, square_mm=20.0)
CHARUCO = CalibrationCard(squares_x=8, squares_y=6, square_mm=20.0, marker_mm=14.0)
TEXTURE_PX_PER_MM = 8.0
MARGIN_MM = 10.0
CAMERA_MM = (300.0, 200.0)
"""Where the robot is when it takes the card photos (zero camera offset)."""
LENS = (-0.25, 0.05, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Shot:
    """A rendered card photo with the truth: where the inner corners are, in pixels and bed mm."""

    photo: Photo
    corners_px: NDArray[np.float64]
    corners_mm: NDArray[np.float64]


def card_corners_mm(card: CalibrationCard) -> NDArray[np.float64]:
    columns, rows = np.meshgrid(np.arange(1, card.squares_x), np.arange(1, card.squares_y))
    return np.column_stack([columns.ravel(), rows.ravel()]).astype(np.float64) * card.square_mm


def photograph_card(
    card: CalibrationCard,
    *,
    size_px: tuple[int, int] = (640, 480),
    focal_px: float = 600.0,
    mm_per_px: float = 0.5,
    rotation_deg: float = 0.0,
    principal_px: tuple[float, float] | None = None,
) -> Shot:
    """The card lying centred under the camera, card X along bed X (origin bottom-left),
    seen through a pinhole with LENS distortion and turned counter-clockwise on screen by
    `rotation_deg` in OpenCV's getRotationMatrix2D sense; `mm_per_px` is the soil's pixel
    size through a perfect lens."""
    width, height = size_px
    principal = principal_px or ((width - 1) / 2, (height - 1) / 2)
    matrix = np.array([[focal_px, 0, principal[0]], [0, focal_px, principal[1]], [0, 0, 1.0]])
    distortion = np.array(LENS)
    centre = np.array([width // 2, height // 2], np.float64)  # sees the camera's position
    half_card_mm = np.array([card.squares_x, card.squares_y]) * card.square_mm / 2
    turn = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), rotation_deg, 1.0)
    untangle = cv2.invertAffineTransform(turn)

    columns, rows = np.meshgrid(
        np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64)
    )
    seen_px = np.column_stack([columns.ravel(), rows.ravel()]).reshape(-1, 1, 2)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)
    straight_px = cv2.undistortPoints(
        seen_px, matrix, distortion, R=None, P=matrix, criteria=criteria
    )
    upright_px = cv2.transform(straight_px, untangle).reshape(-1, 2)
    on_card_mm = (upright_px - centre) * mm_per_px + half_card_mm
    texture_px = (on_card_mm + MARGIN_MM) * TEXTURE_PX_PER_MM - 0.5
    maps = [texture_px[:, axis].reshape(height, width).astype(np.float32) for axis in (0, 1)]
    texture = card.image(TEXTURE_PX_PER_MM, MARGIN_MM)
    grey = cv2.remap(texture, maps[0], maps[1], cv2.INTER_LINEAR, borderValue=90)

    corners_mm = card_corners_mm(card)
    upright_corners = ((corners_mm - half_card_mm) / mm_per_px + centre).reshape(-1, 1, 2)
    straight_corners = cv2.transform(upright_corners, turn).reshape(-1, 2)
    rays = np.column_stack([(straight_corners - principal) / focal_px, np.ones(len(corners_mm))])
    corners_px, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), matrix, distortion)
    bed_mm = np.column_stack(
        [
            CAMERA_MM[0] - half_card_mm[0] + corners_mm[:, 0],
            CAMERA_MM[1] + half_card_mm[1] - corners_mm[:, 1],  # the card's Y runs down the bed
        ]
    )
    photo = np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.uint8)
    return Shot(photo, np.asarray(corners_px, np.float64).reshape(-1, 2), bed_mm)


@pytest.mark.parametrize(
    ("card", "camera"),
    [
        (CHESSBOARD, {}),
        (CHARUCO, {"rotation_deg": 30.0}),
        (CHARUCO, {"rotation_deg": 150.0}),
        (
            CHESSBOARD,
            {"size_px": (1280, 960), "focal_px": 1200.0, "mm_per_px": 0.25, "rotation_deg": -20.0},
        ),
        (CHARUCO, {"rotation_deg": 10.0, "principal_px": (330.0, 235.0)}),
        (CHARUCO, {"mm_per_px": 0.3}),
    ],
    ids=[
        "chessboard",
        "charuco-30deg",
        "charuco-150deg",
        "chessboard-2x-resolution",
        "off-centre-lens",
        "filling-the-view",
    ],
)
def test_a_card_photo_recovers_scale_turn_and_bed_positions(
    card: CalibrationCard, camera: dict[str, Any]
) -> None:
    shot = photograph_card(card, **camera)
    result = card_calibration([shot.photo], card, -100.0, offset_mm=(0.0, 0.0))
    model = result.model
    assert model.mm_per_px == pytest.approx(camera.get("mm_per_px", 0.5), rel=0.01)
    assert angle_gap_deg(model.rotation_deg, camera.get("rotation_deg", 0.0)) < 0.5
    bed_mm = model.pixel_to_bed(shot.corners_px, *CAMERA_MM, -100.0)
    assert np.abs(bed_mm - shot.corners_mm).max() < 1.0
    assert result.reprojection_px < 0.5
    assert result.corners_found == (35,)
    assert model.calibration_z_mm == -100.0
    assert not result.focal_length_measured
    assert model.camera_matrix is not None
    assert model.focal_length_px == model.camera_matrix[0][0] == FARMBOT_FOCAL_LENGTH_PX


def test_without_its_lens_the_same_model_misplaces_the_card_corners() -> None:
    shot = photograph_card(CHARUCO, mm_per_px=0.3)  # the card fills the view
    model = card_calibration([shot.photo], CHARUCO, 0.0, offset_mm=(0.0, 0.0)).model
    lensless = model.model_copy(update={"camera_matrix": None, "distortion": None})
    error_mm = np.abs(lensless.pixel_to_bed(shot.corners_px, *CAMERA_MM, 0.0) - shot.corners_mm)
    assert error_mm.max() > 2.0  # so the 1 mm above is the lens model's doing


def test_a_chessboard_turned_past_a_quarter_reads_as_the_smaller_turn() -> None:
    shot = photograph_card(CHESSBOARD, rotation_deg=150.0)
    model = card_calibration([shot.photo], CHESSBOARD, 0.0).model
    assert model.rotation_deg == pytest.approx(-30.0, abs=0.5)


def test_photos_at_several_heights_measure_the_focal_length() -> None:
    heights_mm = [0.0, -100.0, 100.0]  # the lens is 300 mm above the card at Z 0
    shots = [
        photograph_card(CHARUCO, mm_per_px=(300.0 + z) / 600.0, rotation_deg=12.0)
        for z in heights_mm
    ]
    result = card_calibration([shot.photo for shot in shots], CHARUCO, heights_mm, offset_mm=(0, 0))
    model = result.model
    assert result.focal_length_measured
    assert model.focal_length_px == pytest.approx(600.0, rel=0.02)
    assert model.camera_matrix is not None and model.camera_matrix[0][0] == model.focal_length_px
    for shot, z_mm in zip(shots, heights_mm, strict=True):
        assert model.mm_per_px_at(z_mm) == pytest.approx((300.0 + z_mm) / 600.0, rel=0.01)
        bed_mm = model.pixel_to_bed(shot.corners_px, *CAMERA_MM, z_mm)
        assert np.abs(bed_mm - shot.corners_mm).max() < 1.0


def test_heights_that_differ_too_little_keep_the_given_focal_length(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shots = [photograph_card(CHARUCO, mm_per_px=0.5), photograph_card(CHARUCO, mm_per_px=0.51)]
    with caplog.at_level(logging.WARNING, logger="vision.calibrate"):
        result = card_calibration(
            [shot.photo for shot in shots], CHARUCO, [0.0, 6.0], focal_length_px=600.0
        )
    assert not result.focal_length_measured
    assert result.model.focal_length_px == 600.0
    assert "too close to measure the focal length" in caplog.text


@pytest.mark.parametrize("card", [CHESSBOARD, CHARUCO], ids=["chessboard", "charuco"])
def test_the_printed_card_has_its_corners_where_its_docstring_says(card: CalibrationCard) -> None:
    printed = card.image(px_per_mm=5.0, margin_mm=10.0)
    assert printed.shape == (6 * 20 * 5 + 100, 8 * 20 * 5 + 100)
    view = find_card(np.asarray(cv2.cvtColor(printed, cv2.COLOR_GRAY2BGR), np.uint8), card)
    expected_px = (view.card_mm + 10.0) * 5.0 - 0.5
    assert len(view.card_mm) == 35
    if not card.is_charuco:  # a chessboard may be read from either end
        assert np.allclose(view.image_px, expected_px, atol=0.2) or np.allclose(
            view.image_px[::-1], expected_px, atol=0.2
        )
    else:
        assert view.image_px == pytest.approx(expected_px, abs=0.2)


def soil(size_px: tuple[int, int] = (640, 480)) -> Photo:
    return np.full((size_px[1], size_px[0], 3), SOIL_BGR, np.uint8)


@pytest.mark.parametrize(
    ("card", "named"),
    [
        (CHESSBOARD, "8 x 6-square chessboard card"),
        (CHARUCO, r"8 x 6-square ChArUco card \(DICT_4X4_50\)"),
    ],
)
def test_a_photo_without_the_card_names_the_card_looked_for(
    card: CalibrationCard, named: str
) -> None:
    with pytest.raises(VisionError, match=rf"no {named}.*card photo 1"):
        card_calibration([soil()], card)


def test_card_photos_must_match_in_size_and_in_number_of_heights() -> None:
    with pytest.raises(VisionError, match="differ in size"):
        card_calibration([soil((640, 480)), soil((320, 240))], CHARUCO)
    with pytest.raises(VisionError, match="3 camera Z values for 2 card photos"):
        card_calibration([soil(), soil()], CHARUCO, [0.0, 1.0, 2.0])
    with pytest.raises(VisionError, match="no card photos"):
        card_calibration([], CHARUCO)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"squares_x": 6, "squares_y": 6, "square_mm": 20.0}, "cannot show which side is X"),
        ({"squares_x": 2, "squares_y": 6, "square_mm": 20.0}, "too small"),
        ({"squares_x": 8, "squares_y": 6, "square_mm": 0.0}, "measure a printed square"),
        (
            {"squares_x": 8, "squares_y": 6, "square_mm": 20.0, "marker_mm": 25.0},
            "inside its square",
        ),
        (
            {
                "squares_x": 8,
                "squares_y": 6,
                "square_mm": 20.0,
                "marker_mm": 14.0,
                "dictionary": "DICT_9",
            },
            "not an ArUco dictionary",
        ),
    ],
)
def test_impossible_cards_are_refused(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(VisionError, match=message):
        CalibrationCard(**arguments)
