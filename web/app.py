"""The web application: trial dashboards, share links and the JSON API, on one database.

`create_app(database_url)` builds it (the database is migrated first); `potager serve`
runs it with uvicorn. Every asset is served by the app itself: it works on a school's
network with no internet.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from controller.action_journal import ActionJournal
from controller.scheduler import ScheduleStore
from potager.db import make_engine, session_factory, upgrade_database
from trials.photos import PhotoFolder, photo_dir_for
from trials.store import TrialStore
from web.accounts import Accounts
from web.cache import DashboardCache
from web.classroom import Classroom
from web.deps import LoginRequiredError, Services
from web.inbox import Inbox
from web.robots import RobotHub
from web.routes import api, auth, classroom, editor, photos, robots, schedules, trials

HERE = Path(__file__).parent


def create_app(
    database_url: str, hub: RobotHub | None = None, photo_dir: Path | None = None
) -> FastAPI:
    """The app on this database; `hub` holds the robots it may show and drive; plots'
    photos go in `photo_dir` (default: beside a SQLite database, see `photo_dir_for`)."""
    upgrade_database(database_url)
    sessions = session_factory(make_engine(database_url))
    app = FastAPI(
        title="Potager",
        description="Trials, robots and their journals: the JSON API behind the pages.",
        version="0.1.0",
    )
    trial_store = TrialStore(sessions)
    app.state.services = Services(
        accounts=Accounts(sessions),
        trials=trial_store,
        schedules=ScheduleStore(sessions),
        journal=ActionJournal(sessions),
        templates=Jinja2Templates(directory=HERE / "templates"),
        dashboards=DashboardCache(trial_store),
        classroom=Classroom(sessions),
        photos=PhotoFolder(photo_dir or photo_dir_for(database_url), trial_store),
        inbox=Inbox(sessions),
    )
    app.state.hub = hub or RobotHub()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in (
        auth.router,
        robots.router,
        editor.router,
        classroom.router,
        schedules.router,
        trials.router,
        photos.router,
        api.router,
        photos.api_router,
    ):
        app.include_router(router)

    @app.exception_handler(LoginRequiredError)
    async def to_login(request: Request, error: LoginRequiredError) -> Response:
        return RedirectResponse(f"/login?next={error.next_url}", status_code=303)

    return app
