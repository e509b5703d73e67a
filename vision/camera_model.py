"""Pixel <-> bed millimetres: the camera model every photo is read through, and its file.

A camera model says how big a pixel is on the soil (at the Z the calibration was taken,
corrected linearly for other heights as FarmBot does), how the image is turned against the
bed axes, which image corner points to the bed origin, where the camera sits relative to
the tool head and, after a card calibration, how the lens bends straight lines. Each
robot's model is saved as a versioned JSON file in the data directory; `calibrate` makes
them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, Field, ValidationError, model_validator

from vision import VisionError

FARMBOT_FOCAL_LENGTH_PX = 157.3
"""FarmBot's height correction: mm/px grows by 1/157.3 for every mm the camera rises."""

_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-9)
"""OpenCV's default stops after 5 steps, 0.3 px short in the corners of a strong lens."""


class OriginCorner(StrEnum):
    """The image corner nearest the bed origin (FarmBot's `image_bot_origin_location`)."""

    BOTTOM_LEFT = "bottom_left"
    BOTTOM_RIGHT = "bottom_right"
    TOP_LEFT = "top_left"
    TOP_RIGHT = "top_right"

    def signs(self) -> tuple[float, float]:
        """(bed x per image column, bed y per image row): +1 or -1."""
        x_sign = 1.0 if self in (OriginCorner.BOTTOM_LEFT, OriginCorner.TOP_LEFT) else -1.0
        y_sign = -1.0 if self in (OriginCorner.BOTTOM_LEFT, OriginCorner.BOTTOM_RIGHT) else 1.0
        return x_sign, y_sign


class CameraModel(BaseModel):
    """How one robot's camera maps pixels onto the bed.

    `rotation_deg` is how far the image is turned counter-clockwise (as seen on screen)
    from upright against the bed axes; `offset_mm` is where the image centre is relative to
    the tool head (FarmBot's camera offset); `focal_length_px` sets the height correction. A
    `camera_matrix` and `distortion` (OpenCV's order) come from a card calibration.
    """

    version: Literal[1] = 1
    robot: str = "default"
    width_px: int = Field(gt=0)
    height_px: int = Field(gt=0)
    mm_per_px: float = Field(gt=0)
    calibration_z_mm: float = 0.0
    rotation_deg: float = 0.0
    origin: OriginCorner = OriginCorner.BOTTOM_LEFT
    offset_mm: tuple[float, float] = (0.0, 0.0)
    focal_length_px: float = Field(default=FARMBOT_FOCAL_LENGTH_PX, gt=0)
    camera_matrix: list[list[float]] | None = None
    distortion: list[float] | None = None

    @model_validator(mode="after")
    def _lens_is_complete(self) -> CameraModel:
        # one without the other would be ignored silently; a wrong shape fails deep in OpenCV
        if (self.camera_matrix is None) != (self.distortion is None):
            raise ValueError("camera_matrix and distortion come together: give both or neither")
        if self.camera_matrix is not None and np.shape(self.camera_matrix) != (3, 3):
            raise ValueError(f"camera_matrix must be 3 x 3, not {np.shape(self.camera_matrix)}")
        if self.distortion is not None and len(self.distortion) not in (4, 5, 8, 12, 14):
            raise ValueError(
                f"distortion has {len(self.distortion)} coefficients; "
                "OpenCV takes 4, 5, 8, 12 or 14"
            )
        return self

    @property
    def centre_px(self) -> tuple[float, float]:
        """The image centre as FarmBot takes it: whole pixels, rounded down."""
        return float(self.width_px // 2), float(self.height_px // 2)

    def mm_per_px_at(self, z_mm: float) -> float:
        """Pixel size on the soil with the camera at `z_mm` (Z is negative downward)."""
        scale = self.mm_per_px + (z_mm - self.calibration_z_mm) / self.focal_length_px
        if scale <= 0:  # a negative scale would mirror every position without a word
            raise VisionError(
                f"camera Z {z_mm} mm is too low for this model ({self.mm_per_px} mm/px at "
                f"Z {self.calibration_z_mm} mm): pixels would be {scale:.3f} mm, so the lens "
                "would be at or below the soil; check the Z or calibrate again"
            )
        return scale

    def view_mm(self, z_mm: float) -> tuple[float, float]:
        """The width and height of soil one photo covers at `z_mm`, along the image axes."""
        scale = self.mm_per_px_at(z_mm)
        return self.width_px * scale, self.height_px * scale

    def pixel_to_bed(
        self, points_px: ArrayLike, camera_x_mm: float, camera_y_mm: float, camera_z_mm: float
    ) -> NDArray[np.float64]:
        """Bed (x, y) in mm of image points (N x 2, columns then rows) taken from there."""
        points = self._undistorted(np.asarray(points_px, np.float64).reshape(-1, 2))
        linear, translation = self._pixel_to_bed_affine(camera_x_mm, camera_y_mm, camera_z_mm)
        return points @ linear.T + translation

    def bed_to_pixel(
        self, points_mm: ArrayLike, camera_x_mm: float, camera_y_mm: float, camera_z_mm: float
    ) -> NDArray[np.float64]:
        """Image points (N x 2) where bed points (x, y in mm) appear in a photo taken there."""
        points = np.asarray(points_mm, np.float64).reshape(-1, 2)
        linear, translation = self._pixel_to_bed_affine(camera_x_mm, camera_y_mm, camera_z_mm)
        return self._distorted((points - translation) @ np.linalg.inv(linear).T)

    def pixel_to_bed_matrix(
        self, camera_x_mm: float, camera_y_mm: float, camera_z_mm: float
    ) -> NDArray[np.float64]:
        """The 2 x 3 affine matrix from (undistorted) pixels to bed mm, for cv2.warpAffine."""
        linear, translation = self._pixel_to_bed_affine(camera_x_mm, camera_y_mm, camera_z_mm)
        return np.hstack([linear, translation.reshape(2, 1)])

    def _pixel_to_bed_affine(
        self, camera_x_mm: float, camera_y_mm: float, camera_z_mm: float
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        # centre, turn the image back onto the bed axes, flip to the origin corner, scale
        angle = np.radians(self.rotation_deg)
        cos, sin = np.cos(angle), np.sin(angle)
        # on screen rows grow downward, so a counter-clockwise turn is (c, s; -s, c) here
        unrotate = np.array([[cos, -sin], [sin, cos]])
        x_sign, y_sign = self.origin.signs()
        flip_scale = np.diag([x_sign, y_sign]) * self.mm_per_px_at(camera_z_mm)
        linear = flip_scale @ unrotate
        centre = np.array(self.centre_px)
        head = np.array([camera_x_mm + self.offset_mm[0], camera_y_mm + self.offset_mm[1]])
        return linear, head - linear @ centre

    def _undistorted(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.camera_matrix is None or self.distortion is None:
            return points
        return undistort_px(points, np.array(self.camera_matrix), np.array(self.distortion))

    def _distorted(self, points: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.camera_matrix is None or self.distortion is None:
            return points
        matrix = np.array(self.camera_matrix, np.float64)
        coefficients = np.array(self.distortion, np.float64)
        homogeneous = np.hstack([points, np.ones((len(points), 1))]) @ np.linalg.inv(matrix).T
        rays = homogeneous.reshape(-1, 1, 3)
        moved, _ = cv2.projectPoints(rays, np.zeros(3), np.zeros(3), matrix, coefficients)
        return np.asarray(moved, np.float64).reshape(-1, 2)


def undistort_px(
    points: NDArray[np.float64], matrix: NDArray[np.float64], distortion: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Where pixels would be through a perfect lens with the same camera matrix."""
    moved = cv2.undistortPoints(
        points.reshape(-1, 1, 2).astype(np.float64),
        matrix.astype(np.float64),
        distortion.astype(np.float64),
        R=None,
        P=matrix.astype(np.float64),
        criteria=_UNDISTORT_CRITERIA,
    )
    return np.asarray(moved, np.float64).reshape(-1, 2)


CAMERA_MODEL_VERSION = 1
_ROBOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_HOW_TO_CALIBRATE = (
    "calibrate the camera with vision.calibrate.two_dot_calibration or card_calibration "
    "and save the model with save_camera_model"
)


def camera_model_path(robot: str, data_dir: str | Path) -> Path:
    """Where `robot`'s camera model lives: data_dir/cameras/<robot>.json."""
    if not _ROBOT_NAME.fullmatch(robot):
        raise VisionError(
            f"robot name {robot!r} cannot name a camera file; use letters, digits, '.', '_' "
            "and '-', starting with a letter or digit"
        )
    return Path(data_dir) / "cameras" / f"{robot}.json"


def save_camera_model(model: CameraModel, data_dir: str | Path) -> Path:
    """Writes the model for its robot and returns the file; a crash mid-write leaves the
    previous file whole, because the new one replaces it only once fully written."""
    path = camera_model_path(model.robot, data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, model.model_dump_json(indent=2) + "\n")
    except OSError as error:
        raise VisionError(
            f"cannot save camera model {path}: {error.strerror or error}; check the data "
            "directory exists and is writable"
        ) from None
    return path


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load_camera_model(robot: str, data_dir: str | Path) -> CameraModel:
    """`robot`'s saved camera model, or a `VisionError` naming the file and what to do."""
    path = camera_model_path(robot, data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise VisionError(
            f"robot {robot!r} has no camera model ({path}): {_HOW_TO_CALIBRATE}"
        ) from None
    except OSError as error:
        raise VisionError(f"cannot read camera model {path}: {error.strerror or error}") from None
    model = _parse_camera_model(text, path)
    if model.robot != robot:
        raise VisionError(
            f"{path} holds the camera model of robot {model.robot!r}, not {robot!r}: "
            + _HOW_TO_CALIBRATE
        )
    return model


def _parse_camera_model(text: str, path: Path) -> CameraModel:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise VisionError(
            f"camera model {path} is not valid JSON (line {error.lineno}: {error.msg}); "
            f"delete it and {_HOW_TO_CALIBRATE}"
        ) from None
    version = data.get("version") if isinstance(data, dict) else None
    if version != CAMERA_MODEL_VERSION:
        raise VisionError(
            f"camera model {path} has version {version!r}; this Potager reads version "
            f"{CAMERA_MODEL_VERSION}: update Potager, or {_HOW_TO_CALIBRATE}"
        )
    try:
        return CameraModel.model_validate(data)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "the model"
        raise VisionError(
            f"camera model {path} is damaged ({where}: {problem['msg']}); {_HOW_TO_CALIBRATE}"
        ) from None
