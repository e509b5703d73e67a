"""Photographing a whole area: where to take the photos, stitching them, cover per plot.

The robot sees a bed one photo at a time. `capture_positions` says where to put the tool
head so the photos cover an area with a chosen overlap (taking the camera's offset from
the head, its turn against the bed axes and any lens bending into account), in a
serpentine so the gantry never runs back empty. `mosaic` lays calibrated photos onto one
bed-aligned image, and `canopy_cover` turns that image into the per-plot fraction of soil
hidden by leaves, the observation a trial records.

A mosaic's rows follow bed y upward from the area's `y_min` and its columns bed x from
`x_min`: shown as an image, the bed is seen from above with its origin at the top left.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from vision import VisionError
from vision.camera_model import CameraModel
from vision.images import MAX_PIXELS, Photo, check_photo
from vision.vegetation import Mask, vegetation_mask

Area = tuple[float, float, float, float]
"""(x_min, y_min, x_max, y_max) in bed millimetres."""
Plot = tuple[str, float, float, float, float]
"""(name, x_min, y_min, x_max, y_max) in bed millimetres."""
Position = tuple[float, float]
"""A tool-head (x, y) in bed millimetres."""
PointMap = Callable[[NDArray[np.float64]], NDArray[np.float64]]
"""Maps N x 2 points to N x 2 points (pixels to bed mm, or back)."""

MAX_OVERLAP = 0.9
MAX_PHOTOS = 100_000
BORDER_SAMPLES = 16
"""Points per image side used to trace a photo's footprint (enough to follow lens bending)."""
BAND_ROWS = 128
"""Grid rows mapped at once: bounds the float64 scratch space to a band, not a whole image."""


@dataclass(frozen=True)
class Mosaic:
    """Photos laid onto the bed: pixel (col, row) is centred on bed
    `origin_mm + (col, row) * mm_per_px`; `covered` is False where no photo reached."""

    image: Photo
    covered: Mask
    mm_per_px: float
    origin_mm: tuple[float, float]

    def bed_to_pixel(self, points_mm: ArrayLike) -> NDArray[np.float64]:
        """Mosaic (col, row) of bed points (N x 2, mm)."""
        points = np.asarray(points_mm, np.float64).reshape(-1, 2)
        return np.asarray((points - np.array(self.origin_mm)) / self.mm_per_px, np.float64)

    def pixel_to_bed(self, points_px: ArrayLike) -> NDArray[np.float64]:
        """Bed (x, y) in mm of mosaic pixels (N x 2, columns then rows)."""
        points = np.asarray(points_px, np.float64).reshape(-1, 2)
        return np.asarray(points * self.mm_per_px + np.array(self.origin_mm), np.float64)


@dataclass(frozen=True)
class _Footprint:
    """The part of a photo's view kept for tiling: a rectangle along the image axes,
    centred `centre_mm` from the tool head, whose image x axis makes |cos|, |sin| with
    the bed x and y axes."""

    centre_mm: tuple[float, float]
    width_mm: float
    height_mm: float
    cos: float
    sin: float

    def widest(self, other_mm: float, cos: float, sin: float) -> float:
        """The longest bed-aligned side that fits, the other side being `other_mm`.

        A bed-aligned a x b rectangle fits in the turned one when
        a*cos + b*sin <= width and a*sin + b*cos <= height; called with (cos, sin) for
        the x side and (sin, cos) for the y side.
        """
        limits = [math.inf]
        if cos > 1e-9:
            limits.append((self.width_mm - other_mm * sin) / cos)
        if sin > 1e-9:
            limits.append((self.height_mm - other_mm * cos) / sin)
        return min(limits)


def camera_maps(
    camera: CameraModel,
    position_mm: tuple[float, float, float],
    xs: ArrayLike,
    ys: ArrayLike,
    to_bed: bool,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Two float32 maps (len(ys) x len(xs)) for cv2.remap: for every grid point (x, y),
    where it lands in the bed (`to_bed`: the grid is photo pixels) or in the photo (the
    grid is bed mm), with the camera at `position_mm`.

    Without a lens model the mapping is affine and is computed in float32 directly; with
    one, every point goes through the camera model, a band of rows at a time.
    """
    x_mm, y_mm, z_mm = position_mm
    if camera.camera_matrix is None or camera.distortion is None:
        matrix = camera.pixel_to_bed_matrix(x_mm, y_mm, z_mm)
        if not to_bed:
            matrix = np.asarray(cv2.invertAffineTransform(matrix), np.float64)
        return _affine_grid(matrix, xs, ys)
    transform = camera.pixel_to_bed if to_bed else camera.bed_to_pixel
    return _banded_grid(lambda points: transform(points, x_mm, y_mm, z_mm), xs, ys)


def _affine_grid(
    matrix: NDArray[np.float64], xs: ArrayLike, ys: ArrayLike
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    columns = np.asarray(xs, np.float32).reshape(1, -1)
    rows = np.asarray(ys, np.float32).reshape(-1, 1)
    weights = matrix.astype(np.float32)
    map_x = weights[0, 0] * columns + (weights[0, 1] * rows + weights[0, 2])
    map_y = weights[1, 0] * columns + (weights[1, 1] * rows + weights[1, 2])
    return map_x, map_y


def _banded_grid(
    transform: PointMap, xs: ArrayLike, ys: ArrayLike
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    columns = np.asarray(xs, np.float64).ravel()
    rows = np.asarray(ys, np.float64).ravel()
    map_x = np.empty((len(rows), len(columns)), np.float32)
    map_y = np.empty_like(map_x)
    for top in range(0, len(rows), BAND_ROWS):
        band = rows[top : top + BAND_ROWS]
        grid_x, grid_y = np.meshgrid(columns, band)
        mapped = transform(np.column_stack([grid_x.ravel(), grid_y.ravel()]))
        map_x[top : top + len(band)] = mapped[:, 0].reshape(len(band), -1)
        map_y[top : top + len(band)] = mapped[:, 1].reshape(len(band), -1)
    return map_x, map_y


def border_px(camera: CameraModel) -> NDArray[np.float64]:
    """Points along the outer edge of the image (pixel edges, not centres), all four sides."""
    along_x = np.linspace(-0.5, camera.width_px - 0.5, BORDER_SAMPLES)
    along_y = np.linspace(-0.5, camera.height_px - 0.5, BORDER_SAMPLES)
    left, top = np.full_like(along_y, -0.5), np.full_like(along_x, -0.5)
    right, bottom = left + camera.width_px, top + camera.height_px
    return np.vstack(
        [
            np.column_stack([left, along_y]),
            np.column_stack([right, along_y]),
            np.column_stack([along_x, top]),
            np.column_stack([along_x, bottom]),
        ]
    )


def capture_positions(
    area: Area, camera: CameraModel, z_mm: float, overlap: float = 0.2
) -> list[Position]:
    """Tool-head positions whose photos cover `area`, fewest first, in serpentine order.

    The photos are laid on a bed-aligned grid: each contributes the largest bed-aligned
    rectangle its view holds (the whole view for an upright camera), and neighbours along
    x and along y share at least `overlap` of that rectangle. Spare view goes into more
    overlap. Rows run along x, starting at `y_min`. A turned camera loses the corners of
    its view to the bed-aligned grid: at 30 degrees it needs about twice the photos.
    """
    x_min, y_min, x_max, y_max = _checked_area(area)
    if not 0 <= overlap < MAX_OVERLAP:
        raise VisionError(f"overlap must be in [0, {MAX_OVERLAP}), got {overlap}")
    footprint = _footprint(camera, z_mm)
    width_mm, height_mm = x_max - x_min, y_max - y_min
    columns, rows = _grid_size(footprint, width_mm, height_mm, overlap)
    side_x_mm = footprint.widest(_side_for(height_mm, rows, overlap), footprint.cos, footprint.sin)
    side_y_mm = footprint.widest(side_x_mm, footprint.sin, footprint.cos)
    xs = _spread(x_min, width_mm, side_x_mm, columns)
    ys = _spread(y_min, height_mm, side_y_mm, rows)
    dx_mm, dy_mm = footprint.centre_mm
    return [
        (x - dx_mm, y - dy_mm)
        for row, y in enumerate(ys)
        for x in (xs if row % 2 == 0 else xs[::-1])
    ]


def mosaic(
    shots: Sequence[tuple[Photo, Position]],
    camera: CameraModel,
    z_mm: float,
    area: Area,
    mm_per_px: float,
) -> Mosaic:
    """One bed-aligned image of `area` at `mm_per_px` from photos taken at z_mm.

    Each output pixel takes its colour from the photo in which it lies nearest the centre,
    where lenses are sharpest and calibration is best; no blending, so plant edges stay
    as crisp as in the photos.
    """
    x_min, y_min, x_max, y_max = _checked_area(area)
    if not mm_per_px > 0:
        raise VisionError(f"mm_per_px of the mosaic must be positive, got {mm_per_px}")
    if not shots:
        raise VisionError("a mosaic needs at least one photo")
    width_px = math.ceil((x_max - x_min) / mm_per_px)
    height_px = math.ceil((y_max - y_min) / mm_per_px)
    if width_px * height_px > MAX_PIXELS:
        raise VisionError(
            f"a {width_px} x {height_px} px mosaic is larger than {MAX_PIXELS:,} pixels; "
            "raise mm_per_px or split the area"
        )
    camera.mm_per_px_at(z_mm)  # refuses a camera below the soil before any work
    origin_mm = (x_min + mm_per_px / 2, y_min + mm_per_px / 2)
    image = np.zeros((height_px, width_px, 3), np.uint8)
    closeness = np.full((height_px, width_px), np.inf, np.float32)
    for index, (photo, position) in enumerate(shots):
        checked = _checked_shot(photo, camera, index)
        _lay(checked, position, camera, z_mm, origin_mm, mm_per_px, image, closeness)
    return Mosaic(image, np.isfinite(closeness), mm_per_px, origin_mm)


def canopy_cover(
    mosaic: Mosaic, plots: Sequence[Plot], vegetation: Mask | None = None
) -> dict[str, float]:
    """Fraction (0..1) of each plot's pixels that are plant, by plot name.

    `vegetation` defaults to the mosaic's vegetation mask; it is best made from a mosaic
    the photos fully cover, since empty (black) pixels take part in its threshold. A plot
    any part of which no photo covers raises a `VisionError`: a cover measured on part of
    a plot would be recorded as if it were the whole.
    """
    if vegetation is None:
        vegetation = vegetation_mask(mosaic.image, mosaic.mm_per_px)
    if vegetation.shape != mosaic.covered.shape:
        raise VisionError(
            f"the vegetation mask is {vegetation.shape[::-1]} px but the mosaic is "
            f"{mosaic.covered.shape[::-1]} px; make the mask from this mosaic"
        )
    names = [plot[0] for plot in plots]
    if len(set(names)) != len(names):
        raise VisionError(f"plot names must be unique, got {names}")
    return {plot[0]: _plot_cover(mosaic, vegetation, plot) for plot in plots}


def plot_view(mosaic: Mosaic, plot: Plot) -> Photo:
    """The plot's part of the mosaic, the very pixels `canopy_cover` counts: the plot seen
    from straight above, framed alike at every survey (black where no photo reached)."""
    window, _ = _plot_window(mosaic, plot)
    return np.ascontiguousarray(mosaic.image[window])


def _plot_window(mosaic: Mosaic, plot: Plot) -> tuple[tuple[slice, slice], int]:
    """The plot's pixels as (rows, columns) clipped to the mosaic, and how many it has."""
    name, *corners = plot
    x_min, y_min, x_max, y_max = _checked_area(corners, f"plot {name!r}")
    # pixels whose centres lie in [min, max): neighbouring plots share no pixel
    edges = np.ceil(mosaic.bed_to_pixel([(x_min, y_min), (x_max, y_max)]))
    col_lo, row_lo, col_hi, row_hi = (int(edge) for edge in edges.ravel())
    total = (col_hi - col_lo) * (row_hi - row_lo)
    if total <= 0:
        raise VisionError(f"plot {name!r} is smaller than one mosaic pixel ({mosaic.mm_per_px} mm)")
    height_px, width_px = mosaic.covered.shape
    window = (
        slice(max(row_lo, 0), min(row_hi, height_px)),
        slice(max(col_lo, 0), min(col_hi, width_px)),
    )
    return window, total


def _plot_cover(mosaic: Mosaic, vegetation: Mask, plot: Plot) -> float:
    name, *corners = plot
    x_min, y_min, x_max, y_max = corners
    window, total = _plot_window(mosaic, plot)
    seen = int(np.count_nonzero(mosaic.covered[window]))
    if seen < total:
        raise VisionError(
            f"plot {name!r} ({x_min:g}, {y_min:g})-({x_max:g}, {y_max:g}) mm is only "
            f"{seen / total:.1%} covered by the photos; photograph all of it "
            "(capture_positions over the plot) before measuring its canopy cover"
        )
    return int(np.count_nonzero(vegetation[window])) / total


def _lay(
    photo: Photo,
    position: Position,
    camera: CameraModel,
    z_mm: float,
    origin_mm: tuple[float, float],
    mm_per_px: float,
    image: Photo,
    closeness: NDArray[np.float32],
) -> None:
    """Copy `photo` into the mosaic where it is nearer its centre than what is there."""
    x_mm, y_mm = position
    corners = camera.pixel_to_bed(border_px(camera), x_mm, y_mm, z_mm)
    low = np.floor((corners.min(axis=0) - origin_mm) / mm_per_px).astype(int)
    high = np.ceil((corners.max(axis=0) - origin_mm) / mm_per_px).astype(int) + 1
    height_px, width_px = closeness.shape
    col_lo, row_lo = max(low[0], 0), max(low[1], 0)
    col_hi, row_hi = min(high[0], width_px), min(high[1], height_px)
    if col_lo >= col_hi or row_lo >= row_hi:
        return
    map_u, map_v = camera_maps(
        camera,
        (x_mm, y_mm, z_mm),
        origin_mm[0] + mm_per_px * np.arange(col_lo, col_hi),
        origin_mm[1] + mm_per_px * np.arange(row_lo, row_hi),
        to_bed=False,
    )
    # 0 at the photo's centre, 1 at its edge: the lower, the better the pixel
    centre_u, centre_v = (camera.width_px - 1) / 2, (camera.height_px - 1) / 2
    score = np.maximum(
        np.abs(map_u - centre_u) * (2 / camera.width_px),
        np.abs(map_v - centre_v) * (2 / camera.height_px),
    )
    window = (slice(row_lo, row_hi), slice(col_lo, col_hi))
    better = (score <= 1.0) & (score < closeness[window])
    warped = cv2.remap(photo, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    image[window][better] = warped[better]
    closeness[window][better] = score[better]


def _footprint(camera: CameraModel, z_mm: float) -> _Footprint:
    """The bed-aligned-tiling view of one photo: the largest rectangle along the image
    axes, centred on the image centre, inside the traced (possibly lens-bent) border."""
    border = camera.pixel_to_bed(border_px(camera), 0.0, 0.0, z_mm)
    centre_px = ((camera.width_px - 1) / 2, (camera.height_px - 1) / 2)
    centre = camera.pixel_to_bed(centre_px, 0.0, 0.0, z_mm)[0]
    linear = camera.pixel_to_bed_matrix(0.0, 0.0, z_mm)[:, :2]
    axis_u = linear[:, 0] / np.linalg.norm(linear[:, 0])
    axis_v = linear[:, 1] / np.linalg.norm(linear[:, 1])
    along_u = np.abs((border - centre) @ axis_u)
    along_v = np.abs((border - centre) @ axis_v)
    sides = np.split(np.arange(len(border)), 4)  # left, right, top, bottom
    half_u = min(along_u[sides[0]].min(), along_u[sides[1]].min())
    half_v = min(along_v[sides[2]].min(), along_v[sides[3]].min())
    return _Footprint(
        centre_mm=(float(centre[0]), float(centre[1])),
        width_mm=2 * float(half_u),
        height_mm=2 * float(half_v),
        cos=abs(float(axis_u[0])),
        sin=abs(float(axis_u[1])),
    )


def _grid_size(
    footprint: _Footprint, width_mm: float, height_mm: float, overlap: float
) -> tuple[int, int]:
    """(columns, rows) with the fewest photos; fewer columns on a tie.

    More columns make each photo's rectangle narrower, which lets a turned view give it
    more height and so need fewer rows; the count can only fall while rows can.
    """
    fewest_rows = _count_for(
        height_mm, footprint.widest(0.0, footprint.sin, footprint.cos), overlap
    )
    best: tuple[int, int] | None = None
    columns = _count_for(width_mm, footprint.widest(0.0, footprint.cos, footprint.sin), overlap)
    while best is None or columns * fewest_rows < best[0] * best[1]:
        if columns * fewest_rows > MAX_PHOTOS:
            raise VisionError(
                f"covering {width_mm:g} x {height_mm:g} mm would take more than {MAX_PHOTOS:,} "
                "photos; raise the camera (z_mm) or split the area"
            )
        side_y_mm = footprint.widest(
            _side_for(width_mm, columns, overlap), footprint.sin, footprint.cos
        )
        if side_y_mm > 0:
            rows = _count_for(height_mm, side_y_mm, overlap)
            if best is None or columns * rows < best[0] * best[1]:
                best = (columns, rows)
        columns += 1
    return best


def _count_for(extent_mm: float, side_mm: float, overlap: float) -> int:
    """Photos needed along an extent when each contributes `side_mm` and neighbours share
    `overlap` of it."""
    if side_mm <= 0:
        return MAX_PHOTOS + 1
    if side_mm >= extent_mm:
        return 1
    return 1 + math.ceil((extent_mm - side_mm) / (side_mm * (1 - overlap)) - 1e-9)


def _side_for(extent_mm: float, count: int, overlap: float) -> float:
    """The shortest side with which `count` photos span the extent with that overlap."""
    return extent_mm / (1 + (count - 1) * (1 - overlap))


def _spread(low_mm: float, extent_mm: float, side_mm: float, count: int) -> list[float]:
    """Centres of `count` sides of `side_mm` spanning the extent, outer edges flush."""
    if count == 1:
        return [low_mm + extent_mm / 2]
    step_mm = max(extent_mm - side_mm, 0.0) / (count - 1)
    return [low_mm + side_mm / 2 + i * step_mm for i in range(count)]


def _checked_area(area: Sequence[float], what: str = "area") -> Area:
    if len(area) != 4 or not all(math.isfinite(v) for v in area):
        raise VisionError(f"{what} must be (x_min, y_min, x_max, y_max) in finite mm, got {area}")
    x_min, y_min, x_max, y_max = (float(v) for v in area)
    if not (x_max > x_min and y_max > y_min):
        raise VisionError(
            f"{what} ({x_min:g}, {y_min:g})-({x_max:g}, {y_max:g}) mm is empty: "
            "x_max must exceed x_min and y_max exceed y_min"
        )
    return x_min, y_min, x_max, y_max


def _checked_shot(photo: Photo, camera: CameraModel, index: int) -> Photo:
    checked = check_photo(photo, f"photo {index}")
    height_px, width_px = checked.shape[:2]
    if (width_px, height_px) != (camera.width_px, camera.height_px):
        raise VisionError(
            f"photo {index} is {width_px} x {height_px} px but the camera model is "
            f"{camera.width_px} x {camera.height_px} px; use this camera's calibration"
        )
    return checked
