"""Photo grids: positions that cover an area, mosaics that put every pixel back where it
was on the bed, and per-plot canopy cover that matches the simulated bed's truth."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from numpy.typing import NDArray

from sim.camera import render_photo
from sim.garden import Garden, Species, scatter_weeds, sow_grid
from vision import VisionError
from vision.camera_model import CameraModel, OriginCorner
from vision.evaluate import iou
from vision.photogrid import (
    Area,
    Mosaic,
    Plot,
    Position,
    canopy_cover,
    capture_positions,
    mosaic,
)
from vision.vegetation import vegetation_mask

UPRIGHT = CameraModel(width_px=640, height_px=480, mm_per_px=0.5, offset_mm=(30, -20))
TURNED = CameraModel(
    width_px=640, height_px=480, mm_per_px=0.5, rotation_deg=30, offset_mm=(30, -20)
)
BARREL = CameraModel(
    width_px=640,
    height_px=480,
    mm_per_px=0.5,
    rotation_deg=-12,
    camera_matrix=[[600.0, 0.0, 330.0], [0.0, 600.0, 235.0], [0.0, 0.0, 1.0]],
    distortion=[-0.25, 0.08, 0.0, 0.0, 0.0],
)
CAMERAS = {"upright": UPRIGHT, "turned 30": TURNED, "barrel lens": BARREL}
AREA: Area = (100.0, 100.0, 700.0, 500.0)
PLOTS: list[Plot] = [
    ("A1", 100, 100, 400, 300),
    ("A2", 400, 100, 700, 300),
    ("B1", 100, 300, 400, 500),
    ("B2", 400, 300, 700, 500),
]


@functools.cache
def garden() -> Garden:
    lettuces = sow_grid((0, 0, 800, 600), 280, 280, Species.LETTUCE, radius_mm=65, seed=11)
    weeds = scatter_weeds((0, 0, 800, 600), 40, seed=12)
    return Garden(800, 600, tuple(lettuces + weeds), soil_seed=13)


@functools.cache
def shots(name: str) -> tuple[tuple[NDArray[np.uint8], NDArray[np.uint8], Position], ...]:
    """(photo, truth classes, head position) for every capture position over AREA."""
    camera = CAMERAS[name]
    taken = []
    for index, (x_mm, y_mm) in enumerate(capture_positions(AREA, camera, 0, overlap=0.2)):
        rendered = render_photo(garden(), camera, x_mm, y_mm, 0, seed=index)
        taken.append((rendered.photo, rendered.classes, (x_mm, y_mm)))
    return tuple(taken)


def truth_raster(area: Area, mm_per_px: float) -> NDArray[np.uint8]:
    """The garden's classes on a mosaic's grid: a camera looking straight down whose pixel
    (col, row) is centred on bed (x_min, y_min) + (col + 0.5, row + 0.5) * mm_per_px."""
    camera = CameraModel(
        width_px=math.ceil((area[2] - area[0]) / mm_per_px),
        height_px=math.ceil((area[3] - area[1]) / mm_per_px),
        mm_per_px=mm_per_px,
        origin=OriginCorner.TOP_LEFT,
    )
    centre_col, centre_row = camera.centre_px
    head_x = area[0] + (centre_col + 0.5) * mm_per_px
    head_y = area[1] + (centre_row + 0.5) * mm_per_px
    return render_photo(garden(), camera, head_x, head_y, 0).classes


def photographed(
    camera: CameraModel, positions: list[Position], points: NDArray[np.float64]
) -> NDArray[np.int_]:
    """How many photos each bed point falls in (pixel edges count as inside)."""
    count = np.zeros(len(points), int)
    for x_mm, y_mm in positions:
        px = camera.bed_to_pixel(points, x_mm, y_mm, 0)
        inside = (px >= -0.5 - 1e-6) & (
            px <= np.array([camera.width_px, camera.height_px]) - 0.5 + 1e-6
        )
        count += inside.all(axis=1)
    return count


def area_points(area: Area, per_side: int = 61) -> NDArray[np.float64]:
    xs = np.linspace(area[0], area[2], per_side)
    ys = np.linspace(area[1], area[3], per_side)
    return np.array([(x, y) for y in ys for x in xs])


def test_an_upright_camera_gets_the_classic_serpentine_grid() -> None:
    # the view is 320 x 240 mm; 20 % overlap: steps of at most 256 x 192 mm, so spanning
    # 1000 mm takes 4 columns (3 steps >= 680 mm) and 600 mm takes 3 rows (2 steps >= 360)
    positions = np.array(capture_positions((0, 0, 1000, 600), UPRIGHT, 0, overlap=0.2))
    assert len(positions) == 12
    rows = positions.reshape(3, 4, 2)
    assert np.all(np.diff(rows[0, :, 0]) > 0) and np.all(np.diff(rows[1, :, 0]) < 0)
    assert np.all(np.abs(np.diff(rows[0, :, 0])) <= 0.8 * 320 + 1e-9)
    assert np.all(np.diff(rows[:, 0, 1]) <= 0.8 * 240 + 1e-9)
    # the first view starts at the area's corner; head = view centre - offset, where the
    # view's centre (between pixel edges -0.5 and 639.5) is half a pixel before the
    # centre pixel (320, 240) that the offset is measured to
    assert positions[0] == pytest.approx((160 - 30 + 0.25, 120 + 20 - 0.25))


@pytest.mark.parametrize(
    "camera",
    [
        UPRIGHT,
        TURNED,
        CameraModel(width_px=640, height_px=480, mm_per_px=0.5, rotation_deg=90),
        CameraModel(
            width_px=320,
            height_px=240,
            mm_per_px=1.2,
            rotation_deg=137,
            origin=OriginCorner.TOP_RIGHT,
        ),
        BARREL,
    ],
    ids=["upright", "turned 30", "turned 90", "turned 137, coarse", "barrel lens"],
)
def test_every_point_of_the_area_is_in_some_photo(camera: CameraModel) -> None:
    area: Area = (50, 80, 1250, 730)
    positions = capture_positions(area, camera, 0, overlap=0.2)
    assert photographed(camera, positions, area_points(area)).min() >= 1


@pytest.mark.parametrize("rotation_deg", [0, 30, 90, 137])
def test_the_count_is_the_fewest_a_bed_aligned_grid_allows(rotation_deg: float) -> None:
    # independent check: for each column count, the tallest bed-aligned rectangle that
    # fits (corners tested through the camera model) sets the row count
    camera = CameraModel(width_px=640, height_px=480, mm_per_px=0.5, rotation_deg=rotation_deg)
    width_mm, height_mm, overlap = 1000.0, 600.0, 0.2
    centre = camera.pixel_to_bed(((640 - 1) / 2, (480 - 1) / 2), 0, 0, 0)[0]

    def fits(a_mm: float, b_mm: float) -> bool:
        corners = centre + np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)]) * (a_mm / 2, b_mm / 2)
        px = camera.bed_to_pixel(corners, 0, 0, 0)
        return bool(np.all((px >= -0.5 - 1e-9) & (px <= np.array([640, 480]) - 0.5 + 1e-9)))

    def tallest(a_mm: float) -> float:
        low, high = 0.0, 1000.0
        for _ in range(50):
            middle = (low + high) / 2
            low, high = (middle, high) if fits(a_mm, middle) else (low, middle)
        return low

    def needed(extent_mm: float, side_mm: float) -> int:
        steps = (extent_mm - side_mm) / (side_mm * (1 - overlap))
        return 1 + max(0, math.ceil(steps - 1e-9))

    fewest = math.inf
    for columns in range(1, 30):
        b_mm = tallest(width_mm / (1 + (columns - 1) * (1 - overlap)))
        if b_mm > 1:
            fewest = min(fewest, columns * needed(height_mm, b_mm))
    assert len(capture_positions((0, 0, width_mm, height_mm), camera, 0, overlap)) == fewest


@pytest.mark.parametrize("name", CAMERAS)
def test_a_mosaic_of_truth_maps_rebuilds_the_bed_truth(name: str) -> None:
    camera = CAMERAS[name]
    # the truth classes go through the mosaic as a grey photo: only geometry can spoil them
    painted = [
        (np.repeat(classes[..., None] * 100, 3, axis=2).astype(np.uint8), position)
        for _, classes, position in shots(name)
    ]
    stitched = mosaic(painted, camera, 0, AREA, 1.0)
    assert stitched.covered.all()
    rebuilt = np.round(stitched.image[..., 0] / 100.0).astype(np.uint8)
    assert np.mean(rebuilt == truth_raster(AREA, 1.0)) > 0.98


@pytest.mark.parametrize("name", ["upright", "turned 30"])
def test_canopy_cover_from_photos_matches_the_bed_within_3_points(name: str) -> None:
    camera = CAMERAS[name]
    stitched = mosaic(
        [(photo, position) for photo, _, position in shots(name)], camera, 0, AREA, 1.0
    )
    truth = truth_raster(AREA, 1.0) > 0
    assert iou(vegetation_mask(stitched.image, stitched.mm_per_px), truth) > 0.9
    measured = canopy_cover(stitched, PLOTS)
    expected = canopy_cover(stitched, PLOTS, vegetation=truth)
    assert set(measured) == {"A1", "A2", "B1", "B2"}
    assert min(expected.values()) > 0.05 and max(expected.values()) < 0.6
    for name, cover in measured.items():
        assert cover == pytest.approx(expected[name], abs=0.03)


def test_canopy_cover_counts_pixels_whose_centres_are_in_the_plot() -> None:
    vegetation = np.zeros((10, 20), bool)
    vegetation[:, :5] = True  # bed x 0..5 mm is all plant
    stitched = Mosaic(np.zeros((10, 20, 3), np.uint8), np.ones((10, 20), bool), 1.0, (0.5, 0.5))
    plots: list[Plot] = [("left", 0, 0, 10, 10), ("right", 10, 0, 20, 10), ("strip", 4, 2, 6, 4)]
    assert canopy_cover(stitched, plots, vegetation) == {"left": 0.5, "right": 0.0, "strip": 0.5}


def test_a_plot_the_photos_miss_is_named() -> None:
    stitched = mosaic(
        [(photo, position) for photo, _, position in shots("upright")[:2]], UPRIGHT, 0, AREA, 2.0
    )
    assert not stitched.covered.all()
    with pytest.raises(VisionError, match=r"plot 'B2' .* covered by the photos"):
        canopy_cover(stitched, [("B2", 400, 300, 700, 500)])
    with pytest.raises(VisionError, match="covered by the photos"):
        canopy_cover(stitched, [("outside", 600, 400, 800, 600)])


def test_bad_requests_are_refused_with_the_reason() -> None:
    photo, _, position = shots("upright")[0]
    with pytest.raises(VisionError, match=r"overlap must be in \[0, 0.9\)"):
        capture_positions(AREA, UPRIGHT, 0, overlap=0.9)
    with pytest.raises(VisionError, match="overlap"):
        capture_positions(AREA, UPRIGHT, 0, overlap=-0.1)
    with pytest.raises(VisionError, match="is empty"):
        capture_positions((100, 100, 100, 500), UPRIGHT, 0)
    with pytest.raises(VisionError, match="finite"):
        capture_positions((0, 0, math.inf, 10), UPRIGHT, 0)
    with pytest.raises(VisionError, match="more than 100,000 photos"):
        capture_positions((0, 0, 1e6, 1e6), UPRIGHT, 0)
    with pytest.raises(VisionError, match="at least one photo"):
        mosaic([], UPRIGHT, 0, AREA, 1.0)
    with pytest.raises(
        VisionError, match="photo 0 is 320 x 240 px but the camera model is 640 x 480"
    ):
        mosaic([(photo[::2, ::2], position)], UPRIGHT, 0, AREA, 1.0)
    with pytest.raises(VisionError, match="mm_per_px"):
        mosaic([(photo, position)], UPRIGHT, 0, AREA, 0.0)
    stitched = mosaic([(photo, position)], UPRIGHT, 0, AREA, 5.0)
    with pytest.raises(VisionError, match=r"plot 'A' .* is empty"):
        canopy_cover(stitched, [("A", 200, 100, 100, 200)])
    with pytest.raises(VisionError, match="unique"):
        canopy_cover(stitched, [("A", 100, 100, 200, 200), ("A", 200, 100, 300, 200)])
    with pytest.raises(VisionError, match="make the mask from this mosaic"):
        canopy_cover(stitched, [("A", 100, 100, 200, 200)], np.zeros((3, 3), bool))
