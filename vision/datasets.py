"""Annotated photo folders, recognised from their layout and read into one form.

Two layouts are known (see shared/datasets/SCORING.md): CWFID (false-colour photos, an
inverted 1-bit vegetation mask, green/red crop/weed annotation images) and Carrot-Weed
(EXIF-rotated JPEGs, RGBA vegetation masks, 0/1/2 weed/carrot masks). Each sample comes
out as a photo, a vegetation mask and a class map with the same classes for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vision import VisionError
from vision.images import Photo, load_mask, load_photo
from vision.vegetation import Mask

SOIL, CROP, WEED, IGNORE = 0, 1, 2, 255
"""Class map values; IGNORE marks plant pixels nobody labelled."""


@dataclass(frozen=True)
class Sample:
    """One annotated photo, possibly scaled down (masks by nearest neighbour)."""

    name: str
    photo: Photo
    vegetation: Mask
    classes: NDArray[np.uint8]


@dataclass(frozen=True)
class Dataset:
    """A folder of annotated photos of one known layout."""

    root: Path
    layout: str
    names: tuple[str, ...]

    def samples(self, scale: float = 1.0) -> Iterator[Sample]:
        """The samples in name order, each `scale` times the stored size."""
        if not 0 < scale <= 1:
            raise VisionError(f"scale must be in (0, 1], got {scale}")
        read = _read_cwfid if self.layout == "cwfid" else _read_carrot_weed
        for name in self.names:
            sample = read(self.root, name)
            yield sample if scale == 1 else _scaled(sample, scale)


def open_dataset(folder: str | Path) -> Dataset:
    """The dataset in `folder`, its layout recognised from the sub-folders it has."""
    root = Path(folder)
    if not root.is_dir():
        raise VisionError(f"{root} is not a folder")
    if (root / "images").is_dir() and (root / "masks").is_dir():
        names = sorted(p.name.removesuffix("_image.png") for p in root.glob("images/*_image.png"))
        layout = "cwfid"
    elif (root / "Images").is_dir() and (root / "Vegetation_Masks").is_dir():
        names = sorted(p.stem for p in root.glob("Images/*.JPG"))
        layout = "carrot_weed"
    else:
        raise VisionError(
            f"{root} has neither a CWFID layout (images/, masks/, annotations/) nor a "
            "Carrot-Weed layout (Images/, Vegetation_Masks/, Weed_Plant_Masks/)"
        )
    if not names:
        raise VisionError(f"{root} looks like a {layout} dataset but holds no photos")
    return Dataset(root, layout, tuple(names))


def _read_cwfid(root: Path, name: str) -> Sample:
    photo = load_photo(root / "images" / f"{name}_image.png")
    vegetation = load_mask(root / "masks" / f"{name}_mask.png") == 0  # black = plant
    annotation = load_mask(root / "annotations" / f"{name}_annotation.png")  # BGR
    blue, green, red = annotation[..., 0], annotation[..., 1], annotation[..., 2]
    classes = np.where(vegetation, IGNORE, SOIL).astype(np.uint8)
    classes[(green == 255) & (red == 0) & (blue == 0)] = CROP
    classes[(red == 255) & (green == 0) & (blue == 0)] = WEED
    return _checked(name, photo, _plain(vegetation), classes)


def _read_carrot_weed(root: Path, name: str) -> Sample:
    photo = load_photo(root / "Images" / f"{name}.JPG")
    stored = load_mask(root / "Vegetation_Masks" / f"{name}.png")
    vegetation = (stored[..., 2] if stored.ndim == 3 else stored) > 127  # red channel
    labels = load_mask(root / "Weed_Plant_Masks" / f"{name}_mask.png")
    classes = np.full(labels.shape[:2], SOIL, dtype=np.uint8)
    classes[labels == 2] = CROP  # 2 = carrot, 1 = weed (the dataset's README)
    classes[labels == 1] = WEED
    return _checked(name, photo, vegetation, classes)


def _plain(mask: NDArray[np.generic]) -> Mask:
    return np.asarray(mask[..., 0] if mask.ndim == 3 else mask, dtype=np.bool_)


def _checked(name: str, photo: Photo, vegetation: Mask, classes: NDArray[np.uint8]) -> Sample:
    if vegetation.shape != photo.shape[:2] or classes.shape != photo.shape[:2]:
        raise VisionError(
            f"{name}: the masks ({vegetation.shape[1]} x {vegetation.shape[0]}) do not match "
            f"the photo ({photo.shape[1]} x {photo.shape[0]})"
        )
    return Sample(name, photo, vegetation, classes)


def _scaled(sample: Sample, scale: float) -> Sample:
    height, width = sample.photo.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    photo = np.asarray(cv2.resize(sample.photo, size, interpolation=cv2.INTER_AREA), np.uint8)
    flags = sample.vegetation.astype(np.uint8)
    vegetation = np.asarray(cv2.resize(flags, size, interpolation=cv2.INTER_NEAREST)) > 0
    classes = np.asarray(
        cv2.resize(sample.classes, size, interpolation=cv2.INTER_NEAREST), np.uint8
    )
    return Sample(sample.name, photo, vegetation, classes)
