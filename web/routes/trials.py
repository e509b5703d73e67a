"""Trial pages: the list, the dashboard, its downloads, and read-only share links.

A share link's pages live under `/shared/{token}/` and show that one trial's dashboard and
downloads, with no navigation to anything else; a revoked or expired token is a 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from potager.db import utc_now
from trials import TrialError
from trials.export import csv_records, observation_rows
from web import exports
from web.accounts import Account, Role
from web.cache import DrawnDashboard
from web.dashboard import field_map_figure, figure_bytes, means_figure
from web.deps import (
    DbId,
    PageAccount,
    Services,
    Svc,
    allow,
    check_csrf,
    fragment,
    language,
    page,
)
from web.forest import forest_bytes
from web.photos import may_upload_photos
from web.uploads import UploadTooLargeError, read_upload

router = APIRouter(include_in_schema=False)
MAX_UPLOAD_BYTES = 2_000_000
DOWNLOADS = {
    "fieldbook.csv": "text/csv",
    "observations.csv": "text/csv",
    "brapi.json": "application/json",
    "means.svg": "image/svg+xml",
    "means.png": "image/png",
    "fieldmap.svg": "image/svg+xml",
    "fieldmap.png": "image/png",
    "forest.svg": "image/svg+xml",
    "forest.png": "image/png",
}


@router.get("/")
def home(request: Request, svc: Svc, account: PageAccount) -> Response:
    return page(
        request, svc, "home.html", account, trials=svc.trials.trials(), sites=svc.trials.sites()
    )


@router.get("/trials/{trial_id}")
def trial_dashboard(
    request: Request,
    svc: Svc,
    account: PageAccount,
    trial_id: DbId,
    variable: str | None = None,
) -> Response:
    return dashboard_page(request, svc, account, trial_id, variable, f"/trials/{trial_id}")


@router.get("/trials/{trial_id}/{name}")
def trial_download(
    svc: Svc, account: PageAccount, trial_id: DbId, name: str, variable: str | None = None
) -> Response:
    return _download(svc, trial_id, name, variable)


@router.post("/trials/{trial_id}/share")
def create_share(
    request: Request,
    svc: Svc,
    account: PageAccount,
    trial_id: DbId,
    label: Annotated[str, Form(min_length=1, max_length=120)],
    csrf: Annotated[str | None, Form()] = None,
    days: Annotated[int | None, Form(ge=1, le=3650)] = None,
) -> Response:
    check_csrf(request, csrf)
    allow(account, Role.RESEARCHER, Role.TEACHER)
    expires = utc_now() + timedelta(days=days) if days else None
    _, token = svc.accounts.share(trial_id, account.id, label, expires)
    link = str(request.url_for("shared_dashboard", token=token))
    return dashboard_page(
        request, svc, account, trial_id, None, f"/trials/{trial_id}", new_link=link
    )


@router.post("/trials/{trial_id}/import")
async def import_observations(
    request: Request,
    svc: Svc,
    account: PageAccount,
    trial_id: DbId,
    file: UploadFile,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """A CSV of observations (plot, variable, value, observed_at, source), all or nothing."""
    check_csrf(request, csrf)
    allow(account, Role.RESEARCHER, Role.OPERATOR)
    try:
        data = await read_upload(file, MAX_UPLOAD_BYTES, "split it")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise TrialError("the file is not a text CSV (UTF-8): export it as CSV") from None
        rows = observation_rows(csv_records(text, file.filename or "the file"))
        uploaded_at = utc_now().isoformat()
        rows = [{"observed_at": uploaded_at, **row} for row in rows]  # undated: now
        stored = svc.trials.import_observations(trial_id, rows, importer=account.name)
        message, failed = f"{len(stored)} observations imported", False
    except (TrialError, UploadTooLargeError) as error:
        message, failed = str(error), True
    response = dashboard_page(
        request, svc, account, trial_id, None, f"/trials/{trial_id}", notice=(message, failed)
    )
    if failed:
        response.status_code = 422
    return response


@router.post("/trials/{trial_id}/share/{link_id}/revoke")
def revoke_share(
    request: Request,
    svc: Svc,
    account: PageAccount,
    trial_id: DbId,
    link_id: DbId,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    allow(account, Role.RESEARCHER, Role.TEACHER)
    if link_id not in {link.id for link in svc.accounts.share_links(trial_id)}:
        raise HTTPException(404, f"trial {trial_id} has no share link {link_id}")
    svc.accounts.revoke_share(link_id)
    return RedirectResponse(f"/trials/{trial_id}", status_code=303)


@router.get("/shared/{token}", name="shared_dashboard")
def shared_dashboard(
    request: Request, svc: Svc, token: str, variable: str | None = None
) -> Response:
    trial_id = shared_trial(svc, token)
    return dashboard_page(request, svc, None, trial_id, variable, f"/shared/{token}")


@router.get("/shared/{token}/{name}")
def shared_download(svc: Svc, token: str, name: str, variable: str | None = None) -> Response:
    return _download(svc, shared_trial(svc, token), name, variable)


def shared_trial(svc: Services, token: str) -> int:
    trial_id = svc.accounts.shared_trial(token)
    if trial_id is None:
        raise HTTPException(404, "this share link does not exist, has expired or was revoked")
    return trial_id


def dashboard_page(
    request: Request,
    svc: Services,
    account: Account | None,
    trial_id: int,
    variable: str | None,
    base: str,
    new_link: str | None = None,
    notice: tuple[str, bool] | None = None,
) -> Response:
    try:
        drawn = svc.dashboards.get(trial_id, variable)
    except TrialError as error:
        raise HTTPException(404, str(error)) from None
    may_share = account is not None and account.may(Role.RESEARCHER, Role.TEACHER)
    lang = language(request)
    data_html = drawn.html(
        (lang, base),
        lambda: fragment(
            svc, "_dashboard_data.html", lang, view=drawn.view, base=base,
            field_map=drawn.field_map_svg, per_site=drawn.per_site,
            plot_photos=drawn.plot_photos,
        ),
    )  # fmt: skip
    return page(
        request,
        svc,
        "dashboard.html",
        account,
        trial=drawn.trial,
        data_html=data_html,
        links=svc.accounts.share_links(trial_id) if may_share else [],
        may_share=may_share,
        may_import=account is not None and account.may(Role.RESEARCHER, Role.OPERATOR),
        may_upload_photos=may_upload_photos(account),
        photo_plots=drawn.plot_photos,
        notice=notice,
        new_link=new_link,
        shared=account is None,
    )


def _download(svc: Services, trial_id: int, name: str, variable: str | None) -> Response:
    if name not in DOWNLOADS:
        raise HTTPException(404, f"no download {name!r}; there are {', '.join(DOWNLOADS)}")
    try:
        drawn = svc.dashboards.get(trial_id, variable)  # the data read once, kept by version
    except TrialError as error:
        raise HTTPException(404, str(error)) from None
    plots, view = drawn.plots, drawn.view
    body: str | bytes
    if name == "fieldbook.csv":
        body = exports.field_book(plots)
    elif name == "observations.csv":
        body = exports.observations_csv(view.rows)
    elif name == "brapi.json":
        body = exports.brapi(drawn.trial, plots, view.rows)
    else:
        try:
            body = _figure(drawn, name)
        except TrialError as error:
            raise HTTPException(404, str(error)) from None
    disposition = {"Content-Disposition": f'attachment; filename="trial-{trial_id}-{name}"'}
    return Response(body, media_type=DOWNLOADS[name], headers=disposition)


def _figure(drawn: DrawnDashboard, name: str) -> bytes:
    """A figure of the chosen variable; SVGs the page shows are sent as drawn, not redrawn."""
    stem, kind = name.split(".")
    view = drawn.view
    if stem == "fieldmap":
        if kind == "svg" and drawn.field_map_svg is not None:
            return drawn.field_map_svg.encode()
        figure = field_map_figure(drawn.plots, view.numeric_by_plot)
        if figure is None:
            raise TrialError("no field map: no measured plot has a row and a column")
        return figure_bytes(figure, kind)
    if view.analysis is None or view.variable is None:
        raise TrialError("nothing to draw: no analysable variable yet")
    if stem == "forest":
        return forest_bytes(drawn.per_site, kind)
    return means_figure(drawn.plots, view.numeric_by_plot, view.variable, kind)
