"""What routes are given: the services, the signed-in account, the language, CSRF checks.

A request is signed in by its session cookie (pages) or by `Authorization: Bearer TOKEN`
(scripts and robots). Forms sent with a cookie carry the session's CSRF token; a bearer
token needs none, since a browser never sends it by itself.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request, Response
from fastapi.templating import Jinja2Templates

from controller.action_journal import ActionJournal
from controller.scheduler import ScheduleStore
from trials.photos import PhotoFolder
from trials.store import TrialStore
from web.accounts import Account, Accounts, Role
from web.cache import DashboardCache
from web.classroom import Classroom
from web.i18n import COOKIE, other_language, pick_language, translate
from web.inbox import Inbox

SESSION_COOKIE = "potager_session"
MAX_ID = 2**31 - 1
DbId = Annotated[int, Path(ge=1, le=MAX_ID, description="a database key")]
"""Keys are 32-bit in PostgreSQL (and SQLite refuses past 64): larger ones are a 422."""


@dataclass(frozen=True)
class Services:
    accounts: Accounts
    trials: TrialStore
    schedules: ScheduleStore
    journal: ActionJournal
    templates: Jinja2Templates
    dashboards: DashboardCache
    classroom: Classroom
    photos: PhotoFolder
    inbox: Inbox
    """what network robots sent (`potager serve --broker`)"""


class LoginRequiredError(Exception):
    """A page that needs an account was opened without one: go to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


Svc = Annotated[Services, Depends(services)]


def optional_account(request: Request, svc: Svc) -> Account | None:
    """The account behind the bearer token or the session cookie, if any."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        account = svc.accounts.api_account(header[7:].strip())
        if account is None:
            raise HTTPException(401, "unknown or revoked API token")
        request.state.csrf = None
        return account
    cookie = request.cookies.get(SESSION_COOKIE)
    found = svc.accounts.session(cookie) if cookie else None
    if found is None:
        return None
    account, request.state.csrf = found
    return account


MaybeAccount = Annotated[Account | None, Depends(optional_account)]


def page_account(request: Request, account: MaybeAccount) -> Account:
    """A signed-in account for a page; else off to the login page and back."""
    if account is None:
        raise LoginRequiredError(str(request.url.path))
    return account


def api_account(account: MaybeAccount) -> Account:
    if account is None:
        raise HTTPException(401, "sign in, or send Authorization: Bearer <API token>")
    return account


PageAccount = Annotated[Account, Depends(page_account)]
ApiAccount = Annotated[Account, Depends(api_account)]


def allow(account: Account, *roles: Role) -> None:
    if not account.may(*roles):
        raise HTTPException(403, f"a {account.role.value} may not do this")


def check_csrf(request: Request, token: str | None) -> None:
    """Forms sent with a session cookie must carry its CSRF token."""
    expected = getattr(request.state, "csrf", None)
    if expected is None:  # bearer token: no cookie, no cross-site risk
        return
    if token is None or not secrets.compare_digest(token, expected):
        raise HTTPException(403, "the form is stale or forged (CSRF check); reload the page")


def language(request: Request) -> str:
    return pick_language(request.cookies.get(COOKIE), request.headers.get("accept-language"))


def page(
    request: Request, svc: Services, name: str, account: Account | None, **context: Any
) -> Response:
    """Render template `name` in the request's language."""
    rendered: Response = svc.templates.TemplateResponse(
        request,
        name,
        {
            **_wording(language(request)),
            "account": account,
            "csrf": getattr(request.state, "csrf", None),
            **context,
        },
    )
    return rendered


def fragment(svc: Services, name: str, lang: str, **context: Any) -> str:
    """Render template `name` in `lang` as a piece of a page that is the same for everyone."""
    return svc.templates.get_template(name).render(**_wording(lang), **context)


def _wording(lang: str) -> dict[str, Any]:
    return {
        "t": lambda key, **values: translate(lang, key, **values),
        "lang": lang,
        "other_lang": other_language(lang),
    }
