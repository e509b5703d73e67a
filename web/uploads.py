"""Uploaded files read with a size limit: the CSV imports and the plots' photos.

Only `limit + 1` bytes are ever read into memory: enough to tell that a file is too large
without holding all of a huge one.
"""

from __future__ import annotations

from fastapi import UploadFile

from potager.errors import PotagerError


class UploadTooLargeError(PotagerError):
    """An uploaded file over its limit; the message says the limit and what to do."""


async def read_upload(file: UploadFile, limit_bytes: int, advice: str) -> bytes:
    """The file's bytes, or an UploadTooLargeError ending with `advice` (e.g. "split it")."""
    data = await file.read(limit_bytes + 1)
    if len(data) > limit_bytes:
        raise UploadTooLargeError(f"the file is over {limit_bytes / 1_000_000:g} MB: {advice}")
    return data
