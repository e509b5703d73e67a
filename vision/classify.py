"""Crop or weed, for every plant pixel, and where the weeder may strike.

The robot knows more than the photo shows: it sowed the crop, so a green patch far from
every sown point is a weed and one on a sown point is most likely the crop. The photo adds
shape (carrot leaves are thin and feathery, many weeds broad), colour and how plants crowd.
A random forest (OpenCV's ml module) weighs all of these on small square cells of the
vegetation mask: classifying cells, not pixels, keeps a 1296 x 966 photo within a few
milliseconds and the answer barely changes. Sizes are in millimetres, so one model works at
any camera height.

Weeding targets are where this becomes dangerous: a weed target inside a crop plant kills
it. A target too close to a sown point or to crop pixels is therefore only marked for
review, never for the weeder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np
from numba import njit
from numpy.typing import NDArray

from vision import VisionError
from vision.colour_model import ColourModel
from vision.datasets import CROP, SOIL, WEED
from vision.images import Photo, check_photo
from vision.vegetation import Mask

CELL_MM = 1.0
"""Side of the square cells that are classified: finer than a carrot leaf is wide."""
DENSITY_WINDOWS_MM = (4.0, 12.0, 33.0)
"""How crowded the vegetation is around a cell, at leaf, plant and neighbourhood scale."""
THICKNESS_WINDOW_MM = 7.0
SOWN_DISTANCE_CAP_MM = 240.0
"""Farther than this from a sown point, every plant is equally far: a weed."""
SHAPE_FEATURES = (
    "cover",
    "green_share",
    "red_share",
    "brightness",
    "thickness_mm",
    "max_thickness_mm",
    "density_near",
    "density_plant",
    "density_wide",
    "thickness_per_cover",
    "component_area_mm2",
)
SOWING_FEATURES = ("sown_distance_mm", "component_sown_distance_mm")
FORMAT_VERSION = 1
TREES = 10
TREE_DEPTH = 8
MAX_TRAINING_CELLS = 40_000
"""OpenCV's forest sorts every feature at every node: more cells cost time, not accuracy."""


SownPoints = NDArray[np.float64]
"""(N, 2) sown points as (x, y) pixels of the photo."""


@dataclass(frozen=True)
class Cells:
    """A photo cut into cells: the features of each, and which ones hold vegetation."""

    side_px: int
    features: NDArray[np.float32]
    """(rows, columns, features)"""
    planted: NDArray[np.bool_]


def cell_side_px(mm_per_px: float) -> int:
    """Pixels to a cell side at this camera scale."""
    if mm_per_px <= 0:
        raise VisionError(f"mm_per_px must be positive, got {mm_per_px}")
    return max(1, round(CELL_MM / mm_per_px))


def sown_points_array(
    sown_px: Iterable[tuple[float, float]] | NDArray[np.float64],
) -> NDArray[np.float64]:
    """Sown points as an N x 2 array of (column, row) pixels; refuses anything else."""
    points = np.asarray(list(sown_px) if not isinstance(sown_px, np.ndarray) else sown_px)
    if points.size == 0:
        return np.zeros((0, 2))
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise VisionError("sown points must be (x, y) pixel pairs with finite values")
    return points.astype(np.float64)


def cell_features(
    photo: Photo,
    vegetation: Mask,
    mm_per_px: float,
    sown_px: NDArray[np.float64] | None,
) -> Cells:
    """Every cell's features; the sowing features only when a sowing map is given."""
    photo = check_photo(photo)
    if vegetation.shape != photo.shape[:2]:
        raise VisionError("the vegetation mask and the photo differ in size")
    side = cell_side_px(mm_per_px)
    rows, columns = photo.shape[0] // side, photo.shape[1] // side
    if rows < 2 or columns < 2:
        raise VisionError(f"the photo is too small to classify at {mm_per_px} mm/px")
    plant_bytes = vegetation.view(np.uint8)
    # city-block distance in bytes: a leaf's half-width, at a third of a float map's cost
    thickness = np.asarray(
        cv2.distanceTransform(plant_bytes, cv2.DIST_L1, 3, dstType=cv2.CV_8U), np.uint8
    )
    means = _cell_means(photo, plant_bytes, thickness, side, rows, columns)
    cover, colour = means[..., 0], means[..., 1:4]
    total = colour.sum(axis=2) + 1.0
    cell_mm = side * mm_per_px
    thickness_mm = means[..., 4] * np.float32(mm_per_px)
    max_thickness_mm = cv2.dilate(thickness_mm, np.ones((3, 3), np.uint8))
    densities = [_blurred(cover, window_mm / cell_mm) for window_mm in DENSITY_WINDOWS_MM]
    near_cover = _blurred(cover, THICKNESS_WINDOW_MM / cell_mm)
    thickness_per_cover = _blurred(thickness_mm, THICKNESS_WINDOW_MM / cell_mm) / np.maximum(
        near_cover, 1e-3
    )
    planted = cover > 0.5
    count, labels, stats, _ = cv2.connectedComponentsWithStats(planted.view(np.uint8))
    area_mm2 = stats[:, cv2.CC_STAT_AREA].astype(np.float32) * np.float32(cell_mm**2)
    layers = [
        cover,
        colour[..., 1] / total,
        colour[..., 2] / total,
        total / 3.0,
        thickness_mm,
        max_thickness_mm,
        *densities,
        thickness_per_cover,
        area_mm2[labels],
    ]
    if sown_px is not None:
        sown_mm = _sown_distance_mm(sown_px, side, (columns, rows), cell_mm)
        nearest_in_component = np.full(count, SOWN_DISTANCE_CAP_MM, np.float32)
        np.minimum.at(nearest_in_component, np.asarray(labels, np.intp).ravel(), sown_mm.ravel())
        layers += [sown_mm, nearest_in_component[labels]]
    features = np.stack([np.asarray(layer, np.float32) for layer in layers], axis=-1)
    return Cells(side, features, planted)


@njit(cache=True)
def _cell_means(
    photo: Photo,
    plant: NDArray[np.uint8],
    thickness: NDArray[np.uint8],
    side: int,
    rows: int,
    columns: int,
) -> NDArray[np.float32]:
    """Per cell, in one pass over the photo: plant share, mean B, G, R, mean thickness (px).

    One compiled pass reads each full-size image once and writes nothing full-size, where
    shrinking each image with OpenCV took four passes and a scaled copy.
    """
    means = np.empty((rows, columns, 5), np.float32)
    scale = np.float32(1.0 / (side * side))
    for cell_row in range(rows):
        for cell_column in range(columns):
            plant_sum = blue = green = red = depth = 0
            for row in range(cell_row * side, (cell_row + 1) * side):
                for column in range(cell_column * side, (cell_column + 1) * side):
                    plant_sum += plant[row, column]
                    blue += photo[row, column, 0]
                    green += photo[row, column, 1]
                    red += photo[row, column, 2]
                    depth += thickness[row, column]
            means[cell_row, cell_column, 0] = plant_sum * scale
            means[cell_row, cell_column, 1] = blue * scale
            means[cell_row, cell_column, 2] = green * scale
            means[cell_row, cell_column, 3] = red * scale
            means[cell_row, cell_column, 4] = depth * scale
    return means


def _blurred(image: NDArray[np.float32], window_cells: float) -> NDArray[np.float32]:
    side = max(1, round(window_cells))
    return np.asarray(cv2.blur(image, (side, side)), np.float32)


def _sown_distance_mm(
    sown_px: NDArray[np.float64], side_px: int, size: tuple[int, int], cell_mm: float
) -> NDArray[np.float32]:
    columns, rows = size
    seeds = np.full((rows, columns), 255, np.uint8)
    cells = np.floor(sown_px / side_px).astype(int)
    inside = (
        (cells[:, 0] >= 0) & (cells[:, 0] < columns) & (cells[:, 1] >= 0) & (cells[:, 1] < rows)
    )
    seeds[cells[inside, 1], cells[inside, 0]] = 0
    if not inside.any():
        return np.full((rows, columns), SOWN_DISTANCE_CAP_MM, np.float32)
    distance = cv2.distanceTransform(seeds, cv2.DIST_L2, 3) * np.float32(cell_mm)
    return np.asarray(np.minimum(distance, SOWN_DISTANCE_CAP_MM), np.float32)


def cell_classes(classes: NDArray[np.uint8], side_px: int) -> NDArray[np.int32]:
    """The truth of each cell from a pixel class map: its majority labelled plant class.

    Cells with no labelled plant pixel get SOIL and are left out of training.
    """
    rows, columns = classes.shape[0] // side_px, classes.shape[1] // side_px
    blocks = classes[: rows * side_px, : columns * side_px].reshape(rows, side_px, columns, side_px)
    crop = np.count_nonzero(blocks == CROP, axis=(1, 3))
    weed = np.count_nonzero(blocks == WEED, axis=(1, 3))
    return np.where(crop > weed, CROP, np.where(weed > 0, WEED, SOIL)).astype(np.int32)


@dataclass(frozen=True)
class TrainingCells:
    """Labelled cells gathered from annotated photos, ready to teach a forest."""

    features: NDArray[np.float32]
    classes: NDArray[np.int32]

    def __add__(self, other: TrainingCells) -> TrainingCells:
        return TrainingCells(
            np.concatenate([self.features, other.features]),
            np.concatenate([self.classes, other.classes]),
        )


def training_cells(cells: Cells, classes: NDArray[np.uint8]) -> TrainingCells:
    """The cells of one annotated photo that hold a labelled plant."""
    truth = cell_classes(classes, cells.side_px)
    labelled = truth != SOIL
    return TrainingCells(cells.features[labelled], truth[labelled])


class CropWeedModel:
    """The trained forest, and whether it expects a sowing map."""

    def __init__(self, forest: cv2.ml.RTrees, uses_sowing_map: bool) -> None:
        self.forest = forest
        self.uses_sowing_map = uses_sowing_map

    @classmethod
    def train(cls, examples: TrainingCells, uses_sowing_map: bool, seed: int = 0) -> CropWeedModel:
        """A forest on (a reproducible random sample of at most MAX_TRAINING_CELLS of) the
        labelled cells."""
        expected = len(SHAPE_FEATURES) + (len(SOWING_FEATURES) if uses_sowing_map else 0)
        if len(examples.classes) == 0:
            raise VisionError("no labelled plant cells to learn from: annotate some photos")
        if examples.features.shape[1] != expected:
            raise VisionError("training cells were computed with and without a sowing map mixed")
        if len(np.unique(examples.classes)) < 2:
            raise VisionError("the training photos show only one class: both crop and weed needed")
        if len(examples.classes) > MAX_TRAINING_CELLS:
            chosen = np.random.default_rng(seed).choice(
                len(examples.classes), MAX_TRAINING_CELLS, replace=False
            )
            examples = TrainingCells(examples.features[chosen], examples.classes[chosen])
        forest = cv2.ml.RTrees.create()
        forest.setMaxDepth(TREE_DEPTH)
        forest.setMinSampleCount(5)
        forest.setTermCriteria((cv2.TERM_CRITERIA_MAX_ITER, TREES, 0))
        # the forest draws its bootstrap samples from OpenCV's process-wide generator: seed
        # it, or the model depends on whatever was trained before in the same process
        cv2.setRNGSeed(seed)
        forest.train(examples.features, cv2.ml.ROW_SAMPLE, examples.classes)
        return cls(forest, uses_sowing_map)

    def classify(
        self,
        photo: Photo,
        vegetation: Mask,
        mm_per_px: float,
        sown_px: Iterable[tuple[float, float]] | NDArray[np.float64] | None = None,
    ) -> NDArray[np.uint8]:
        """A class map the size of the photo: SOIL, CROP or WEED per pixel."""
        if self.uses_sowing_map and sown_px is None:
            raise VisionError("this model was trained with a sowing map: give the sown points")
        points = None if sown_px is None else sown_points_array(sown_px)
        if not self.uses_sowing_map:
            points = None  # a model trained without the map ignores one given anyway
        cells = cell_features(photo, vegetation, mm_per_px, points)
        return self.classify_cells(cells, vegetation)

    def classify_cells(self, cells: Cells, vegetation: Mask) -> NDArray[np.uint8]:
        """The pixel class map from already computed cells (training code reuses them)."""
        per_cell = np.zeros(cells.planted.shape, np.uint8)
        if cells.planted.any():
            _, predicted = self.forest.predict(cells.features[cells.planted])
            per_cell[cells.planted] = predicted.ravel().astype(np.uint8)
        # cells cover whole multiples of their side: the ragged right and bottom edges
        # (less than a cell) take their neighbour's class
        side = cells.side_px
        height, width = vegetation.shape
        rows, columns = cells.features.shape[:2]
        missing_rows, missing_columns = -(-height // side) - rows, -(-width // side) - columns
        padded = np.pad(per_cell, ((0, missing_rows), (0, missing_columns)), mode="edge")
        grown_size = (padded.shape[1] * side, padded.shape[0] * side)
        grown = cv2.resize(padded, grown_size, interpolation=cv2.INTER_NEAREST)[:height, :width]
        # SOIL is 0: multiplying by the 0/1 vegetation bytes clears soil in one pass
        return np.asarray(np.multiply(grown, vegetation.view(np.uint8), out=grown), np.uint8)

    def save(self, path: str | Path) -> None:
        storage = cv2.FileStorage(".yml", cv2.FILE_STORAGE_WRITE | cv2.FILE_STORAGE_MEMORY)
        self.forest.write(storage)
        np.savez_compressed(
            Path(path),
            version=FORMAT_VERSION,
            uses_sowing_map=self.uses_sowing_map,
            forest=np.array(storage.releaseAndGetString()),
        )

    @classmethod
    def load(cls, path: str | Path) -> CropWeedModel:
        try:
            with np.load(Path(path)) as stored:
                version = int(stored["version"])
                uses_sowing_map = bool(stored["uses_sowing_map"])
                text = str(stored["forest"])
        except (OSError, KeyError, ValueError) as error:
            raise VisionError(f"{path} is not a crop/weed model: {error}") from None
        if version != FORMAT_VERSION:
            raise VisionError(
                f"{path} is a crop/weed model of format {version}; this Potager reads format "
                f"{FORMAT_VERSION}: train it again"
            )
        storage = cv2.FileStorage(text, cv2.FILE_STORAGE_READ | cv2.FILE_STORAGE_MEMORY)
        forest = cv2.ml.RTrees.create()
        forest.read(storage.root())
        if not forest.isTrained():
            raise VisionError(f"{path} holds no trained forest")
        return cls(forest, uses_sowing_map)


class Action(StrEnum):
    WEED = "weed"
    REVIEW = "review"
    """Too close to a crop to strike unattended: a person decides."""


@dataclass(frozen=True)
class WeedingSettings:
    """Millimetre sizes for turning weed pixels into strikes.

    `min_radius_mm`: the smallest disc the weeder can treat (its tool's radius); a target
    whose safe disc is smaller is left for review. `crop_clearance_mm`: how far the treated
    disc must stay from any crop pixel. `crop_spread_mm`: how far a target must stay from
    any sown point: the crop's spread at its stage, since its outer leaves may be taken for
    weed (35 mm: carrots at their first true leaves). `min_weed_mm2`: smaller weed patches
    are noise. `reach_mm`: the most one target covers; a bigger patch gets more targets.
    """

    min_radius_mm: float = 3.0
    reach_mm: float = 15.0
    crop_clearance_mm: float = 3.0
    crop_spread_mm: float = 35.0
    min_weed_mm2: float = 4.0


@dataclass(frozen=True)
class Target:
    """One weed patch: where to strike (pixels of the photo), the disc around it that may
    be treated without touching a crop, and whether the weeder may go unattended."""

    x_px: float
    y_px: float
    radius_mm: float
    action: Action


def weeding_targets(
    classes: NDArray[np.uint8],
    mm_per_px: float,
    sown_px: Iterable[tuple[float, float]] | NDArray[np.float64] = (),
    settings: WeedingSettings = WeedingSettings(),
) -> list[Target]:
    """Targets that cover every weed patch, each marked WEED only when it is safe.

    A patch is struck at its thickest point (the heart of a rosette), then at the thickest
    point not yet within `reach_mm` of a strike, until it is covered: merged weeds each get
    one. A target's safe radius reaches to the farthest patch pixel it covers but stops
    `crop_clearance_mm` short of the nearest crop pixel; it is WEED only if that disc is at
    least the tool's and the target is `crop_spread_mm` from every sown point, else REVIEW.
    """
    if classes.dtype != np.uint8 or classes.ndim != 2:
        raise VisionError("a class map must be one 8-bit channel of SOIL, CROP and WEED")
    points = sown_points_array(sown_px)
    # work on cells (CELL_MM): targets need no finer aim, and it is side^2 times cheaper
    side = cell_side_px(mm_per_px)
    if side > 1:
        size = (max(1, classes.shape[1] // side), max(1, classes.shape[0] // side))
        classes = np.asarray(cv2.resize(classes, size, interpolation=cv2.INTER_NEAREST), np.uint8)
        points = (points + 0.5) / side - 0.5
        mm_per_px *= side
    weeds = (classes == WEED).view(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(weeds, connectivity=8)
    thickness = np.asarray(
        cv2.distanceTransform(np.pad(weeds, 1), cv2.DIST_L2, 3)[1:-1, 1:-1], np.float32
    )
    strikes = _strikes(labels, stats, thickness, settings, mm_per_px)
    if len(strikes) == 0:
        return []
    not_crop = np.where(classes == CROP, 0, 255).astype(np.uint8)
    crop_distance_mm = cv2.distanceTransform(not_crop, cv2.DIST_L2, 3) * np.float32(mm_per_px)
    columns, rows = strikes[:, 0].astype(np.intp), strikes[:, 1].astype(np.intp)
    radius_mm = np.minimum(
        strikes[:, 2] * mm_per_px,
        # less one cell: a crop pixel may sit anywhere in the nearest crop cell
        crop_distance_mm[rows, columns] - settings.crop_clearance_mm - mm_per_px,
    )
    sown_mm = np.full(len(strikes), np.inf)
    if len(points):
        offsets = strikes[:, None, :2] - points[None, :, :]
        sown_mm = np.hypot(offsets[..., 0], offsets[..., 1]).min(axis=1) * mm_per_px
    safe = (radius_mm >= settings.min_radius_mm) & (sown_mm >= settings.crop_spread_mm)
    photo_px = (strikes[:, :2] + 0.5) * side - 0.5  # cell centres back in photo pixels
    return [
        Target(
            float(x_px), float(y_px), max(float(radius), 0.0), Action.WEED if ok else Action.REVIEW
        )
        for (x_px, y_px), radius, ok in zip(photo_px, radius_mm, safe, strict=True)
    ]


def _strikes(
    labels: NDArray[np.int32],
    stats: NDArray[np.int32],
    thickness: NDArray[np.float32],
    settings: WeedingSettings,
    mm_per_px: float,
) -> NDArray[np.float64]:
    """(x, y, reach) in pixels of every strike. Patches that one strike covers (most) are
    done at once over all their pixels; only wider ones are covered one strike at a time."""
    reach_px = settings.reach_mm / mm_per_px
    areas_mm2 = stats[:, cv2.CC_STAT_AREA] * mm_per_px**2
    widths, heights = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    kept = areas_mm2 >= settings.min_weed_mm2
    kept[0] = False  # the background
    single = kept & (np.hypot(widths, heights) <= reach_px)
    rows, columns = np.nonzero(single[labels])
    strikes = [_heart_of_each(labels[rows, columns], rows, columns, thickness[rows, columns])]
    for label in np.flatnonzero(kept & ~single):
        left, top, width, height = (int(value) for value in stats[label, :4])
        patch = labels[top : top + height, left : left + width] == label
        window = thickness[top : top + height, left : left + width]
        for column, row, reach in _strike_points(patch, window, reach_px):
            strikes.append(np.array([[left + column, top + row, reach]], np.float64))
    return np.concatenate(strikes)


def _heart_of_each(
    owners: NDArray[np.int32],
    rows: NDArray[np.intp],
    columns: NDArray[np.intp],
    depth: NDArray[np.float32],
) -> NDArray[np.float64]:
    """For pixels of many patches: each patch's thickest pixel and its reach to the rest."""
    if len(owners) == 0:
        return np.zeros((0, 3))
    order = np.lexsort((-depth, owners))  # by patch, thickest first
    patches, first = np.unique(owners[order], return_index=True)
    heart = order[first]
    slot = np.searchsorted(patches, owners)
    distance = np.hypot(rows - rows[heart][slot], columns - columns[heart][slot])
    reach = np.zeros(len(patches))
    np.maximum.at(reach, slot, distance)
    return np.stack([columns[heart], rows[heart], reach + 1], axis=1).astype(np.float64)


def _strike_points(
    patch: NDArray[np.bool_], thickness: NDArray[np.float32], reach_px: float
) -> list[tuple[int, int, float]]:
    """Greedy cover of one patch: (column, row, reach to the farthest pixel it covers)."""
    rows, columns = np.nonzero(patch)
    strikes = _greedy_cover(rows, columns, thickness[rows, columns], reach_px)
    return [(int(column), int(row), float(reach)) for column, row, reach in strikes]


@njit(cache=True)
def _greedy_cover(
    rows: NDArray[np.intp], columns: NDArray[np.intp], depth: NDArray[np.float32], reach_px: float
) -> NDArray[np.float64]:
    """Strike the deepest uncovered pixel, mark all within reach covered, repeat (compiled:
    a big weed takes dozens of rounds over thousands of pixels)."""
    uncovered = np.ones(len(rows), np.bool_)
    strikes = np.empty((len(rows), 3))
    count = 0
    left = len(rows)
    while left > 0:
        best = -1
        for pixel in range(len(rows)):
            if uncovered[pixel] and (best < 0 or depth[pixel] > depth[best]):
                best = pixel
        farthest = 0.0
        for pixel in range(len(rows)):
            if uncovered[pixel]:
                distance = np.hypot(rows[pixel] - rows[best], columns[pixel] - columns[best])
                if distance <= reach_px:
                    uncovered[pixel] = False
                    left -= 1
                    farthest = max(farthest, distance)
        strikes[count, 0] = columns[best]
        strikes[count, 1] = rows[best]
        strikes[count, 2] = farthest + 1
        count += 1
    return strikes[:count]


@dataclass(frozen=True)
class Detection:
    """What one photo holds: plant pixels, their classes, and the weeding targets."""

    vegetation: Mask
    classes: NDArray[np.uint8]
    targets: list[Target]


def detect(
    photo: Photo,
    colours: ColourModel,
    crop_weed: CropWeedModel,
    mm_per_px: float,
    sown_px: Iterable[tuple[float, float]] | NDArray[np.float64] | None = None,
    settings: WeedingSettings = WeedingSettings(),
) -> Detection:
    """The robot's whole reading of a photo: vegetation, crop vs weed, then targets."""
    vegetation = colours.mask(photo)
    classes = crop_weed.classify(photo, vegetation, mm_per_px, sown_px)
    targets = weeding_targets(classes, mm_per_px, () if sown_px is None else sown_px, settings)
    return Detection(vegetation, classes, targets)
