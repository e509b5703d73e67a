"""Photos in, checked: every vision function can assume 8-bit, 3-channel BGR of sane size.

A robot's camera, a student's upload and a dataset folder all arrive here first, so the
errors name the file and say what a usable photo looks like.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from vision import VisionError

Photo = NDArray[np.uint8]
"""An (H, W, 3) BGR image, 8 bits a channel (OpenCV's order)."""

MIN_SIDE_PX = 16
MAX_PIXELS = 64_000_000
"""Larger than any plant camera's photo (a 3264 x 2448 phone photo is 8 Mpx)."""


def check_photo(image: NDArray[np.generic], source: str = "the photo") -> Photo:
    """`image` if it is a usable colour photo, else a `VisionError` saying what is wrong."""
    if image is None or image.size == 0:
        raise VisionError(f"{source} is empty: it has no pixels")
    if image.dtype != np.uint8:
        raise VisionError(
            f"{source} has {image.dtype} pixels; convert it to 8 bits a channel "
            "(16-bit and floating-point photos are not supported)"
        )
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        raise VisionError(
            f"{source} is greyscale; plants are found by colour, so a colour photo is needed"
        )
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise VisionError(f"{source} has shape {image.shape}; expected height x width x 3")
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE_PX:
        raise VisionError(
            f"{source} is {width} x {height} px; at least {MIN_SIDE_PX} px a side is needed"
        )
    if image.shape[2] == 4:  # drop an alpha channel: it carries no colour
        image = np.asarray(cv2.cvtColor(np.asarray(image, np.uint8), cv2.COLOR_BGRA2BGR))
    return np.ascontiguousarray(image, dtype=np.uint8)


def decode_photo(data: bytes, source: str = "the upload") -> Photo:
    """A photo from the bytes of a JPEG or PNG file (EXIF orientation applied)."""
    if not data:
        raise VisionError(f"{source} is empty: 0 bytes")
    # any depth and colour kept so a 16-bit or grey photo is refused by name; unlike
    # IMREAD_UNCHANGED these flags apply the camera's EXIF orientation, as masks assume
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    if image is None:
        raise VisionError(f"{source} is not a readable image (corrupt, or not JPEG/PNG)")
    if image.shape[0] * image.shape[1] > MAX_PIXELS:
        raise VisionError(f"{source} has more than {MAX_PIXELS:,} pixels; resize it first")
    return check_photo(image, source)


def load_photo(path: str | Path) -> Photo:
    """The photo in the file at `path`, upright (EXIF orientation applied)."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as error:
        raise VisionError(f"cannot read photo {file}: {error.strerror or error}") from None
    return decode_photo(data, str(file))


def load_mask(path: str | Path) -> NDArray[np.uint8]:
    """A label image as stored (no colour conversion, no EXIF turn): masks are drawn upright."""
    file = Path(path)
    image = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise VisionError(f"cannot read mask {file}: missing, corrupt or not an image")
    return np.asarray(image)
