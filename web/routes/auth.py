"""Signing in and out, and choosing the language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from web.accounts import SESSION_DAYS, AccessError
from web.deps import SESSION_COOKIE, MaybeAccount, Svc, page
from web.i18n import COOKIE, LANGUAGES

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_form(request: Request, svc: Svc, account: MaybeAccount, next: str = "/") -> Response:
    return page(request, svc, "login.html", account, next=_local(next), failed=False)


@router.post("/login")
def login(
    request: Request,
    svc: Svc,
    name: Annotated[str, Form(max_length=120)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    try:
        signed = svc.accounts.sign_in(name, password)
    except AccessError:
        response = page(request, svc, "login.html", None, next=_local(next), failed=True)
        response.status_code = 401
        return response
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        signed.session_token,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request, svc: Svc) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        svc.accounts.sign_out(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/language/{code}")
def choose_language(code: str, request: Request) -> Response:
    back = request.headers.get("referer") or "/"
    response = RedirectResponse(back if back.startswith(str(request.base_url)) else "/", 303)
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, max_age=365 * 86400, samesite="lax")
    return response


def _local(url: str) -> str:
    """Only paths of this site: a login link cannot send anyone elsewhere."""
    return url if url.startswith("/") and not url.startswith("//") else "/"
