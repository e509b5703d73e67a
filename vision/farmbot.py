"""FarmBot's own plant detector, re-implemented: the baseline every report shows beside ours.

The pipeline and its settings follow FarmBot's plant-detection (reference section 5):
median blur, an HSV colour range, a morphological close with an elliptical kernel, then
the outer contours, each reported at its centroid with its enclosing radius. Sizes are in
pixels, as FarmBot's are, which is why it suffers when the camera's resolution changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from vision.classify import Action, Target
from vision.datasets import CROP, SOIL, WEED
from vision.images import Photo, check_photo


@dataclass(frozen=True)
class FarmBotSettings:
    """FarmBot's detection parameters (hue on OpenCV's 0-179 scale)."""

    blur_px: int = 15
    hsv_min: tuple[int, int, int] = (30, 50, 50)
    hsv_max: tuple[int, int, int] = (90, 255, 255)
    morph_px: int = 6
    iterations: int = 4


APP_DEFAULTS = FarmBotSettings()
"""What the FarmBot web app sends by default."""
LIBRARY_DEFAULTS = FarmBotSettings(blur_px=5, hsv_min=(30, 20, 20), morph_px=5, iterations=1)
"""The plant-detection library's own defaults, used when the app sends nothing."""


@dataclass(frozen=True)
class DetectedPlant:
    """One green blob: centroid and enclosing radius, in pixels."""

    x_px: float
    y_px: float
    radius_px: float


def farmbot_mask(photo: Photo, settings: FarmBotSettings = APP_DEFAULTS) -> NDArray[np.uint8]:
    """255 where FarmBot's pipeline calls a pixel plant, after its morphology."""
    photo = check_photo(photo)
    blurred = cv2.medianBlur(photo, _odd(settings.blur_px))
    hsv = cv2.cvtColor(blurred, cv2.COLOR_BGR2HSV)
    mask = cv2.inRange(hsv, np.array(settings.hsv_min), np.array(settings.hsv_max))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (settings.morph_px, settings.morph_px))
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=settings.iterations)
    return np.asarray(closed, np.uint8)


def farmbot_plants(photo: Photo, settings: FarmBotSettings = APP_DEFAULTS) -> list[DetectedPlant]:
    """The plants FarmBot would report: one per outer contour of its mask."""
    contours, _ = cv2.findContours(
        farmbot_mask(photo, settings), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    return sorted(_blobs(contours), key=lambda plant: (plant.x_px, plant.y_px))


def _blobs(contours: Sequence[cv2.typing.MatLike]) -> list[DetectedPlant]:
    """Each contour at its centroid, with its enclosing radius, in the contours' order."""
    plants = []
    for contour in contours:
        (x_px, y_px), radius_px = cv2.minEnclosingCircle(contour)
        moments = cv2.moments(contour)
        if moments["m00"] > 0:  # the centroid, as FarmBot reports it; a line has none
            x_px, y_px = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
        plants.append(DetectedPlant(float(x_px), float(y_px), float(radius_px)))
    return plants


def _odd(size_px: int) -> int:
    """Median blur needs an odd size; FarmBot rounds an even one up."""
    return size_px if size_px % 2 else size_px + 1


WEEDER_RADIUS_MM = 50.0
"""FarmBot's `weeder_destruct_r`: blobs this close to a known plant are only 'safe-remove'."""
PLANT_RADIUS_MM = 25.0
"""The radius a plant gets in FarmBot's app when nobody sets its spread."""


def farmbot_crop_weed(
    photo: Photo,
    mm_per_px: float,
    sown_px: NDArray[np.float64],
    settings: FarmBotSettings = APP_DEFAULTS,
    plant_radius_mm: float = PLANT_RADIUS_MM,
) -> tuple[NDArray[np.uint8], list[Target]]:
    """FarmBot's crop/weed decision, which is only where a blob is against the known plants.

    A blob centred within a plant's radius is that plant (it is saved); beyond the radius
    plus the weeder's it is a weed to remove; in the ring between it is 'safe-remove', which
    FarmBot leaves to a person: a REVIEW here. Returns the class map and the targets.
    """
    mask = farmbot_mask(photo, settings)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    classes = np.zeros(mask.shape, np.uint8)
    targets = []
    for index, plant in enumerate(_blobs(contours)):
        nearest_mm = (
            float(np.hypot(*(sown_px - (plant.x_px, plant.y_px)).T).min()) * mm_per_px
            if len(sown_px)
            else np.inf
        )
        is_crop = nearest_mm <= plant_radius_mm
        cv2.drawContours(classes, contours, index, CROP if is_crop else WEED, -1)
        if not is_crop:
            safe = nearest_mm > plant_radius_mm + WEEDER_RADIUS_MM
            radius_mm = plant.radius_px * mm_per_px
            action = Action.WEED if safe else Action.REVIEW
            targets.append(Target(plant.x_px, plant.y_px, radius_mm, action))
    classes[mask == 0] = SOIL
    return classes, targets
