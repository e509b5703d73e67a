"""A camera's own plant colours, learned from annotated photos: P(plant | colour) as a table.

Fixed thresholds on a colour index stop near 0.83-0.86 IoU on real photos (measured on
both datasets): soil, stones and leaves overlap along any one index. A table over all
colours (32 levels a channel) learns the camera and the light it was trained on and
separates them better, and its lookup costs one index and one read per pixel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit
from numpy.typing import NDArray

from vision import VisionError
from vision.images import Photo, check_photo
from vision.vegetation import Mask

LEVELS_BITS = 5
"""32 levels a channel: finer tables need far more photos to fill."""
TABLE_SIZE = 1 << (3 * LEVELS_BITS)
FORMAT_VERSION = 1
PRIOR_PIXELS = 1.0
"""Each colour starts as if seen once as plant and once as soil: unseen colours get 0.5."""


@njit(cache=True, inline="always")
def _packed(blue: int, green: int, red: int) -> int:
    """The table row of one colour (numba widens the bytes to 64-bit integers first)."""
    shift = 8 - LEVELS_BITS
    return (((blue >> shift) << LEVELS_BITS | (green >> shift)) << LEVELS_BITS) | (red >> shift)


@njit(cache=True)
def _codes(photo: Photo) -> NDArray[np.uint16]:
    codes = np.empty(photo.shape[:2], np.uint16)
    for row in range(photo.shape[0]):
        for column in range(photo.shape[1]):
            pixel = photo[row, column]
            codes[row, column] = _packed(pixel[0], pixel[1], pixel[2])
    return codes


@njit(cache=True)
def _looked_up(photo: Photo, table: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The table's entry for every pixel's colour, packing and lookup fused in one pass:
    no full-size codes are ever stored."""
    found = np.empty(photo.shape[:2], np.uint8)
    for row in range(photo.shape[0]):
        for column in range(photo.shape[1]):
            pixel = photo[row, column]
            found[row, column] = table[_packed(pixel[0], pixel[1], pixel[2])]
    return found


def colour_codes(photo: Photo) -> NDArray[np.uint16]:
    """Each pixel's table row: its B, G, R levels packed into 15 bits."""
    return np.asarray(_codes(photo), np.uint16)


@dataclass(frozen=True)
class ColourModel:
    """P(plant) for every packed colour; `trained_on` says how many pixels taught it."""

    plant_probability: NDArray[np.float32]
    trained_on: int

    def mask(self, photo: Photo, threshold: float = 0.5) -> Mask:
        """True where the colour is more likely plant than soil."""
        photo = check_photo(photo)
        above = (self.plant_probability > threshold).view(np.uint8)
        return np.asarray(_looked_up(photo, above), np.uint8).view(np.bool_)

    def save(self, path: str | Path) -> None:
        np.savez_compressed(
            Path(path),
            version=FORMAT_VERSION,
            plant_probability=self.plant_probability,
            trained_on=self.trained_on,
        )

    @classmethod
    def load(cls, path: str | Path) -> ColourModel:
        try:
            with np.load(Path(path)) as stored:
                version = int(stored["version"])
                if version != FORMAT_VERSION:
                    raise VisionError(
                        f"{path} is a colour model of format {version}; this Potager reads "
                        f"format {FORMAT_VERSION}: train it again"
                    )
                table = stored["plant_probability"].astype(np.float32)
                trained_on = int(stored["trained_on"])
        except (OSError, KeyError, ValueError) as error:
            raise VisionError(f"{path} is not a colour model: {error}") from None
        if table.shape != (TABLE_SIZE,):
            raise VisionError(f"{path} holds a table of {table.shape}, not {TABLE_SIZE} colours")
        return cls(table, trained_on)


@dataclass(frozen=True)
class ColourCounts:
    """How often each packed colour was seen as plant and as soil."""

    plant: NDArray[np.float64]
    soil: NDArray[np.float64]

    def __add__(self, other: ColourCounts) -> ColourCounts:
        return ColourCounts(self.plant + other.plant, self.soil + other.soil)


NO_COUNTS = ColourCounts(np.zeros(TABLE_SIZE), np.zeros(TABLE_SIZE))


def colour_counts(photo: Photo, vegetation: Mask) -> ColourCounts:
    """One annotated photo's counts: what a model learns from it."""
    codes = colour_codes(check_photo(photo))
    if vegetation.shape != codes.shape:
        raise VisionError(
            f"a training mask is {vegetation.shape[1]} x {vegetation.shape[0]} but its "
            f"photo is {codes.shape[1]} x {codes.shape[0]}"
        )
    return ColourCounts(
        np.bincount(codes[vegetation], minlength=TABLE_SIZE).astype(np.float64),
        np.bincount(codes[~vegetation], minlength=TABLE_SIZE).astype(np.float64),
    )


def model_from_counts(counts: ColourCounts) -> ColourModel:
    """The model those counts teach; refused when they hold no pixel at all."""
    total = int(counts.plant.sum() + counts.soil.sum())
    if total == 0:
        raise VisionError("no training photos: a colour model needs annotated photos")
    probability = (counts.plant + PRIOR_PIXELS) / (counts.plant + counts.soil + 2 * PRIOR_PIXELS)
    return ColourModel(probability.astype(np.float32), total)


def train_colour_model(examples: Iterable[tuple[Photo, Mask]]) -> ColourModel:
    """Count each colour as plant or soil over the (photo, vegetation mask) examples."""
    return model_from_counts(
        sum((colour_counts(photo, vegetation) for photo, vegetation in examples), NO_COUNTS)
    )
