"""Camera calibration: measuring a robot's `CameraModel` (vision.camera_model).

Two ways: FarmBot's two red dots a known distance apart (what FarmBot users
already have), or a printed chessboard or ChArUco card, which also measures the lens. Each
robot's model is saved as a versioned JSON file in the data directory.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from vision import VisionError
from vision.camera_model import FARMBOT_FOCAL_LENGTH_PX, CameraModel, OriginCorner, undistort_px
from vision.farmbot import FarmBotSettings, farmbot_mask
from vision.images import Photo, check_photo

logger = logging.getLogger(__name__)

FARMBOT_CAMERA_OFFSET_MM = (50.0, 100.0)
"""FarmBot's default camera offset from the tool head; measure your own mount."""


def _screen_angle_deg(dx_px: float, dy_px: float) -> float:
    """Counter-clockwise angle of an image vector as seen on screen (rows grow downward)."""
    return math.degrees(math.atan2(-dy_px, dx_px))


def _wrap_deg(angle_deg: float, period_deg: float) -> float:
    """`angle_deg` folded into [-period/2, period/2): 180 for a line, 360 for an arrow."""
    return (angle_deg + period_deg / 2) % period_deg - period_deg / 2


# --- FarmBot's two-dot calibration -------------------------------------------------------

CALIBRATION_DOTS = FarmBotSettings(
    blur_px=5, hsv_min=(160, 100, 100), hsv_max=(20, 255, 255), morph_px=15, iterations=1
)
"""FarmBot's calibration-object settings: a hue window 160 -> 20 wraps through 0, where red is."""

MAX_TWO_DOT_ROTATION_DEG = 45.0
"""Two dots cannot tell a camera turned by a from one turned by a + 180 deg, so the turn is
taken as the smaller one; past 45 deg the dots are nearer the other image axis, which far
more often means `along` is wrong than that the camera is mounted sideways."""


@dataclass(frozen=True)
class TwoDotCalibration:
    """The model a two-dot photo gives, with the dot centres it was measured from."""

    model: CameraModel
    dots_px: tuple[tuple[float, float], tuple[float, float]]
    objects_found: int

    @property
    def separation_px(self) -> float:
        (x1, y1), (x2, y2) = self.dots_px
        return math.hypot(x2 - x1, y2 - y1)


def wrapped_hue_mask(photo: Photo, settings: FarmBotSettings) -> NDArray[np.uint8]:
    """FarmBot's mask, where a hue window with min > max wraps through 0 as FarmBot's does.

    The two halves are selected without morphology and closed together, so a red dot whose
    pixels straddle hue 0 closes into one object, as in FarmBot.
    """
    low, high = settings.hsv_min[0], settings.hsv_max[0]
    if low <= high:
        return farmbot_mask(photo, settings)
    unclosed = replace(settings, morph_px=1)  # a 1 px kernel: closing changes nothing
    upper = replace(
        unclosed, hsv_min=(low, *settings.hsv_min[1:]), hsv_max=(179, *settings.hsv_max[1:])
    )
    lower = replace(
        unclosed, hsv_min=(0, *settings.hsv_min[1:]), hsv_max=(high, *settings.hsv_max[1:])
    )
    union = cv2.bitwise_or(farmbot_mask(photo, upper), farmbot_mask(photo, lower))
    size = settings.morph_px
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    closed = cv2.morphologyEx(union, cv2.MORPH_CLOSE, kernel, iterations=settings.iterations)
    return np.asarray(closed, np.uint8)


def _objects_by_size(mask: NDArray[np.uint8]) -> list[tuple[float, float]]:
    """Centroids of the mask's outer contours, largest area first (FarmBot drops <= 1 px)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = []
    for contour in contours:
        moments = cv2.moments(contour)
        if moments["m00"] > 1:
            centroid = (moments["m10"] / moments["m00"], moments["m01"] / moments["m00"])
            found.append((moments["m00"], centroid))
    found.sort(key=lambda item: item[0], reverse=True)
    return [centroid for _, centroid in found]


def two_dot_calibration(
    photo: Photo,
    separation_mm: float = 100.0,
    camera_z_mm: float = 0.0,
    *,
    along: Literal["x", "y"] = "x",
    robot: str = "default",
    origin: OriginCorner = OriginCorner.BOTTOM_LEFT,
    offset_mm: tuple[float, float] = FARMBOT_CAMERA_OFFSET_MM,
    settings: FarmBotSettings = CALIBRATION_DOTS,
) -> TwoDotCalibration:
    """FarmBot's camera calibration: two red dots `separation_mm` apart along one bed axis.

    The scale and the turn come from the line between the two largest red objects; the
    photo is not rotated and searched again as FarmBot does, because a centroid distance
    and angle do not change when the image turns. The lens is taken as perfect.
    """
    if separation_mm <= 0:
        raise VisionError(f"separation_mm is {separation_mm}; give the dots' distance in mm (> 0)")
    if along not in ("x", "y"):
        raise VisionError(f"along is {along!r}; say which bed axis the dots lie on: 'x' or 'y'")
    photo = check_photo(photo, "the calibration photo")
    objects = _objects_by_size(wrapped_hue_mask(photo, settings))
    if len(objects) < 2:
        raise VisionError(
            f"the calibration photo shows {len(objects)} red object(s); two red dots "
            f"{separation_mm} mm apart along {along.upper()} are needed, in view and in light"
        )
    if len(objects) > 2:
        logger.warning(
            "%d red objects in the calibration photo; using the two largest. Clear other red "
            "things from view if the result looks wrong",
            len(objects),
        )
    first, second = objects[0], objects[1]
    dx_px, dy_px = second[0] - first[0], second[1] - first[1]
    upright_deg = 0.0 if along == "x" else 90.0
    rotation_deg = _wrap_deg(_screen_angle_deg(dx_px, dy_px) - upright_deg, 180.0)
    if abs(rotation_deg) > MAX_TWO_DOT_ROTATION_DEG:
        raise VisionError(
            f"the dots lie {abs(rotation_deg):.0f} deg off the image's "
            f"{'horizontal' if along == 'x' else 'vertical'} axis: lay them along the bed's "
            f"{along.upper()} axis (or pass along='{'y' if along == 'x' else 'x'}'); a camera "
            f"turned more than {MAX_TWO_DOT_ROTATION_DEG:.0f} deg needs a ChArUco card, "
            "which tells which way it points"
        )
    model = CameraModel(
        robot=robot,
        width_px=photo.shape[1],
        height_px=photo.shape[0],
        mm_per_px=separation_mm / math.hypot(dx_px, dy_px),
        calibration_z_mm=camera_z_mm,
        rotation_deg=rotation_deg,
        origin=origin,
        offset_mm=offset_mm,
    )
    return TwoDotCalibration(model, (first, second), len(objects))


# --- card calibration ------------------------------------------------------------------

MIN_CARD_CORNERS = 6
"""Fewer corners than this cannot pin down a scale, a turn and a lens together."""
MAX_CARD_TURN_SPREAD_DEG = 1.0
"""More disagreement than this between photos means the card moved, not measurement noise."""
MIN_HEIGHT_SPREAD_MM = 50.0
"""Photos nearer in height than this change the card's size too little to measure a focal
length to a few per cent."""


@dataclass(frozen=True)
class CalibrationCard:
    """A printed calibration card: a chessboard, or a ChArUco board when `marker_mm` is set.

    Squares are counted along the card's X side (`squares_x`) and Y side. Lay the card
    with its X side along the bed's X axis. A ChArUco card's markers say which way it
    points; a chessboard is read the same turned half a turn, so its two sides must differ.
    """

    squares_x: int
    squares_y: int
    square_mm: float
    marker_mm: float | None = None
    dictionary: str = "DICT_4X4_50"

    def __post_init__(self) -> None:
        if min(self.squares_x, self.squares_y) < 3:
            raise VisionError(
                f"a {self.squares_x} x {self.squares_y}-square card is too small; "
                "use at least 3 squares a side"
            )
        if self.square_mm <= 0:
            raise VisionError(f"square_mm is {self.square_mm}; measure a printed square in mm")
        if self.marker_mm is None and self.squares_x == self.squares_y:
            raise VisionError(
                f"a square {self.squares_x} x {self.squares_y} chessboard cannot show which "
                "side is X; use a different number of squares on each side, or a ChArUco card"
            )
        if self.marker_mm is not None and not 0 < self.marker_mm < self.square_mm:
            raise VisionError(
                f"marker_mm is {self.marker_mm}; a ChArUco marker sits inside its square, "
                f"so it is between 0 and square_mm ({self.square_mm})"
            )
        if self.marker_mm is not None and not hasattr(cv2.aruco, self.dictionary):
            raise VisionError(
                f"{self.dictionary!r} is not an ArUco dictionary; use a name such as "
                "'DICT_4X4_50' or 'DICT_5X5_100'"
            )

    @property
    def is_charuco(self) -> bool:
        return self.marker_mm is not None

    def describe(self) -> str:
        """The card as a student would recognise it, for messages."""
        kind = f"ChArUco card ({self.dictionary})" if self.is_charuco else "chessboard card"
        return f"{self.squares_x} x {self.squares_y}-square {kind} of {self.square_mm} mm squares"

    def charuco_board(self) -> cv2.aruco.CharucoBoard:
        if self.marker_mm is None:
            raise VisionError(f"a {self.describe()} has no ArUco markers; set marker_mm")
        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        size = (self.squares_x, self.squares_y)
        return cv2.aruco.CharucoBoard(size, self.square_mm, self.marker_mm, dictionary)

    def image(self, px_per_mm: float = 10.0, margin_mm: float = 10.0) -> NDArray[np.uint8]:
        """The card to print (grey, white margin); card (x, y) mm is at pixel
        (margin + x) * px_per_mm - 0.5 across and down, OpenCV's pixel-centre convention."""
        square_px = self.square_mm * px_per_mm
        margin_px = round(margin_mm * px_per_mm)
        width_px = round(self.squares_x * square_px) + 2 * margin_px
        height_px = round(self.squares_y * square_px) + 2 * margin_px
        if self.is_charuco:
            drawn = self.charuco_board().generateImage((width_px, height_px), marginSize=margin_px)
            return np.asarray(drawn, np.uint8)
        card = np.full((height_px, width_px), 255, np.uint8)
        for row in range(self.squares_y):
            for column in range(row % 2, self.squares_x, 2):
                top, left = margin_px + row * square_px, margin_px + column * square_px
                corner = (round(left), round(top))
                far = (round(left + square_px) - 1, round(top + square_px) - 1)
                cv2.rectangle(card, corner, far, 0, thickness=-1)
        return card


@dataclass(frozen=True)
class CardView:
    """The card corners one photo shows: card (x, y) in mm and where they are in the image."""

    card_mm: NDArray[np.float64]
    image_px: NDArray[np.float64]


def find_card(photo: Photo, card: CalibrationCard, source: str = "the card photo") -> CardView:
    """The card's inner corners in `photo`, or a `VisionError` naming the card looked for."""
    grey = np.asarray(cv2.cvtColor(check_photo(photo, source), cv2.COLOR_BGR2GRAY), np.uint8)
    view = _find_charuco(grey, card) if card.is_charuco else _find_chessboard(grey, card)
    if view is None or len(view.image_px) < MIN_CARD_CORNERS:
        seen = 0 if view is None else len(view.image_px)
        raise VisionError(
            f"no {card.describe()} found in {source} ({seen} corners seen, at least "
            f"{MIN_CARD_CORNERS} needed): check the card is in view, flat, sharp and evenly lit, "
            "and that its square counts match the printed card"
        )
    return view


def _find_chessboard(grey: NDArray[np.uint8], card: CalibrationCard) -> CardView | None:
    inner = (card.squares_x - 1, card.squares_y - 1)
    found, corners = cv2.findChessboardCornersSB(grey, inner, flags=cv2.CALIB_CB_ACCURACY)
    if not found:
        return None
    columns, rows = np.meshgrid(np.arange(1, inner[0] + 1), np.arange(1, inner[1] + 1))
    card_mm = np.column_stack([columns.ravel(), rows.ravel()]) * card.square_mm
    return CardView(card_mm.astype(np.float64), np.asarray(corners, np.float64).reshape(-1, 2))


def _find_charuco(grey: NDArray[np.uint8], card: CalibrationCard) -> CardView | None:
    board = card.charuco_board()
    corners, ids, _, _ = cv2.aruco.CharucoDetector(board).detectBoard(grey)
    if ids is None or len(ids) == 0 or board.checkCharucoCornersCollinear(ids):
        return None  # corners on one line give no scale across it
    card_mm = np.asarray(board.getChessboardCorners(), np.float64)[np.ravel(ids), :2]
    return CardView(card_mm, np.asarray(corners, np.float64).reshape(-1, 2))


@dataclass(frozen=True)
class CardCalibration:
    """The model card photos give, with how well the lens fits (RMS pixels) and what was seen."""

    model: CameraModel
    reprojection_px: float
    corners_found: tuple[int, ...]
    focal_length_measured: bool


@dataclass(frozen=True)
class _Lens:
    matrix: NDArray[np.float64]
    distortion: NDArray[np.float64]
    rms_px: float


def card_calibration(
    photos: Sequence[Photo],
    card: CalibrationCard,
    camera_z_mm: float | Sequence[float] = 0.0,
    *,
    robot: str = "default",
    origin: OriginCorner = OriginCorner.BOTTOM_LEFT,
    offset_mm: tuple[float, float] = FARMBOT_CAMERA_OFFSET_MM,
    focal_length_px: float = FARMBOT_FOCAL_LENGTH_PX,
) -> CardCalibration:
    """A camera model, lens included, from photos of a card lying flat on the soil.

    `camera_z_mm` is the camera's Z for each photo (one value for all). Seen straight down,
    a card twice as far through a lens twice as long looks the same, so the photos alone
    cannot give the focal length; photos at heights at least MIN_HEIGHT_SPREAD_MM apart
    measure it from how the card shrinks (1/f mm/px per mm, the height correction itself),
    otherwise `focal_length_px` is kept. The lens fit holds the principal point at the
    image centre with square pixels and no tangential terms, which straight-down views
    cannot separate from where the card lies, and fits k1 alone from one photo (k1, k2 from
    several), so that a card covering part of the view does not bend the rest.
    """
    views, size_px, heights_mm = _card_views(photos, card, camera_z_mm)
    lens = _fit_lens(views, size_px, focal_length_px)
    measured = bool(np.ptp(heights_mm) >= MIN_HEIGHT_SPREAD_MM)
    if measured:
        focal_length_px = _focal_length_from_heights(views, lens, heights_mm)
        lens = _fit_lens(views, size_px, focal_length_px)
    elif np.ptp(heights_mm) > 0:
        logger.warning(
            "card photos %.0f mm apart in Z are too close to measure the focal length (at "
            "least %.0f mm); keeping %.1f px",
            np.ptp(heights_mm),
            MIN_HEIGHT_SPREAD_MM,
            focal_length_px,
        )
    poses = [_card_pose(view, lens) for view in views]
    # every photo's scale brought to the first photo's height with the pinhole's 1/f
    scales = [
        scale - (z - heights_mm[0]) / focal_length_px
        for (scale, _), z in zip(poses, heights_mm, strict=True)
    ]
    model = CameraModel(
        robot=robot,
        width_px=size_px[0],
        height_px=size_px[1],
        mm_per_px=float(np.mean(scales)),
        calibration_z_mm=float(heights_mm[0]),
        rotation_deg=_card_rotation_deg([angle for _, angle in poses], card, origin),
        origin=origin,
        offset_mm=offset_mm,
        focal_length_px=focal_length_px,
        camera_matrix=lens.matrix.tolist(),
        distortion=lens.distortion.ravel().tolist(),
    )
    corners = tuple(len(view.image_px) for view in views)
    return CardCalibration(model, lens.rms_px, corners, measured)


def _card_views(
    photos: Sequence[Photo], card: CalibrationCard, camera_z_mm: float | Sequence[float]
) -> tuple[list[CardView], tuple[int, int], NDArray[np.float64]]:
    if len(photos) == 0:
        raise VisionError(f"no card photos given; take at least one of the {card.describe()}")
    photos = [check_photo(photo, f"card photo {index + 1}") for index, photo in enumerate(photos)]
    heights_mm = np.atleast_1d(np.asarray(camera_z_mm, np.float64))
    if heights_mm.size == 1:
        heights_mm = np.full(len(photos), heights_mm[0])
    if heights_mm.size != len(photos):
        raise VisionError(
            f"{heights_mm.size} camera Z values for {len(photos)} card photos; "
            "give one Z for each photo, or a single Z for all"
        )
    sizes = {(photo.shape[1], photo.shape[0]) for photo in photos}
    if len(sizes) > 1:
        listed = ", ".join(f"{width} x {height}" for width, height in sorted(sizes))
        raise VisionError(
            f"the card photos differ in size ({listed}); "
            "take them all with the same camera and resolution"
        )
    views = [
        find_card(photo, card, f"card photo {index + 1}") for index, photo in enumerate(photos)
    ]
    return views, sizes.pop(), heights_mm


def _fit_lens(views: Sequence[CardView], size_px: tuple[int, int], focal_length_px: float) -> _Lens:
    width_px, height_px = size_px
    guess = np.array(
        [
            [focal_length_px, 0.0, (width_px - 1) / 2],
            [0.0, focal_length_px, (height_px - 1) / 2],
            [0.0, 0.0, 1.0],
        ]
    )
    flags = (
        cv2.CALIB_USE_INTRINSIC_GUESS
        | cv2.CALIB_FIX_FOCAL_LENGTH
        | cv2.CALIB_FIX_PRINCIPAL_POINT
        | cv2.CALIB_FIX_ASPECT_RATIO
        | cv2.CALIB_ZERO_TANGENT_DIST
        | cv2.CALIB_FIX_K3
    )
    if len(views) == 1:
        flags |= cv2.CALIB_FIX_K2
    card_points = [
        np.column_stack([view.card_mm, np.zeros(len(view.card_mm))]).astype(np.float32)
        for view in views
    ]
    image_points = [view.image_px.astype(np.float32).reshape(-1, 1, 2) for view in views]
    rms_px, matrix, distortion, _, _ = cv2.calibrateCamera(
        card_points, image_points, size_px, guess, np.zeros(5), flags=flags
    )
    return _Lens(np.asarray(matrix, np.float64), np.asarray(distortion, np.float64), float(rms_px))


def _card_pose(view: CardView, lens: _Lens) -> tuple[float, float]:
    """(mm per px, on-screen angle of the card's X axis) through the corrected lens."""
    straight_px = undistort_px(view.image_px, lens.matrix, lens.distortion)
    design = np.column_stack([view.card_mm, np.ones(len(view.card_mm))])
    solution, *_ = np.linalg.lstsq(design, straight_px, rcond=None)
    card_to_image = solution[:2].T  # columns: where the card's X and Y axes point, px per mm
    mm_per_px = 1.0 / math.sqrt(abs(np.linalg.det(card_to_image)))
    return mm_per_px, _screen_angle_deg(card_to_image[0, 0], card_to_image[1, 0])


def _focal_length_from_heights(
    views: Sequence[CardView], lens: _Lens, heights_mm: NDArray[np.float64]
) -> float:
    scales = [_card_pose(view, lens)[0] for view in views]
    slope, _ = np.polyfit(heights_mm, scales, 1)
    if slope <= 0:
        raise VisionError(
            "the card looked no smaller from lower down; check the camera Z of each photo "
            "(Z is 0 at the top and negative downward) and that the card did not move"
        )
    return float(1.0 / slope)


def _card_rotation_deg(
    angles_deg: Sequence[float], card: CalibrationCard, origin: OriginCorner
) -> float:
    # a chessboard's X axis is known only as a line, a ChArUco card's as an arrow
    period_deg = 360.0 if card.is_charuco else 180.0
    upright_deg = 0.0 if origin.signs()[0] > 0 else 180.0
    # averaged as unit vectors (angles doubled for a line) so that -179 and 179 agree
    fold = 360.0 / period_deg
    turns = np.radians(np.asarray(angles_deg) - upright_deg) * fold
    mean_rad = math.atan2(float(np.sin(turns).mean()), float(np.cos(turns).mean())) / fold
    rotation_deg = _wrap_deg(math.degrees(mean_rad), period_deg)
    spread_deg = max(
        abs(_wrap_deg(angle - upright_deg - rotation_deg, period_deg)) for angle in angles_deg
    )
    if spread_deg > MAX_CARD_TURN_SPREAD_DEG:
        logger.warning(
            "the card photos disagree on the camera's turn by up to %.1f deg; keep the card "
            "still between photos",
            spread_deg,
        )
    return rotation_deg
