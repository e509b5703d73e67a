"""Test photos: drawn synthetic ones with exact truth, and the shared real datasets."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from sim.camera import DAYLIGHT, Lighting, Rendered, render_photo
from sim.garden import Garden, Kind, Species, scatter_weeds, sow_grid
from tests.conftest import unavailable
from vision.camera_model import CameraModel
from vision.classify import SownPoints
from vision.datasets import CROP, SOIL, WEED

WORKPLACE_DATASETS = Path("/work/shared/datasets")


def datasets_root() -> Path:
    """POTAGER_DATASETS, else shared/datasets beside the checkout or any folder above it
    (a CI clone may live elsewhere), else the workplace's own copy."""
    if "POTAGER_DATASETS" in os.environ:
        return Path(os.environ["POTAGER_DATASETS"])
    for folder in Path(__file__).resolve().parents:
        if (folder / "shared" / "datasets").is_dir():
            return folder / "shared" / "datasets"
    return WORKPLACE_DATASETS


def dataset_dir(name: str) -> Path:
    """The shared dataset folder; missing, it fails under CI=true and skips elsewhere."""
    folder = datasets_root() / name
    if not folder.is_dir():
        unavailable(f"the real photos are expected in {folder} (shared/datasets)")
    return folder


def drawn_bed(
    seed: int = 0, size: tuple[int, int] = (320, 240), false_colour: bool = False
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """Brown textured soil with green leaf discs: (BGR photo, exact plant mask)."""
    rng = np.random.default_rng(seed)
    width, height = size
    soil = np.array([60, 90, 130], dtype=np.float64)  # BGR brown
    photo = soil + rng.normal(0, 12, (height, width, 3))
    truth = np.zeros((height, width), dtype=np.uint8)
    for _ in range(12):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(truth, centre, int(rng.integers(5, 20)), 1, -1)
    leaf = np.array([50, 160, 70]) + rng.normal(0, 10, (height, width, 3))
    photo[truth == 1] = leaf[truth == 1]
    if false_colour:  # red/NIR camera: leaves bright in G (NIR), R == B
        red = np.where(truth == 1, 60.0, 120.0) + rng.normal(0, 8, (height, width))
        nir = np.where(truth == 1, 200.0, 110.0) + rng.normal(0, 8, (height, width))
        photo = np.stack([red, nir, red], axis=2)
    return np.clip(photo, 0, 255).astype(np.uint8), truth.astype(bool)


RENDER_CAMERA = CameraModel(width_px=400, height_px=300, mm_per_px=0.5)
"""A small calibrated camera: 200 x 150 mm of bed a photo, quick to render."""


@functools.cache
def rendered_garden() -> Garden:
    """Lettuce rows with a flush of weeds between and among them."""
    lettuces = sow_grid((0, 0, 1600, 300), 150, 150, Species.LETTUCE, radius_mm=40, seed=1)
    weeds = scatter_weeds((0, 0, 1600, 300), 90, seed=2, radius_range_mm=(5.0, 20.0))
    return Garden(1600, 300, tuple(lettuces + weeds), soil_seed=3)


def rendered_view(index: int, lighting: Lighting = DAYLIGHT) -> tuple[Rendered, SownPoints]:
    """Photo number `index` along the bed, and where the lettuces were sown in it (pixels)."""
    garden = rendered_garden()
    position = (100.0 + 200.0 * index, 75.0 + 75.0 * (index % 3 == 1), 0.0)
    rendered = render_photo(garden, RENDER_CAMERA, *position, lighting, seed=index)
    sown_mm = [(p.x_mm, p.y_mm) for p in garden.plants if p.kind is Kind.CROP]
    return rendered, RENDER_CAMERA.bed_to_pixel(sown_mm, *position)


def write_cwfid_layout(root: Path, count: int = 4) -> None:
    """A tiny dataset folder laid out like CWFID, from rendered photos of the virtual bed."""
    for folder in ("images", "masks", "annotations"):
        (root / folder).mkdir(parents=True)
    colours = {CROP: (0, 255, 0), WEED: (0, 0, 255)}  # BGR: green crop, red weed
    for index in range(count):
        rendered, _ = rendered_view(index)
        name = f"{index:03d}"
        plant = rendered.classes != SOIL
        cv2.imwrite(str(root / "images" / f"{name}_image.png"), rendered.photo)
        cv2.imwrite(
            str(root / "masks" / f"{name}_mask.png"), np.where(plant, 0, 255).astype(np.uint8)
        )
        annotation = np.zeros_like(rendered.photo)
        for kind, colour in colours.items():
            annotation[rendered.classes == kind] = colour
        cv2.imwrite(str(root / "annotations" / f"{name}_annotation.png"), annotation)
