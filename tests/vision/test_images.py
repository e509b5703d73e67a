from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vision import VisionError
from vision.images import check_photo, decode_photo, load_photo


def encoded(image: np.ndarray, ext: str = ".png") -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def test_a_colour_png_comes_back_as_the_same_bgr_pixels() -> None:
    image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    assert np.array_equal(decode_photo(encoded(image)), image)


def test_an_alpha_channel_is_dropped() -> None:
    image = np.full((20, 20, 4), 100, dtype=np.uint8)
    assert decode_photo(encoded(image)).shape == (20, 20, 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\nthis is not really a png", "not a readable image"),
        (encoded(np.zeros((30, 30), dtype=np.uint8)), "greyscale"),
        (encoded(np.zeros((30, 30, 3), dtype=np.uint16)), "uint16"),
        (encoded(np.zeros((8, 30, 3), dtype=np.uint8)), "at least 16 px"),
    ],
    ids=["empty", "corrupt", "greyscale", "16-bit", "too small"],
)
def test_bad_uploads_get_a_clear_vision_error(data: bytes, message: str) -> None:
    with pytest.raises(VisionError, match=message):
        decode_photo(data, "upload.png")


def test_arrays_of_the_wrong_kind_are_refused() -> None:
    with pytest.raises(VisionError, match="float64"):
        check_photo(np.zeros((20, 20, 3)))
    with pytest.raises(VisionError, match="empty"):
        check_photo(np.zeros((0, 0, 3), dtype=np.uint8))


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(VisionError, match=r"nothing\.jpg"):
        load_photo(tmp_path / "nothing.jpg")
