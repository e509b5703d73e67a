"""Robots: their live status (a page and a server-sent event stream), and control.

Operators control the robots of their own site (admins any); everyone signed in may watch.
The emergency stop is a plain form POST too, so it works without JavaScript, and it is
sent to the link at once, even while a job runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from controller.gantry import Gantry
from potager.robots import AXES
from web.accounts import Account, Role
from web.deps import ApiAccount, PageAccount, Svc, allow, check_csrf, page
from web.robots import RobotBusyError, RobotHub, UnknownRobotError

router = APIRouter()
STREAM_PERIOD_S = 0.25


def hub_of(request: Request) -> RobotHub:
    found: RobotHub = request.app.state.hub
    return found


@router.get("/robots", include_in_schema=False)
def robots_page(request: Request, svc: Svc, account: PageAccount) -> Response:
    hub = hub_of(request)
    return page(
        request,
        svc,
        "robots.html",
        account,
        robots=[status.as_dict() for status in hub.statuses()],
        controls={s.robot_id: _may_control(account, s.site_id) for s in hub.statuses()},
    )


@router.get("/robots/events", include_in_schema=False)
async def robot_events(request: Request, account: PageAccount) -> StreamingResponse:
    """Server-sent events: every robot's status whenever it changes (and every second)."""
    hub = hub_of(request)

    async def stream() -> AsyncIterator[str]:
        last = ""
        while not await request.is_disconnected():
            text = json.dumps([status.as_dict() for status in hub.statuses()])
            if text != last:
                last = text
                yield f"data: {text}\n\n"
            await asyncio.sleep(STREAM_PERIOD_S)

    return StreamingResponse(stream(), media_type="text/event-stream")


@router.post("/robots/{robot_id}/{command}", include_in_schema=False)
def robot_command(
    request: Request,
    svc: Svc,
    account: PageAccount,
    robot_id: str,
    command: str,
    csrf: Annotated[str | None, Form()] = None,
    x_mm: Annotated[float | None, Form()] = None,
    y_mm: Annotated[float | None, Form()] = None,
    z_mm: Annotated[float | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    _command(hub_of(request), account, robot_id, command, x_mm, y_mm, z_mm)
    return RedirectResponse("/robots", status_code=303)


@router.get("/api/robots", tags=["robots"])
def list_robots(request: Request, account: ApiAccount) -> list[dict[str, Any]]:
    return [status.as_dict() for status in hub_of(request).statuses()]


@router.post("/api/robots/{robot_id}/{command}", tags=["robots"], status_code=202)
def robot_command_api(
    request: Request,
    account: ApiAccount,
    robot_id: str,
    command: str,
    x_mm: float | None = None,
    y_mm: float | None = None,
    z_mm: float | None = None,
) -> dict[str, Any]:
    """home, move (x_mm, y_mm, z_mm), estop or unlock; 409 while the robot is busy."""
    hub = hub_of(request)
    _command(hub, account, robot_id, command, x_mm, y_mm, z_mm)
    return hub.status(robot_id).as_dict()


def _command(
    hub: RobotHub,
    account: Account,
    robot_id: str,
    command: str,
    x_mm: float | None,
    y_mm: float | None,
    z_mm: float | None,
) -> None:
    try:
        status = hub.status(robot_id)
    except UnknownRobotError as error:
        raise HTTPException(404, str(error)) from None
    allow(account, Role.OPERATOR)
    if not _may_control(account, status.site_id):
        raise HTTPException(403, f"{status.name} belongs to another site than yours")
    try:
        if command == "estop":
            hub.emergency_stop(robot_id)
        elif command == "unlock":
            hub.unlock(robot_id)
        elif command == "home":
            hub.run(robot_id, "find home", _find_home)
        elif command == "move":
            if x_mm is None and y_mm is None and z_mm is None:
                raise HTTPException(422, "a move needs x_mm, y_mm or z_mm")
            label = f"move to {x_mm}, {y_mm}, {z_mm}"
            hub.run(robot_id, label, lambda gantry: gantry.move_to(x_mm, y_mm, z_mm))
        else:
            raise HTTPException(404, f"no command {command!r}: home, move, estop or unlock")
    except RobotBusyError as error:
        raise HTTPException(409, str(error)) from None


def _find_home(gantry: Gantry) -> None:
    for axis in AXES[::-1]:
        gantry.find_home(axis)


def _may_control(account: Account, site_id: int | None) -> bool:
    if account.role is Role.ADMIN:
        return True
    return account.role is Role.OPERATOR and site_id is not None and account.site_id == site_id
