"""Plant or soil, per pixel: a colour index, an automatic threshold, clean-up in millimetres.

Two kinds of camera are met: true colour (FarmBot's, a phone) and false colour where the
green channel carries near-infrared and red equals blue (CWFID's robot). Each gets the
index that separates leaves from soil best for it: excess green minus excess red on
chromatic coordinates (brightness cancels, so sun and shade agree) for true colour, an
NDVI-like (NIR - red) / (NIR + red) for false colour. The threshold comes from the photo
itself (Otsu), so no setting has to be tuned per field.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from vision import VisionError
from vision.images import Photo, check_photo

Mask = NDArray[np.bool_]

FALSE_COLOUR_MAX_RB_DIFFERENCE = 2.0
"""Mean |red - blue| below this (out of 255) means the camera is red/NIR false colour."""
DARK_SUM = 30.0
"""Pixels whose R + G + B is below this are too dark for their colour to mean anything."""
INDEX_LOW, INDEX_HIGH = -1.0, 1.5
"""The span of index values mapped onto 0-255 for the threshold; leaves sit near the top."""
SAMPLE_STEP = 4
"""Colour statistics read every 4th row and column: 1/16 of the pixels, the same answer."""


@dataclass(frozen=True)
class VegetationSettings:
    """How the mask is cleaned up, in millimetres so one setting fits any camera height.

    `speck_mm`: green specks narrower than this are dropped (algae, noise);
    `gap_mm`: holes and cracks narrower than this inside a leaf are filled.
    """

    speck_mm: float = 1.0
    gap_mm: float = 1.0

    def __post_init__(self) -> None:
        if self.speck_mm < 0 or self.gap_mm < 0:
            raise VisionError("speck_mm and gap_mm are sizes: they must be 0 or more")


def is_false_colour(photo: Photo) -> bool:
    """True when red and blue are (nearly) equal everywhere: a red/NIR camera."""
    sample = photo[::SAMPLE_STEP, ::SAMPLE_STEP]
    difference = cv2.absdiff(sample[..., 2], sample[..., 0])
    return float(difference.mean()) < FALSE_COLOUR_MAX_RB_DIFFERENCE


def vegetation_index(photo: Photo, false_colour: bool | None = None) -> NDArray[np.float32]:
    """Per-pixel greenness, higher for leaves: ExG - ExR (true colour) or NDVI-like."""
    photo = check_photo(photo)
    if false_colour is None:
        false_colour = is_false_colour(photo)
    # weights on (B, G, R): numerator and denominator of a ratio that brightness cancels
    if false_colour:
        numerator = np.array([[0.0, 1.0, -1.0]], np.float32)
        denominator = np.array([[0.0, 1.0, 1.0]], np.float32)
    else:
        numerator = np.array([[-1.0, 3.0, -2.4]], np.float32)
        denominator = np.array([[1.0, 1.0, 1.0]], np.float32)
    top = np.asarray(cv2.transform(photo, numerator), np.float32)
    bottom = np.asarray(cv2.transform(photo, denominator), np.float32)
    np.maximum(bottom, DARK_SUM, out=bottom)  # dark pixels: their ratio is noise, damp it
    return np.asarray(cv2.divide(top, bottom), np.float32)


def index_to_byte(index: NDArray[np.float32]) -> NDArray[np.uint8]:
    """The index on 0-255 (Otsu needs bytes); values outside the span saturate."""
    scale = 255.0 / (INDEX_HIGH - INDEX_LOW)
    return np.asarray(cv2.convertScaleAbs(index, alpha=scale, beta=-INDEX_LOW * scale), np.uint8)


def vegetation_mask(
    photo: Photo,
    mm_per_px: float | None = None,
    settings: VegetationSettings = VegetationSettings(),
    false_colour: bool | None = None,
) -> Mask:
    """True where a pixel is plant. Without `mm_per_px` (uncalibrated) no clean-up is done."""
    index = index_to_byte(vegetation_index(photo, false_colour))
    _, mask = cv2.threshold(index, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    if mm_per_px is not None:
        mask = clean_up(np.asarray(mask, np.uint8), mm_per_px, settings)
    return np.asarray(mask) > 0


def clean_up(
    mask: NDArray[np.uint8], mm_per_px: float, settings: VegetationSettings
) -> NDArray[np.uint8]:
    """Open away specks, close small gaps: kernel sizes converted from mm to pixels."""
    if mm_per_px <= 0:
        raise VisionError(f"mm_per_px must be positive, got {mm_per_px}")
    for size_mm, operation in (
        (settings.speck_mm, cv2.MORPH_OPEN),
        (settings.gap_mm, cv2.MORPH_CLOSE),
    ):
        # odd sides only: an even kernel has no centre pixel and shifts the mask
        side_px = round(size_mm / mm_per_px) | 1
        if side_px >= 3:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side_px, side_px))
            mask = np.asarray(cv2.morphologyEx(mask, operation, kernel), np.uint8)
    return mask
