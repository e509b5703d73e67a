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
import yaml
from numpy.typing import NDArray

from vision import VisionError
from vision.images import Photo, load_mask, load_photo
from vision.vegetation import Mask

SOIL, CROP, WEED, IGNORE = 0, 1, 2, 255
"""Class map values; IGNORE marks plant pixels nobody labelled."""

NOMINAL_MM_PER_PX = {"cwfid": 0.2, "carrot_weed": 0.15}
"""Neither dataset publishes its scale; these are estimates from the plants' sizes (a
carrot seedling's leaves, a weed's cotyledons). Sizes in mm on these photos are as good as
these figures, but a model trained and scored at one of them is self-consistent."""
CROP_SPREAD_MM = {"cwfid": 35.0, "carrot_weed": 130.0}
"""How far each dataset's crop reaches from where it was sown: carrots at their first
true leaves (CWFID), and carrots weeks older with large lobed leaves (Carrot-Weed; the
figure is the farthest crop pixel from its plant's centre in the training annotations)."""
MIN_COMPONENT_PX = 500
"""Carrot-Weed objects are class components at least this big (full size; SCORING.md)."""


@dataclass(frozen=True)
class PlantObject:
    """One annotated plant (CWFID) or class component (Carrot-Weed): its outline in pixels."""

    kind: int
    outline_px: NDArray[np.float32]
    """(N, 2) polygon of (x, y) pixels"""

    def contains(self, x_px: float, y_px: float) -> bool:
        return cv2.pointPolygonTest(self.outline_px, (x_px, y_px), False) >= 0

    @property
    def centre_px(self) -> tuple[float, float]:
        """The outline's centroid (its mean point for a degenerate outline)."""
        moments = cv2.moments(self.outline_px)
        if moments["m00"] == 0:
            x_px, y_px = self.outline_px.mean(axis=0)
            return float(x_px), float(y_px)
        return moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]


@dataclass(frozen=True)
class Sample:
    """One annotated photo, possibly scaled down (masks by nearest neighbour)."""

    name: str
    photo: Photo
    vegetation: Mask
    classes: NDArray[np.uint8]
    objects: tuple[PlantObject, ...]
    mm_per_px: float
    crop_spread_mm: float


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
    objects = _cwfid_objects(root / "annotations" / f"{name}_annotation.yaml")
    return _checked(name, photo, _plain(vegetation), classes, objects, "cwfid")


def _cwfid_objects(path: Path) -> tuple[PlantObject, ...]:
    """The plant polygons; none (so class components stand in) when the file is absent."""
    if not path.exists():
        return ()
    try:
        document = yaml.safe_load(path.read_text())
        plants = [
            (
                entry["type"],
                np.atleast_1d(entry["points"]["x"]),
                np.atleast_1d(entry["points"]["y"]),
            )
            for entry in document["annotation"]
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise VisionError(f"cannot read the plant outlines in {path}: {error}") from None
    kinds = {"crop": CROP, "weed": WEED}
    return tuple(
        PlantObject(kinds[kind], np.stack([xs, ys], axis=1).astype(np.float32))
        for kind, xs, ys in plants
        if kind in kinds and len(xs) >= 3  # one file holds a single-point "polygon"
    )


def _read_carrot_weed(root: Path, name: str) -> Sample:
    photo = load_photo(root / "Images" / f"{name}.JPG")
    stored = load_mask(root / "Vegetation_Masks" / f"{name}.png")
    vegetation = (stored[..., 2] if stored.ndim == 3 else stored) > 127  # red channel
    labels = load_mask(root / "Weed_Plant_Masks" / f"{name}_mask.png")
    classes = np.full(labels.shape[:2], SOIL, dtype=np.uint8)
    classes[labels == 2] = CROP  # 2 = carrot, 1 = weed (the dataset's README)
    classes[labels == 1] = WEED
    return _checked(name, photo, vegetation, classes, (), "carrot_weed")


def component_objects(classes: NDArray[np.uint8], min_px: float) -> tuple[PlantObject, ...]:
    """Carrot-Weed's objects: each class's connected components of `min_px` or more,
    outlined by their convex hull (SCORING.md)."""
    objects = []
    for kind in (CROP, WEED):
        flags = (classes == kind).view(np.uint8)
        _, labels, stats, _ = cv2.connectedComponentsWithStats(flags, connectivity=8)
        for label in np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_px):
            if label == 0:
                continue
            left, top, width, height = stats[label, :4]
            patch = (labels[top : top + height, left : left + width] == label).view(np.uint8)
            contours, _ = cv2.findContours(patch, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            hull = cv2.convexHull(np.concatenate(contours), returnPoints=True)
            outline = hull.reshape(-1, 2).astype(np.float32) + np.array([left, top], np.float32)
            objects.append(PlantObject(kind, outline))
    return tuple(objects)


def _plain(mask: NDArray[np.generic]) -> Mask:
    return np.asarray(mask[..., 0] if mask.ndim == 3 else mask, dtype=np.bool_)


def _checked(
    name: str,
    photo: Photo,
    vegetation: Mask,
    classes: NDArray[np.uint8],
    objects: tuple[PlantObject, ...],
    layout: str,
) -> Sample:
    if vegetation.shape != photo.shape[:2] or classes.shape != photo.shape[:2]:
        raise VisionError(
            f"{name}: the masks ({vegetation.shape[1]} x {vegetation.shape[0]}) do not match "
            f"the photo ({photo.shape[1]} x {photo.shape[0]})"
        )
    if not objects:  # outlines not stored: components, as SCORING.md says
        objects = component_objects(classes, MIN_COMPONENT_PX)
    return Sample(
        name, photo, vegetation, classes, objects, NOMINAL_MM_PER_PX[layout], CROP_SPREAD_MM[layout]
    )


def _scaled(sample: Sample, scale: float) -> Sample:
    height, width = sample.photo.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    photo = np.asarray(cv2.resize(sample.photo, size, interpolation=cv2.INTER_AREA), np.uint8)
    flags = sample.vegetation.astype(np.uint8)
    vegetation = np.asarray(cv2.resize(flags, size, interpolation=cv2.INTER_NEAREST)) > 0
    classes = np.asarray(
        cv2.resize(sample.classes, size, interpolation=cv2.INTER_NEAREST), np.uint8
    )
    objects = tuple(
        PlantObject(plant.kind, plant.outline_px * np.float32(scale)) for plant in sample.objects
    )
    return Sample(
        sample.name,
        photo,
        vegetation,
        classes,
        objects,
        sample.mm_per_px / scale,
        sample.crop_spread_mm,
    )
