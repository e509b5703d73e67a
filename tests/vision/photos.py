"""Test photos: drawn synthetic ones with exact truth, and the shared real datasets."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

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
        message = f"the real photos are expected in {folder} (shared/datasets)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
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


def write_cwfid_layout(root: Path, count: int = 4) -> None:
    """A tiny dataset folder laid out like CWFID, from drawn false-colour beds."""
    for folder in ("images", "masks", "annotations"):
        (root / folder).mkdir(parents=True)
    for index in range(count):
        photo, truth = drawn_bed(seed=index, false_colour=True)
        name = f"{index:03d}"
        cv2.imwrite(str(root / "images" / f"{name}_image.png"), photo)
        cv2.imwrite(
            str(root / "masks" / f"{name}_mask.png"), np.where(truth, 0, 255).astype(np.uint8)
        )
        annotation = np.zeros_like(photo)
        annotation[truth] = (0, 255, 0)  # all crop
        cv2.imwrite(str(root / "annotations" / f"{name}_annotation.png"), annotation)
