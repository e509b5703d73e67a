"""Vision models taught by the simulator: what the robot's camera needs to read the virtual bed.

The robot reads photos through a colour model (plant or soil per colour) and a crop/weed
forest, both learned from annotated photos. On the virtual bed the annotations are exact:
a handful of rendered photos of lettuces at every stage of a season (seedlings to heads),
among both kinds of weed, under daylight, overcast and evening light, teach both models in
a few seconds. They are cached by the camera, height, seed and TRAINING_VERSION, so a demo
or a test run trains them once.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from controller.bed_jobs import Eyes
from potager.robots import Coordinate
from sim import SimulatorError
from sim.camera import DAYLIGHT, EVENING, OVERCAST, Lighting, Rendered, render_photo
from sim.garden import Garden, Kind, Species, scatter_weeds, sow_grid
from vision.camera_model import CameraModel
from vision.classify import CropWeedModel, SownPoints, cell_features, training_cells
from vision.colour_model import ColourModel, train_colour_model
from vision.datasets import SOIL
from vision.images import Photo

TRAINING_VERSION = 1
"""Part of the cache key: raise it whenever the training photos or their gardens change."""
SPACING_MM = 170.0
"""Lettuces as a trial sows them (150-200 mm apart), so the sowing map looks the same."""
WEEDS_PER_M2 = 200.0
"""Far more weeds than a bed grows: every photo has to show the forest some."""
WEED_RADIUS_MM = (2.0, 30.0)


@dataclass(frozen=True)
class TrainingShot:
    """One training photo: lettuces of about `lettuce_radius_mm`, in `lighting`."""

    lettuce_radius_mm: float
    lighting: Lighting


TRAINING_SHOTS = (
    TrainingShot(10.0, DAYLIGHT),
    TrainingShot(20.0, OVERCAST),
    TrainingShot(35.0, DAYLIGHT),
    TrainingShot(45.0, EVENING),
    TrainingShot(60.0, DAYLIGHT),
    TrainingShot(75.0, OVERCAST),
    TrainingShot(90.0, DAYLIGHT),
    TrainingShot(25.0, EVENING),
    TrainingShot(15.0, DAYLIGHT),
    TrainingShot(30.0, DAYLIGHT),
    TrainingShot(40.0, OVERCAST),
    TrainingShot(55.0, DAYLIGHT),
    TrainingShot(65.0, EVENING),
    TrainingShot(70.0, DAYLIGHT),
    TrainingShot(80.0, DAYLIGHT),
    TrainingShot(50.0, DAYLIGHT),
)
"""A season from seedlings to heads; most shots in daylight, as the robot photographs."""


def sim_vision_models(
    camera: CameraModel, z_mm: float = 0.0, seed: int = 0, cache_dir: Path | None = None
) -> tuple[ColourModel, CropWeedModel]:
    """A colour model and a crop/weed forest (with sowing map) for photos of the virtual bed
    taken by `camera` at height `z_mm`; loaded from `cache_dir` when trained there before."""
    if cache_dir is None:
        return train_sim_models(camera, z_mm, seed)
    colours_path, forest_path = cache_paths(camera, z_mm, seed, cache_dir)
    if colours_path.is_file() and forest_path.is_file():
        return ColourModel.load(colours_path), CropWeedModel.load(forest_path)
    colours, forest = train_sim_models(camera, z_mm, seed)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _save_atomically(colours.save, colours_path)
    _save_atomically(forest.save, forest_path)
    return colours, forest


def cache_paths(camera: CameraModel, z_mm: float, seed: int, cache_dir: Path) -> tuple[Path, Path]:
    """Where the two models of these parameters are cached."""
    key = json.dumps(
        {"camera": camera.model_dump(mode="json"), "z_mm": z_mm, "seed": seed,
         "version": TRAINING_VERSION},
        sort_keys=True,
    )  # fmt: skip
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir / f"sim-colours-{digest}.npz", cache_dir / f"sim-crop-weed-{digest}.npz"


def train_sim_models(
    camera: CameraModel, z_mm: float = 0.0, seed: int = 0
) -> tuple[ColourModel, CropWeedModel]:
    """Train both models on freshly rendered TRAINING_SHOTS (no cache)."""
    mm_per_px = camera.mm_per_px_at(z_mm)
    shots = [
        training_photo(camera, z_mm, shot, seed * 1000 + number)
        for number, shot in enumerate(TRAINING_SHOTS)
    ]
    colours = train_colour_model((r.photo, r.classes != SOIL) for r, _ in shots)
    cells = [
        training_cells(cell_features(r.photo, r.classes != SOIL, mm_per_px, sown), r.classes)
        for r, sown in shots
    ]
    return colours, CropWeedModel.train(sum(cells[1:], cells[0]), uses_sowing_map=True, seed=seed)


def training_photo(
    camera: CameraModel, z_mm: float, shot: TrainingShot, seed: int
) -> tuple[Rendered, SownPoints]:
    """A photo of a small made-up bed, centred, and its sown points in pixels."""
    garden = training_garden(camera, z_mm, shot.lettuce_radius_mm, seed)
    centre = (garden.length_x_mm / 2, garden.length_y_mm / 2, z_mm)
    rendered = render_photo(garden, camera, *centre, shot.lighting, seed)
    sown_mm = [(p.x_mm, p.y_mm) for p in garden.plants if p.kind is Kind.CROP]
    return rendered, camera.bed_to_pixel(sown_mm, *centre)


def training_garden(
    camera: CameraModel, z_mm: float, lettuce_radius_mm: float, seed: int
) -> Garden:
    """Lettuces of about this radius on a trial's spacing, among a dense flush of weeds,
    on a bed a spacing larger than the view all round (neighbours reach into the photo)."""
    if lettuce_radius_mm <= 0:
        raise SimulatorError(f"lettuce_radius_mm must be positive, got {lettuce_radius_mm}")
    view_x_mm, view_y_mm = camera.view_mm(z_mm)
    size = (max(view_x_mm, view_y_mm) + 2 * SPACING_MM,) * 2
    area = (0.0, 0.0, *size)
    lettuces = sow_grid(
        area, SPACING_MM, SPACING_MM, Species.LETTUCE, lettuce_radius_mm, seed, jitter_mm=20.0
    )
    count = round(WEEDS_PER_M2 * size[0] * size[1] / 1e6)
    weeds = scatter_weeds(area, count, seed + 1, WEED_RADIUS_MM)
    return Garden(*size, tuple(lettuces + weeds), soil_seed=seed + 2)


def _save_atomically(save: Callable[[Path], None], path: Path) -> None:
    """Write through a temporary file so a crash or a parallel run never leaves half a
    model under the cached name (numpy adds .npz to names without it)."""
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.npz")
    save(temporary)
    os.replace(temporary, path)


def sim_eyes(
    garden: Garden,
    camera: CameraModel,
    z_mm: float = 0.0,
    seed: int = 0,
    cache_dir: Path | None = None,
) -> Eyes:
    """A robot's eyes on the simulator: photos of `garden` rendered where the tool head
    stands, read by models trained on the simulator's photos."""
    colours, crop_weed = sim_vision_models(camera, z_mm, seed=seed, cache_dir=cache_dir)
    shots = itertools.count(1)

    def capture(position: Coordinate) -> Photo:
        return render_photo(garden, camera, *position, seed=next(shots)).photo

    return Eyes(camera, capture, colours, crop_weed, z_mm)
