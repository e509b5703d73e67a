"""Plots' photos on the web: who may add one, taking an upload, sending one.

Routes stay thin (`web.routes.photos`); this is what the page and the API twin share.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import HTTPException, UploadFile
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from potager.db import utc_now
from trials import TrialError
from trials.photos import MAX_PHOTO_BYTES
from web.accounts import Account, Role
from web.deps import Services
from web.uploads import read_upload

UPLOADERS = (Role.RESEARCHER, Role.OPERATOR, Role.TEACHER)
"""Who may add a photo to a plot (an admin may do anything)."""
CACHE_HEADERS = {
    # a photo id's file never changes; private, since only its viewers may see it
    "Cache-Control": "private, max-age=86400, immutable",
    "X-Content-Type-Options": "nosniff",
}
TOO_LARGE_ADVICE = "send the photo at the size a phone or camera saves it, not a scan"


def may_upload_photos(account: Account | None) -> bool:
    return account is not None and account.may(*UPLOADERS)


async def receive_photo(
    svc: Services, trial_id: int, plot: int, file: UploadFile, taken_at: datetime | None
) -> int:
    """Keep an uploaded photo of plot number `plot` (taken now unless `taken_at`); its id.

    UploadTooLargeError, PhotoError (not a whole JPEG or PNG) or TrialError (no such plot)
    otherwise, with nothing kept. Decoding and writing run off the event loop.
    """
    data = await read_upload(file, MAX_PHOTO_BYTES, TOO_LARGE_ADVICE)
    return await run_in_threadpool(
        svc.photos.add_upload, trial_id, plot, data, taken_at or utc_now()
    )


def photo_response(svc: Services, trial_id: int, photo_id: int, thumbnail: bool) -> FileResponse:
    """One of the trial's photos, or its thumbnail; a 404 for any other photo."""
    try:
        found = svc.photos.file(trial_id, photo_id, thumbnail=thumbnail)
    except TrialError as error:
        raise HTTPException(404, str(error)) from None
    return FileResponse(found.path, media_type=found.media_type, headers=CACHE_HEADERS)
