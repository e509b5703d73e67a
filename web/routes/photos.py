"""Plots' photos: added from the dashboard or the API, seen on the dashboard and share links.

A plot is addressed by its number in the trial, as observations are, so a script can add a
photo with what the field book says. Files are served only through the trial that owns
them (`/trials/{id}/photos/...` signed in, `/shared/{token}/photos/...` with a live link).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import AwareDatetime, BaseModel

from trials import TrialError
from trials.photos import PhotoError
from web.accounts import Account
from web.deps import MAX_ID, ApiAccount, DbId, PageAccount, Services, Svc, allow, check_csrf
from web.photos import UPLOADERS, photo_response, receive_photo
from web.routes.trials import dashboard_page, shared_trial
from web.uploads import UploadTooLargeError

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["photos"])

PlotNumber = Annotated[int, Path(ge=1, le=MAX_ID, description="the plot's number in the trial")]
TakenAt = Annotated[
    AwareDatetime | None,
    Form(description="when the photo was taken, with its time zone; default: now"),
]
Csrf = Annotated[str | None, Form()]


class NewPhoto(BaseModel):
    """A photo just stored, and where to see it."""

    id: int
    plot: int
    url: str
    thumbnail_url: str


@router.post("/trials/{trial_id}/photos")
async def upload_photo(
    request: Request,
    svc: Svc,
    account: PageAccount,
    trial_id: DbId,
    plot: Annotated[int, Form(ge=1, le=MAX_ID, description="the plot's number in the trial")],
    file: UploadFile,
    csrf: Csrf = None,
    taken_at: TakenAt = None,
) -> Response:
    """A photo from the dashboard's form: back to that plot's photos, or the dashboard saying
    what was wrong with the file."""
    check_csrf(request, csrf)
    allow(account, *UPLOADERS)
    try:
        await receive_photo(svc, trial_id, plot, file, taken_at)
    except UploadTooLargeError as error:
        return _refused(request, svc, account, trial_id, str(error), 413)
    except PhotoError as error:
        return _refused(request, svc, account, trial_id, str(error), 422)
    except TrialError as error:
        raise HTTPException(404, str(error)) from None
    return RedirectResponse(f"/trials/{trial_id}#plot-{plot}-photos", status_code=303)


@router.get("/trials/{trial_id}/photos/{photo_id}")
def trial_photo(svc: Svc, account: PageAccount, trial_id: DbId, photo_id: DbId) -> FileResponse:
    return photo_response(svc, trial_id, photo_id, thumbnail=False)


@router.get("/trials/{trial_id}/photos/{photo_id}/thumb")
def trial_thumbnail(svc: Svc, account: PageAccount, trial_id: DbId, photo_id: DbId) -> FileResponse:
    return photo_response(svc, trial_id, photo_id, thumbnail=True)


@router.get("/shared/{token}/photos/{photo_id}")
def shared_photo(svc: Svc, token: str, photo_id: DbId) -> FileResponse:
    return photo_response(svc, shared_trial(svc, token), photo_id, thumbnail=False)


@router.get("/shared/{token}/photos/{photo_id}/thumb")
def shared_thumbnail(svc: Svc, token: str, photo_id: DbId) -> FileResponse:
    return photo_response(svc, shared_trial(svc, token), photo_id, thumbnail=True)


@api_router.post("/trials/{trial_id}/plots/{plot}/photos", status_code=201)
async def add_photo(
    request: Request,
    svc: Svc,
    account: ApiAccount,
    trial_id: DbId,
    plot: PlotNumber,
    file: UploadFile,
    csrf: Csrf = None,
    taken_at: TakenAt = None,
) -> NewPhoto:
    """Add a JPEG or PNG photo (multipart field `file`, at most 8 MB) to a plot, recorded as
    taken from above the plot's centre. 413 when too large, 422 when not a whole JPEG or
    PNG, 404 when the trial has no such plot."""
    check_csrf(request, csrf)  # a cookie-signed multipart form could come from any site
    allow(account, *UPLOADERS)
    try:
        photo_id = await receive_photo(svc, trial_id, plot, file, taken_at)
    except UploadTooLargeError as error:
        raise HTTPException(413, str(error)) from None
    except PhotoError as error:
        raise HTTPException(422, str(error)) from None
    except TrialError as error:
        raise HTTPException(404, str(error)) from None
    url = f"/trials/{trial_id}/photos/{photo_id}"
    return NewPhoto(id=photo_id, plot=plot, url=url, thumbnail_url=f"{url}/thumb")


def _refused(
    request: Request,
    svc: Services,
    account: Account,
    trial_id: int,
    message: str,
    status_code: int,
) -> Response:
    response = dashboard_page(
        request, svc, account, trial_id, None, f"/trials/{trial_id}", notice=(message, True)
    )
    response.status_code = status_code
    return response
