"""Photos of the simulated bed, with the exact truth of what is in every pixel.

Everything is drawn in bed millimetres and seen through the robot's own `CameraModel`, so a
photo obeys the same pixel <-> bed mapping (turn, origin corner, offset, height, lens
bending) that vision code reads real photos through. Soil texture and stones belong to the
bed (same in every photo of a spot); plants are rosettes of leaf outlines placed in bed mm
and projected vertex by vertex; light, shade patches, cast shadows, vignetting and sensor
noise belong to the shot. The truth (which plant, crop or weed, per pixel) comes from the
same outlines, so vision can be scored against it exactly.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from sim import SimulatorError
from sim.garden import Garden, Kind, Plant, Species
from vision.camera_model import CameraModel
from vision.datasets import CROP, SOIL, WEED
from vision.images import Photo
from vision.photogrid import camera_maps

Points = NDArray[np.float64]
Colour = tuple[float, float, float]
"""BGR, 0-255, as the plant or soil looks in white daylight."""

SHIFT_BITS = 4
"""Polygons are drawn with 1/16 px precision so small leaves keep their shape."""
DRY_SOIL: Colour = (80.0, 105.0, 130.0)
WET_SOIL: Colour = (42.0, 58.0, 80.0)
SOIL_OCTAVES_MM = ((60.0, 0.10), (15.0, 0.12), (4.0, 0.10), (1.2, 0.08))
"""(feature size, relative brightness amplitude) of the soil's texture, coarse to fine."""
WETNESS_MM = 300.0
SHADE_PATCH_MM = 150.0
GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))
STONE_CELL_MM = 12.0
"""Soil is cut into cells this size; some cells hold a stone or a clod."""
STONE_CORNERS = 12
VIGNETTING = 0.2
"""Corner light lost to the lens, as a fraction."""
NOISE_LEVEL = 2.0
"""Sensor noise, standard deviation in 8-bit levels."""
BLUR_PX = 0.6
"""Lens and demosaicing softness, Gaussian sigma in pixels."""
SHADOW_CHANNELS = np.array([0.85, 0.95, 1.0], np.float32)
"""Shadows lose less blue than red: they are lit by the blue sky (BGR)."""

LEAF_COLOURS: dict[Species, Colour] = {
    Species.LETTUCE: (55.0, 165.0, 85.0),
    Species.CARROT: (40.0, 125.0, 50.0),
    Species.BROADLEAF: (50.0, 130.0, 75.0),
    Species.GRASS: (55.0, 150.0, 90.0),
}
HEIGHT_PER_RADIUS: dict[Species, float] = {
    Species.LETTUCE: 0.5,
    Species.CARROT: 0.9,
    Species.BROADLEAF: 0.15,
    Species.GRASS: 0.5,
}
"""How tall a plant stands for its radius: sets the length of its cast shadow."""
LEAF_STATIONS = np.linspace(0.0, 1.0, 25)
"""Where along a leaf its outline is traced, base (0) to tip (1)."""
REACH = 1.1
"""No leaf reaches further than this many radii from the plant's centre."""


@dataclass(frozen=True)
class Lighting:
    """The light of one shot.

    `colour_temperature_k` is the light's colour against a camera white-balanced for
    daylight (5500 K); the sun shines from `sun_azimuth_deg` (counter-clockwise from bed
    +x) at `sun_elevation_deg`; `shadow_strength` is the share of light a cast shadow
    takes away; `patch_strength` the depth of soft shade patches (passing clouds,
    neighbouring crops).
    """

    brightness: float = 1.0
    colour_temperature_k: float = 5500.0
    sun_azimuth_deg: float = 135.0
    sun_elevation_deg: float = 50.0
    shadow_strength: float = 0.5
    patch_strength: float = 0.2

    def __post_init__(self) -> None:
        checks = {
            "brightness (0, 3]": 0 < self.brightness <= 3,
            "colour_temperature_k [1500, 15000]": 1500 <= self.colour_temperature_k <= 15000,
            "sun_elevation_deg [5, 90]": 5 <= self.sun_elevation_deg <= 90,
            "shadow_strength [0, 1]": 0 <= self.shadow_strength <= 1,
            "patch_strength [0, 1]": 0 <= self.patch_strength <= 1,
            "sun_azimuth_deg finite": math.isfinite(self.sun_azimuth_deg),
        }
        wrong = [name for name, ok in checks.items() if not ok]
        if wrong:
            raise SimulatorError(f"lighting out of range, valid: {'; '.join(wrong)}; got {self}")

    def channel_gains(self) -> NDArray[np.float32]:
        """BGR gains of this light against daylight.

        A daylight-balanced camera sees low sun as orange and shade as blue; red and blue
        gains vary roughly exponentially with the shift in mireds (1e6 / kelvin).
        """
        mireds = 1e6 / self.colour_temperature_k - 1e6 / 5500.0
        gains = [math.exp(-0.0028 * mireds), 1.0, math.exp(0.0014 * mireds)]
        return np.array(gains, np.float32) * np.float32(self.brightness)

    def shadow_offset_mm(self, height_mm: float) -> tuple[float, float]:
        """Where the shadow of something `height_mm` tall falls, from its foot."""
        length_mm = height_mm / math.tan(math.radians(self.sun_elevation_deg))
        azimuth = math.radians(self.sun_azimuth_deg)
        return -length_mm * math.cos(azimuth), -length_mm * math.sin(azimuth)


DAYLIGHT = Lighting()
EVENING = Lighting(
    brightness=0.45, colour_temperature_k=3000.0, sun_azimuth_deg=200.0, sun_elevation_deg=15.0
)
OVERCAST = Lighting(
    brightness=0.7, colour_temperature_k=7000.0, shadow_strength=0.1, patch_strength=0.05
)


@dataclass(frozen=True)
class PlantInView:
    """A plant at least one pixel of which is visible; `centre_px` is (column, row) and may
    fall outside the photo when only part of the plant is in it."""

    index: int
    plant: Plant
    centre_px: tuple[float, float]
    visible_px: int


@dataclass(frozen=True)
class Rendered:
    """A photo and its truth: `classes` (SOIL, CROP, WEED) and `instances` (index in
    `garden.plants` + 1, 0 for soil) per pixel."""

    photo: Photo
    classes: NDArray[np.uint8]
    instances: NDArray[np.int32]
    plants: tuple[PlantInView, ...]


@dataclass(frozen=True)
class _Part:
    """A filled outline of a plant in bed mm; silhouette parts make up its truth and shadow,
    the others (highlights, midribs) lie on them."""

    points_mm: Points
    colour: Colour
    silhouette: bool = True


def render_photo(
    garden: Garden,
    camera: CameraModel,
    camera_x_mm: float,
    camera_y_mm: float,
    camera_z_mm: float,
    lighting: Lighting = DAYLIGHT,
    seed: int = 0,
) -> Rendered:
    """The photo the camera takes with the tool head at (x, y, z), and its exact truth.

    `seed` drives what changes from shot to shot (sensor noise, shade patches); the same
    arguments always give the same photo.
    """
    mm_per_px = camera.mm_per_px_at(camera_z_mm)  # refuses a camera below the soil

    def to_px(points_mm: Points) -> Points:
        return camera.bed_to_pixel(points_mm, camera_x_mm, camera_y_mm, camera_z_mm)

    bed_x, bed_y = camera_maps(
        camera,
        (camera_x_mm, camera_y_mm, camera_z_mm),
        np.arange(camera.width_px),
        np.arange(camera.height_px),
        to_bed=True,
    )
    view_mm = (float(bed_x.min()), float(bed_y.min()), float(bed_x.max()), float(bed_y.max()))
    image = _soil(garden.soil_seed, bed_x, bed_y, mm_per_px)
    _draw_stones(image, garden.soil_seed, view_mm, to_px)
    shown = _plants_near(garden, view_mm, lighting)
    parts = [_plant_parts(garden.plants[index]) for index in shown]
    _cast_shadows(image, [garden.plants[i] for i in shown], parts, lighting, to_px, mm_per_px)
    instances = np.zeros(image.shape[:2], np.int32)
    for index, plant_parts in zip(shown, parts, strict=True):
        _draw_plant(image, instances, index + 1, plant_parts, to_px)
    patches = 1.0 - lighting.patch_strength * _smooth_patches(bed_x, bed_y, seed)
    del bed_x, bed_y
    photo = _expose(image, patches, lighting, seed)
    kinds = np.array([SOIL] + [_class_of(p) for p in garden.plants], np.uint8)
    return Rendered(photo, kinds[instances], instances, _in_view(garden, instances, to_px))


def _class_of(plant: Plant) -> int:
    return CROP if plant.kind is Kind.CROP else WEED


def _plants_near(
    garden: Garden, view_mm: tuple[float, float, float, float], lighting: Lighting
) -> list[int]:
    """Indices of plants whose leaves or shadow may reach the view, smallest first so that
    bigger (taller) plants are drawn over them."""
    x_min, y_min, x_max, y_max = view_mm
    near = []
    for index, plant in enumerate(garden.plants):
        shadow_x, shadow_y = lighting.shadow_offset_mm(
            HEIGHT_PER_RADIUS[plant.species] * plant.radius_mm
        )
        reach_mm = REACH * plant.radius_mm + math.hypot(shadow_x, shadow_y)
        if (
            x_min - reach_mm <= plant.x_mm <= x_max + reach_mm
            and y_min - reach_mm <= plant.y_mm <= y_max + reach_mm
        ):
            near.append(index)
    return sorted(near, key=lambda i: garden.plants[i].radius_mm)


def _in_view(
    garden: Garden, instances: NDArray[np.int32], to_px: Callable[[Points], Points]
) -> tuple[PlantInView, ...]:
    counts = np.bincount(instances.ravel(), minlength=len(garden.plants) + 1)[1:]
    seen = np.flatnonzero(counts)
    if len(seen) == 0:
        return ()
    centres = to_px(np.array([(garden.plants[i].x_mm, garden.plants[i].y_mm) for i in seen]))
    return tuple(
        PlantInView(int(i), garden.plants[i], (float(c[0]), float(c[1])), int(counts[i]))
        for i, c in zip(seen, centres, strict=True)
    )


# --- soil ---------------------------------------------------------------------------------


def _soil(
    seed: int, bed_x: NDArray[np.float32], bed_y: NDArray[np.float32], mm_per_px: float
) -> NDArray[np.float32]:
    """Bare soil: wetter (darker) and drier patches, then grain at several scales.

    Textures finer than two pixels are left out: a camera averages them away.
    """
    wetness = _smoothstep(_value_noise(bed_x, bed_y, WETNESS_MM, (seed, 0)))
    texture = np.ones_like(bed_x)
    for octave, (size_mm, amplitude) in enumerate(SOIL_OCTAVES_MM, start=1):
        if size_mm >= 2 * mm_per_px:
            texture += amplitude * _value_noise(bed_x, bed_y, size_mm, (seed, octave))
    dry, wet = np.array(DRY_SOIL, np.float32), np.array(WET_SOIL, np.float32)
    image = dry + (wet - dry) * wetness[..., None]
    image *= texture[..., None]
    return image


def _smooth_patches(
    bed_x: NDArray[np.float32], bed_y: NDArray[np.float32], seed: int
) -> NDArray[np.float32]:
    """0 (lit) to 1 (shaded), soft-edged blotches anchored to the bed.

    The noise is stretched and lowered so that most of the bed is lit and the shade
    patches have firm but soft edges, like cloud shadow.
    """
    noise = _value_noise(bed_x, bed_y, SHADE_PATCH_MM, (seed, 99))
    return _smoothstep(noise * 2.0 - 0.4)


def _smoothstep(noise: NDArray[np.float32]) -> NDArray[np.float32]:
    """-1..1 noise onto 0..1 with soft ends."""
    t = np.clip(noise * 0.5 + 0.5, 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t), np.float32)


def _value_noise(
    bed_x: NDArray[np.float32], bed_y: NDArray[np.float32], size_mm: float, salt: tuple[int, int]
) -> NDArray[np.float32]:
    """Smooth noise in -1..1 with features about `size_mm` across, fixed to bed positions
    (random values on a lattice, hashed from their indices, interpolated bicubically), so
    overlapping photos see the same soil. Each salt turns its lattice differently: stacked
    lattices that share axes show a grid."""
    turn = GOLDEN_ANGLE * salt[1]
    cos, sin = np.float32(math.cos(turn) / size_mm), np.float32(math.sin(turn) / size_mm)
    along = bed_x * cos + bed_y * sin
    across = bed_y * cos - bed_x * sin
    low_x, low_y = math.floor(float(along.min())) - 2, math.floor(float(across.min())) - 2
    high_x, high_y = math.ceil(float(along.max())) + 3, math.ceil(float(across.max())) + 3
    lattice_x, lattice_y = np.meshgrid(np.arange(low_x, high_x), np.arange(low_y, high_y))
    lattice = _hash01(lattice_x, lattice_y, salt) * np.float32(2.0) - np.float32(1.0)
    along -= np.float32(low_x)
    across -= np.float32(low_y)
    noise = cv2.remap(lattice, along, across, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return np.asarray(noise, np.float32)


def _hash01(
    ix: NDArray[np.int64], iy: NDArray[np.int64], salt: tuple[int, int]
) -> NDArray[np.float32]:
    """A fixed pseudo-random value in [0, 1) for each integer lattice point (splitmix64)."""
    mask = (1 << 64) - 1
    key = np.uint64((salt[0] * 0x9E3779B97F4A7C15 + salt[1] * 0xBF58476D1CE4E5B9) & mask)
    h = ix.astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93)
    h ^= iy.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F) + key
    for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        h ^= h >> np.uint64(shift)
        h *= np.uint64(factor)
    h ^= h >> np.uint64(31)
    return (h >> np.uint64(40)).astype(np.float32) / np.float32(1 << 24)


def _draw_stones(
    image: NDArray[np.float32],
    seed: int,
    view_mm: tuple[float, float, float, float],
    to_px: Callable[[Points], Points],
) -> None:
    """Pale stones (in 12 % of cells) and darker clods (6 %), fixed to the bed by hashing."""
    x_min, y_min, x_max, y_max = view_mm
    cells_x = np.arange(math.floor(x_min / STONE_CELL_MM) - 1, math.ceil(x_max / STONE_CELL_MM) + 1)
    cells_y = np.arange(math.floor(y_min / STONE_CELL_MM) - 1, math.ceil(y_max / STONE_CELL_MM) + 1)
    ix, iy = (grid.ravel() for grid in np.meshgrid(cells_x, cells_y))
    which = _hash01(ix, iy, (seed, 1000))
    kept = which < 0.18
    ix, iy, which = ix[kept], iy[kept], which[kept]
    offset_x, offset_y, size, aspect, turn = (_hash01(ix, iy, (seed, 1001 + k)) for k in range(5))
    corners = np.arange(STONE_CORNERS)
    rough = 0.75 + 0.35 * _hash01(ix[:, None] * STONE_CORNERS + corners, iy[:, None], (seed, 1010))
    clod: Colour = _scaled(_mixed(DRY_SOIL, WET_SOIL), 0.8)
    outlines, colours = [], []
    for i in range(len(ix)):
        stone = bool(which[i] < 0.12)
        radius_mm = (1.0 + 4.0 * size[i] ** 2) if stone else (2.0 + 5.0 * size[i])
        centre = ((ix[i] + offset_x[i]) * STONE_CELL_MM, (iy[i] + offset_y[i]) * STONE_CELL_MM)
        outline = (
            _ellipse(radius_mm, radius_mm * (0.5 + 0.5 * float(aspect[i]))) * rough[i, :, None]
        )
        outlines.append(_placed(outline, centre, 2 * math.pi * float(turn[i])))
        grey = 115.0 + 60.0 * float(offset_x[i])
        colours.append((grey * 0.88, grey * 0.95, grey) if stone else clod)
    for outline_px, colour in zip(_project(outlines, to_px), colours, strict=True):
        cv2.fillPoly(image, [outline_px], colour, cv2.LINE_8, SHIFT_BITS)


# --- plants -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _plant_parts(plant: Plant) -> tuple[_Part, ...]:
    """The plant's outlines in bed mm, bottom first; its `seed` fixes every detail.

    Cached: neighbouring photos of a photo grid show the same plants.
    """
    rng = np.random.default_rng(plant.seed)
    base = np.array(LEAF_COLOURS[plant.species]) * rng.normal(1.0, 0.05, 3)
    colour: Colour = (float(base[0]), float(base[1]), float(base[2]))
    draw = {
        Species.LETTUCE: _lettuce,
        Species.CARROT: _carrot,
        Species.BROADLEAF: _broadleaf,
        Species.GRASS: _grass,
    }[plant.species]
    parts = draw(rng, plant.radius_mm, plant.leaf_count, colour)
    turn = math.radians(plant.rotation_deg)
    return tuple(
        _Part(_placed(part.points_mm, (plant.x_mm, plant.y_mm), turn), part.colour, part.silhouette)
        for part in parts
    )


def _lettuce(
    rng: np.random.Generator, radius_mm: float, leaves: int, colour: Colour
) -> list[_Part]:
    """Rings of broad frilly leaves, darker outside, paler towards the heart."""
    heart: Colour = (80.0, 205.0, 140.0)
    rings = (
        (leaves, 1.0, _scaled(colour, 0.8)),
        (max(3, leaves // 2), 0.7, colour),
        (max(3, leaves // 3), 0.42, _mixed(colour, heart)),
    )
    form = _LeafForm(length=(0.85, 1.0), width=(0.7, 0.9), shape=(0.7, 0.45), frill=0.07, waves=9)
    parts: list[_Part] = []
    for count, reach, ring_colour in rings:
        parts += _leaf_ring(rng, count, radius_mm * reach, form, ring_colour, turn_spread=0.12)
    return parts


@dataclass(frozen=True)
class _LeafForm:
    """The leaves of one ring: length (share of the ring's reach) and width (share of the
    length) ranges, `_leaf`'s shape pair, frill and waves."""

    length: tuple[float, float]
    width: tuple[float, float]
    shape: tuple[float, float]
    frill: float
    waves: int


def _leaf_ring(
    rng: np.random.Generator,
    count: int,
    reach_mm: float,
    form: _LeafForm,
    colour: Colour,
    turn_spread: float,
) -> list[_Part]:
    """`count` veined leaves evenly round the centre, each turned a little at random."""
    parts: list[_Part] = []
    start = rng.uniform(0, 2 * math.pi)
    for k in range(count):
        length_mm = reach_mm * rng.uniform(*form.length)
        outline = _leaf(
            length_mm,
            length_mm * rng.uniform(*form.width),
            form.shape,
            0.0,
            frill=form.frill,
            waves=form.waves,
            phase=rng.uniform(0, 6),
        )
        angle = start + 2 * math.pi * k / count + rng.normal(0, turn_spread)
        parts += _veined_leaf(outline, angle, colour, rng)
    return parts


def _carrot(rng: np.random.Generator, radius_mm: float, leaves: int, colour: Colour) -> list[_Part]:
    """Compound leaves: a thin curved stalk carrying pairs of finely lobed leaflets."""
    parts: list[_Part] = []
    start = rng.uniform(0, 2 * math.pi)
    along = np.linspace(0.3, 0.95, 6)
    for k in range(leaves):
        angle = start + 2 * math.pi * k / leaves + rng.normal(0, 0.2)
        length_mm, bend = radius_mm * rng.uniform(0.8, 1.0), rng.normal(0, 0.1)
        leaf_colour = _scaled(colour, rng.uniform(0.9, 1.1))
        stalk = _leaf(length_mm, 0.035 * radius_mm + 0.5, (0.05, 0.3), bend)
        parts.append(_Part(_placed(stalk, (0.0, 0.0), angle), leaf_colour))
        feet = _placed(np.column_stack([along, bend * along**2]) * length_mm, (0.0, 0.0), angle)
        for foot, position in zip(feet, along, strict=True):
            size_mm = 0.3 * radius_mm * (1.0 - 0.6 * position)
            leaflet = _leaf(size_mm, 0.3 * size_mm, (0.5, 0.8), 0.0, frill=0.45, waves=7)
            for side in (-1.0, 1.0):
                turn = angle + side * rng.uniform(0.7, 1.1)
                parts.append(_Part(_placed(leaflet, (foot[0], foot[1]), turn), leaf_colour))
    return parts


def _broadleaf(
    rng: np.random.Generator, radius_mm: float, leaves: int, colour: Colour
) -> list[_Part]:
    """A flat rosette of spoon-shaped, sometimes lobed, leaves."""
    lobes = rng.uniform(0.0, 0.25)
    form = _LeafForm(length=(0.75, 1.0), width=(0.45, 0.7), shape=(0.9, 0.5), frill=lobes, waves=5)
    return _leaf_ring(rng, leaves, radius_mm, form, colour, turn_spread=0.15)


def _grass(rng: np.random.Generator, radius_mm: float, leaves: int, colour: Colour) -> list[_Part]:
    """Narrow, slightly curved blades from one point."""
    parts: list[_Part] = []
    for _ in range(leaves):
        length_mm = radius_mm * rng.uniform(0.6, 1.0)
        width_mm = max(1.5, 0.07 * radius_mm) * rng.uniform(0.8, 1.2)
        blade = _leaf(length_mm, width_mm, (0.05, 0.9), rng.uniform(-0.25, 0.25))
        angle = rng.uniform(0, 2 * math.pi)
        parts.append(
            _Part(_placed(blade, (0.0, 0.0), angle), _scaled(colour, rng.uniform(0.85, 1.1)))
        )
    return parts


def _veined_leaf(
    outline: Points, angle: float, colour: Colour, rng: np.random.Generator
) -> list[_Part]:
    """A leaf with the light it catches: a paler inner blade and a pale midrib."""
    leaf_colour = _scaled(colour, rng.uniform(0.88, 1.1))
    length_mm = float(outline[:, 0].max())
    inner = outline * np.array([0.85, 0.55])
    midrib = _leaf(length_mm * 0.9, max(0.4, 0.05 * length_mm), (0.05, 0.6), 0.0)
    return [
        _Part(_placed(outline, (0.0, 0.0), angle), leaf_colour),
        _Part(_placed(inner, (0.0, 0.0), angle), _scaled(leaf_colour, 1.12), silhouette=False),
        _Part(
            _placed(midrib, (0.0, 0.0), angle),
            _mixed(leaf_colour, (150.0, 225.0, 200.0)),
            silhouette=False,
        ),
    ]


@functools.lru_cache(maxsize=4096)
def _leaf(
    length_mm: float,
    width_mm: float,
    fullness: tuple[float, float],
    bend: float,
    frill: float = 0.0,
    waves: int = 0,
    phase: float = 0.0,
) -> Points:
    """A leaf outline from its base at (0, 0) along +x (cached: carrot leaflets repeat).

    Half-width follows t^a (1-t)^b along the leaf (a > b: widest near the tip), scaled to
    `width_mm` at its widest; `frill` ripples the margin `waves` times, `bend` curves the
    midline sideways by that fraction of the length.
    """
    t = LEAF_STATIONS
    a, b = fullness
    profile = t**a * (1.0 - t) ** b
    half = (0.5 * width_mm / profile.max()) * profile
    half *= 1.0 + frill * np.sin(waves * math.pi * t + phase)
    # the midline y = bend * length * t^2 has slope 2 * bend * t; its unit normal, per length
    slope = 2.0 * bend * t
    norm = np.sqrt(1.0 + slope**2)
    offset_x, offset_y = -slope / norm * half, half / norm
    along, aside = t * length_mm, bend * length_mm * t**2
    outline = np.empty((2 * len(t), 2))
    outline[: len(t), 0], outline[: len(t), 1] = along + offset_x, aside + offset_y
    outline[len(t) :, 0], outline[len(t) :, 1] = (along - offset_x)[::-1], (aside - offset_y)[::-1]
    outline.flags.writeable = False
    return outline


def _ellipse(a_mm: float, b_mm: float) -> Points:
    angles = np.linspace(0, 2 * math.pi, STONE_CORNERS, endpoint=False)
    return np.column_stack([a_mm * np.cos(angles), b_mm * np.sin(angles)])


def _placed(points: Points, at_mm: tuple[float, float], angle: float) -> Points:
    """Points turned by `angle` (radians, counter-clockwise) about (0, 0), then moved."""
    cos, sin = math.cos(angle), math.sin(angle)
    return np.asarray(points @ np.array([[cos, sin], [-sin, cos]]) + at_mm, np.float64)


def _scaled(colour: Colour, factor: float) -> Colour:
    return (colour[0] * factor, colour[1] * factor, colour[2] * factor)


def _mixed(colour: Colour, other: Colour) -> Colour:
    return ((colour[0] + other[0]) / 2, (colour[1] + other[1]) / 2, (colour[2] + other[2]) / 2)


# --- drawing ------------------------------------------------------------------------------


def _project(
    outlines: Sequence[Points], to_px: Callable[[Points], Points]
) -> list[NDArray[np.int32]]:
    """Outlines in bed mm -> fixed-point pixel outlines for cv2, in one camera call."""
    if not outlines:
        return []
    pixels = to_px(np.vstack(outlines))
    # beyond this, coordinates are far off the image; clipping keeps them in int32
    fixed = np.clip(np.round(pixels * (1 << SHIFT_BITS)), -(2**28), 2**28).astype(np.int32)
    ends = np.cumsum([len(outline) for outline in outlines])[:-1]
    return [piece.reshape(-1, 1, 2) for piece in np.split(fixed, ends)]


def _draw_plant(
    image: NDArray[np.float32],
    instances: NDArray[np.int32],
    label: int,
    parts: Sequence[_Part],
    to_px: Callable[[Points], Points],
) -> None:
    """Colour and truth from the same outlines and fill rule, so they agree pixel for pixel
    (the lens blur in `_expose` softens the photo's edges afterwards)."""
    for part, outline in zip(parts, _project([p.points_mm for p in parts], to_px), strict=True):
        cv2.fillPoly(image, [outline], part.colour, cv2.LINE_8, SHIFT_BITS)
        if part.silhouette:
            cv2.fillPoly(instances, [outline], label, cv2.LINE_8, SHIFT_BITS)


def _cast_shadows(
    image: NDArray[np.float32],
    plants: list[Plant],
    parts: Sequence[Sequence[_Part]],
    lighting: Lighting,
    to_px: Callable[[Points], Points],
    mm_per_px: float,
) -> None:
    """Darken the soil under each plant's silhouette moved away from the sun, softly."""
    if not plants or lighting.shadow_strength == 0:
        return
    shadow = np.zeros(image.shape[:2], np.uint8)
    longest_mm = 0.0
    for plant, plant_parts in zip(plants, parts, strict=True):
        offset = lighting.shadow_offset_mm(HEIGHT_PER_RADIUS[plant.species] * plant.radius_mm)
        longest_mm = max(longest_mm, math.hypot(*offset))
        moved = [part.points_mm + offset for part in plant_parts if part.silhouette]
        for outline in _project(moved, to_px):
            cv2.fillPoly(shadow, [outline], 255, cv2.LINE_8, SHIFT_BITS)
    # skylight and the sun's width soften edges more the further the shadow falls
    # a stack blur of radius 2.45 sigma is close to a Gaussian, at a cost that does not grow
    radius_px = max(1, round(2.45 * (1.5 + 0.08 * longest_mm) / mm_per_px))
    soft = cv2.stackBlur(shadow, (2 * radius_px + 1, 2 * radius_px + 1))
    soft = soft.astype(np.float32) / np.float32(255)
    image *= 1.0 - lighting.shadow_strength * soft[..., None] * SHADOW_CHANNELS


def _expose(
    image: NDArray[np.float32], patches: NDArray[np.float32], lighting: Lighting, seed: int
) -> Photo:
    """The lit scene through lens and sensor: light colour, shade, vignetting, blur, noise."""
    height_px, width_px = image.shape[:2]
    across = np.linspace(-1.0, 1.0, width_px, dtype=np.float32) ** 2
    down = np.linspace(-1.0, 1.0, height_px, dtype=np.float32) ** 2
    patches *= 1.0 - np.float32(VIGNETTING / 2) * (across[None, :] + down[:, None])
    image *= patches[..., None]
    image *= lighting.channel_gains()
    blurred = np.asarray(cv2.GaussianBlur(image, (0, 0), BLUR_PX), np.float32)
    rng = np.random.default_rng(seed)
    blurred += rng.standard_normal(blurred.shape, dtype=np.float32) * np.float32(NOISE_LEVEL)
    return np.clip(blurred, 0, 255).astype(np.uint8)
