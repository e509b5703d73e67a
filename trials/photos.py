"""Photos of plots on disk: the files in the photo folder, the rows in the trial store.

A photo comes from a person's upload (JPEG or PNG, checked by its content, never by its
name) or from the robot's canopy job (an image it measured from). Either way the server
names the file, keeps it under `<folder>/<trial id>/`, writes a small JPEG thumbnail beside
it for the dashboard, then records it with `TrialStore.add_plot_photo`; when any of that
fails the files written so far are removed, so there is no file without its row, nor a
row without its file. The folder is given to whoever stores photos (no global): by default
it sits beside a SQLite database, or in the settings' data directory (`photo_dir_for`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy.engine import make_url

from potager.settings import load_settings
from trials import TrialError
from trials.store import TrialStore
from vision import VisionError
from vision.images import Photo, decode_photo

MAX_PHOTO_BYTES = 8_000_000
"""Twice a 12 Mpx phone JPEG: larger is a raw or a scan, not a plot photo."""
THUMBNAIL_WIDTH_PX = 320
THUMBNAIL_QUALITY = 80
SIGNATURES = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}
MEDIA_TYPES = {".jpg": "image/jpeg", ".png": "image/png"}
NOT_A_PHOTO = "this file is not a JPEG or PNG photo"
SEND_THE_ORIGINAL = "send the photo as the camera or phone saved it"


class PhotoError(TrialError):
    """A file that cannot be kept as a plot's photo; the message says what to send instead."""


@dataclass(frozen=True)
class PhotoFile:
    """A stored photo's file on disk and its media type."""

    path: Path
    media_type: str


def photo_dir_for(database_url: str) -> Path:
    """Where photos go by default: a `photos` folder beside a SQLite database file (so a
    demo's folder holds everything), else in the settings' data directory."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).parent / "photos"
    return load_settings().data_dir / "photos"


def _checked_upload(data: bytes) -> tuple[Photo, str]:
    """The decoded photo and its file suffix, if `data` is a whole JPEG or PNG photo.

    The first bytes must be a JPEG's or a PNG's signature and OpenCV must decode the whole
    image: a text file renamed .jpg fails the first test, a cut-off upload the second.
    """
    suffix = next((s for magic, s in SIGNATURES.items() if data.startswith(magic)), None)
    if suffix is None:
        raise PhotoError(
            f"{NOT_A_PHOTO}: its content is not an image, whatever its name says; "
            f"{SEND_THE_ORIGINAL}, or export it as JPEG"
        )
    try:
        return decode_photo(data, "the photo"), suffix
    except VisionError as error:
        raise PhotoError(f"{NOT_A_PHOTO}: {error}; {SEND_THE_ORIGINAL}") from None


def _thumbnail_jpeg(image: Photo, width_px: int = THUMBNAIL_WIDTH_PX) -> bytes:
    """A JPEG of `image` at most `width_px` wide (never enlarged), for pages to load fast."""
    height_px, image_width_px = image.shape[:2]
    if image_width_px > width_px:
        size = (width_px, max(1, round(height_px * width_px / image_width_px)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    return _jpeg(image, THUMBNAIL_QUALITY)


class PhotoFolder:
    """The photo folder of one trial store: stores plots' photos and finds their files."""

    def __init__(self, root: Path, store: TrialStore) -> None:
        self.root, self._store = root, store

    def add_upload(
        self,
        trial_id: int,
        plot: int,
        data: bytes,
        taken_at: datetime,
        origin: str | None = None,
    ) -> int:
        """Keep an uploaded JPEG or PNG (the bytes as sent) of plot number `plot`; its id.

        A PhotoError when it is not a whole photo, a TrialError when the trial has no such
        plot; either way nothing is kept. A photo from an `origin` already kept (a robot's
        photo delivered twice) is not kept again: the first one's id comes back.
        """
        kept = None if origin is None else self._store.photo_of_origin(origin)
        if kept is not None:
            return kept
        image, suffix = _checked_upload(data)
        return self._keep(trial_id, plot, data, suffix, image, taken_at, origin)

    def add_image(self, trial_id: int, plot: int, image: Photo, taken_at: datetime) -> int:
        """Keep a BGR image (the robot's view of plot number `plot`) as a JPEG; its id."""
        return self._keep(trial_id, plot, _jpeg(image, quality=90), ".jpg", image, taken_at)

    def file(self, trial_id: int, photo_id: int, *, thumbnail: bool = False) -> PhotoFile:
        """The file of one of the trial's photos (or its thumbnail); a TrialError when the
        trial has no such photo, or its file is not in the folder (gone, or recorded by
        other code with a path leading out of it)."""
        original = self.root / self._store.photo(trial_id, photo_id).path
        if thumbnail:
            found = PhotoFile(_thumbnail_path(original), MEDIA_TYPES[".jpg"])
        else:
            found = PhotoFile(
                original, MEDIA_TYPES.get(original.suffix, "application/octet-stream")
            )
        inside = found.path.resolve().is_relative_to(self.root.resolve())
        if not (inside and found.path.is_file()):
            raise TrialError(f"the file of photo {photo_id} is missing from the photo folder")
        return found

    def _keep(
        self,
        trial_id: int,
        plot: int,
        data: bytes,
        suffix: str,
        image: Photo,
        taken_at: datetime,
        origin: str | None = None,
    ) -> int:
        name = f"{trial_id}/{uuid.uuid4().hex}{suffix}"
        original = self.root / name
        thumbnail = _thumbnail_path(original)
        original.parent.mkdir(parents=True, exist_ok=True)
        try:
            original.write_bytes(data)
            thumbnail.write_bytes(_thumbnail_jpeg(image))
            return self._store.add_plot_photo(trial_id, plot, name, taken_at, origin=origin)
        except BaseException:
            original.unlink(missing_ok=True)
            thumbnail.unlink(missing_ok=True)
            raise


def _thumbnail_path(original: Path) -> Path:
    return original.with_name(f"{original.stem}.thumb.jpg")


def _jpeg(image: Photo, quality: int) -> bytes:
    done, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not done:
        raise PhotoError(f"OpenCV could not encode a {image.shape} image as JPEG")
    return encoded.tobytes()
