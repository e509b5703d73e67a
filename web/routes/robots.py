"""Robots: their live status (a page and a server-sent event stream), and control.

Operators control the robots of their own site (admins any); everyone signed in may watch.
Controlling is: home, move, unlock, water a plant and run a sequence. A student runs
sequences too, on the robots their teacher assigned them (from the editor). The emergency
stop is a plain form POST too, so it works without JavaScript, and it is sent to the link
at once, even while a job runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Self

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent import AgentError
from controller.gantry import Gantry
from controller.sequence_load import SequenceError
from potager.robots import AXES, Coordinate
from web.accounts import Account, Role
from web.classroom import (
    SEQUENCE_NAME_LENGTH,
    ClassroomError,
    NotAllowedError,
    NotFoundError,
    may_control,
    may_run,
)
from web.deps import MAX_ID, ApiAccount, PageAccount, Services, Svc, allow, check_csrf, page
from web.robot_jobs import (
    MAX_WATER_ML,
    RobotJobError,
    WaterTarget,
    checked_for,
    example_sequences,
    noted,
    plant_target,
    sequence_work,
    water_work,
)
from web.robots import (
    NetworkRobotError,
    RobotBusyError,
    RobotHub,
    RobotStatus,
    UnknownRobotError,
)

router = APIRouter()
STREAM_PERIOD_S = 0.25
CHANGE_POLL_S = 0.05
CHOICE_PATTERN = r"^(saved:\d{1,10}|example:[\w-]{1,80})$"
"""A sequence picked in a form: `saved:<id>` (one's own) or `example:<name>` (shared)."""
Millimetres = Annotated[float, Field(allow_inf_nan=False, ge=-10_000, le=10_000)]


class WaterIn(BaseModel):
    """Water one plant of the robot's garden by name, or the spot at x_mm, y_mm (z_mm)."""

    model_config = ConfigDict(extra="forbid")

    plant: str | None = Field(default=None, min_length=1, max_length=SEQUENCE_NAME_LENGTH)
    x_mm: Millimetres | None = None
    y_mm: Millimetres | None = None
    z_mm: Millimetres = 0.0
    water_ml: float = Field(gt=0, le=MAX_WATER_ML, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        by_position = self.x_mm is not None and self.y_mm is not None
        if (self.plant is None) == (not by_position):
            raise ValueError("give either a plant or both x_mm and y_mm")
        return self


class SequenceRunIn(BaseModel):
    """Which sequence to run: one of your saved ones, or a shared example by name."""

    model_config = ConfigDict(extra="forbid")

    sequence_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    example: str | None = Field(default=None, pattern=r"^[\w-]{1,80}$")

    @model_validator(mode="after")
    def _one_sequence(self) -> Self:
        if (self.sequence_id is None) == (self.example is None):
            raise ValueError("give either sequence_id or example")
        return self

    @classmethod
    def from_choice(cls, choice: str) -> SequenceRunIn:
        kind, _, value = choice.partition(":")
        return cls(sequence_id=int(value)) if kind == "saved" else cls(example=value)


def hub_of(request: Request) -> RobotHub:
    found: RobotHub = request.app.state.hub
    return found


@contextmanager
def http_errors() -> Iterator[None]:
    """Our refusals as HTTP answers: may not (403), not there (404), busy (409), cannot (422)."""
    try:
        yield
    except NotAllowedError as error:
        raise HTTPException(403, str(error)) from None
    except (UnknownRobotError, NotFoundError) as error:
        raise HTTPException(404, str(error)) from None
    except RobotBusyError as error:
        raise HTTPException(409, str(error)) from None
    except (SequenceError, RobotJobError, ClassroomError, NetworkRobotError) as error:
        raise HTTPException(422, str(error)) from None
    except AgentError as error:  # the broker is out of reach: try again later
        raise HTTPException(503, str(error)) from None
    except ValidationError as error:
        raise HTTPException(422, "; ".join(e["msg"] for e in error.errors())) from None


@router.get("/robots", include_in_schema=False)
def robots_page(request: Request, svc: Svc, account: PageAccount) -> Response:
    hub = hub_of(request)
    statuses = hub.statuses()
    return page(
        request,
        svc,
        "robots.html",
        account,
        robots=[status.as_dict() for status in statuses],
        controls={s.robot_id: may_control(account, s.site_id) for s in statuses},
        stoppable={s.robot_id for s in _may_run_of(statuses, svc, account)},
        plants={s.robot_id: [p.name for p in hub.farm(s.robot_id).plants] for s in statuses},
        sequences=sequence_choices(svc, account),
        max_water_ml=MAX_WATER_ML,
    )


@router.get("/robots/events", include_in_schema=False)
async def robot_events(request: Request, account: PageAccount) -> StreamingResponse:
    """Server-sent events: every robot's status whenever it changes. A change the hub
    announces (a job, an e-stop, a network robot's news) goes out within CHANGE_POLL_S;
    positions, which move without announcing, are looked at every STREAM_PERIOD_S."""
    hub = hub_of(request)

    async def stream() -> AsyncIterator[str]:
        last, seen_version, next_look_s = "", -1, 0.0
        clock = asyncio.get_running_loop()
        while not await request.is_disconnected():
            if hub.version != seen_version or clock.time() >= next_look_s:
                seen_version, next_look_s = hub.version, clock.time() + STREAM_PERIOD_S
                text = json.dumps([status.as_dict() for status in hub.statuses()])
                if text != last:
                    last = text
                    yield f"data: {text}\n\n"
            await asyncio.sleep(CHANGE_POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream")


@router.post("/robots/{robot_id}/water", include_in_schema=False)
def water_form(
    request: Request,
    account: PageAccount,
    robot_id: str,
    water_ml: Annotated[float, Form(gt=0, le=MAX_WATER_ML)],
    plant: Annotated[str | None, Form(max_length=SEQUENCE_NAME_LENGTH)] = None,
    x_mm: Annotated[float | None, Form()] = None,
    y_mm: Annotated[float | None, Form()] = None,
    z_mm: Annotated[float, Form()] = 0.0,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    with http_errors():
        body = WaterIn(plant=plant or None, x_mm=x_mm, y_mm=y_mm, z_mm=z_mm, water_ml=water_ml)
        start_watering(hub_of(request), account, robot_id, body)
    return RedirectResponse("/robots", status_code=303)


@router.post("/robots/{robot_id}/sequence", include_in_schema=False)
def sequence_form(
    request: Request,
    svc: Svc,
    account: PageAccount,
    robot_id: str,
    sequence: Annotated[str, Form(pattern=CHOICE_PATTERN)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    with http_errors():
        start_sequence(hub_of(request), svc, account, robot_id, SequenceRunIn.from_choice(sequence))
    return RedirectResponse("/robots", status_code=303)


@router.post("/robots/{robot_id}/estop", include_in_schema=False)
def estop_form(
    request: Request,
    svc: Svc,
    account: PageAccount,
    robot_id: str,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    with http_errors():
        stop_robot(hub_of(request), svc, account, robot_id)
    return RedirectResponse("/robots", status_code=303)


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
    name: Annotated[str | None, Form(max_length=SEQUENCE_NAME_LENGTH)] = None,
) -> Response:
    check_csrf(request, csrf)
    _command(hub_of(request), account, robot_id, command, x_mm, y_mm, z_mm, name)
    return RedirectResponse("/robots", status_code=303)


@router.get("/api/robots", tags=["robots"])
def list_robots(request: Request, account: ApiAccount) -> list[dict[str, Any]]:
    return [status.as_dict() for status in hub_of(request).statuses()]


@router.get("/api/robots/{robot_id}/unapplied", tags=["robots"])
def unapplied_api(
    request: Request, svc: Svc, account: ApiAccount, robot_id: str
) -> list[dict[str, Any]]:
    """What a network robot sent that the server could not apply (an observation for a
    trial this server does not have, say), kept with the reason: for the robot's operators."""
    _controlled(hub_of(request), account, robot_id)
    return [
        {
            "seq": envelope.seq,
            "kind": envelope.kind,
            "recorded_at": envelope.recorded_at.isoformat(),
            "problem": problem,
        }
        for envelope, problem in svc.inbox.problems(robot_id)
    ]


@router.post("/api/robots/{robot_id}/water", tags=["robots"], status_code=202)
def water_api(
    request: Request, account: ApiAccount, robot_id: str, body: WaterIn
) -> dict[str, Any]:
    """Water a plant of the robot's garden (or x_mm, y_mm): fetch the nozzle, go there,
    open the valve for water_ml, park the nozzle. 403 off your site, 409 while busy."""
    hub = hub_of(request)
    with http_errors():
        start_watering(hub, account, robot_id, body)
        return hub.status(robot_id).as_dict()


@router.post("/api/robots/{robot_id}/sequence", tags=["robots"], status_code=202)
def sequence_api(
    request: Request, svc: Svc, account: ApiAccount, robot_id: str, body: SequenceRunIn
) -> dict[str, Any]:
    """Run one of your saved sequences (or a shared example) on a robot you control, or,
    as a student, on one assigned to you; checked first against the robot's model (422).
    403 on any other robot, 409 while it is busy."""
    hub = hub_of(request)
    with http_errors():
        start_sequence(hub, svc, account, robot_id, body)
        return hub.status(robot_id).as_dict()


@router.post("/api/robots/{robot_id}/estop", tags=["robots"], status_code=202)
def estop_api(request: Request, svc: Svc, account: ApiAccount, robot_id: str) -> dict[str, Any]:
    """Emergency stop, at once, even mid-move: for whoever may drive or run the robot."""
    hub = hub_of(request)
    with http_errors():
        stop_robot(hub, svc, account, robot_id)
        return hub.status(robot_id).as_dict()


@router.post("/api/robots/{robot_id}/{command}", tags=["robots"], status_code=202)
def robot_command_api(
    request: Request,
    account: ApiAccount,
    robot_id: str,
    command: str,
    x_mm: float | None = None,
    y_mm: float | None = None,
    z_mm: float | None = None,
    name: Annotated[str | None, Query(max_length=SEQUENCE_NAME_LENGTH)] = None,
) -> dict[str, Any]:
    """home, move (x_mm, y_mm, z_mm) or unlock; 409 while the robot is busy. A network
    robot takes unlock, pause, resume and run (name: one of its own sequences), sent
    through the broker (503 when the server has no connection to it); its answer shows
    in its log."""
    hub = hub_of(request)
    _command(hub, account, robot_id, command, x_mm, y_mm, z_mm, name)
    return hub.status(robot_id).as_dict()


def start_watering(hub: RobotHub, account: Account, robot_id: str, body: WaterIn) -> None:
    status = _controlled(hub, account, robot_id)
    farm = hub.farm(robot_id)
    if body.plant is not None:
        target = plant_target(farm, body.plant)
    else:
        assert body.x_mm is not None and body.y_mm is not None  # WaterIn asks for both
        target = WaterTarget(f"X {body.x_mm:g} Y {body.y_mm:g}", body.x_mm, body.y_mm, body.z_mm)
    here = Coordinate(status.x_mm, status.y_mm, status.z_mm)
    work = water_work(farm, hub.profile(robot_id), here, target, body.water_ml)
    hub.run(robot_id, f"water {target.label} with {body.water_ml:g} ml", work)


def start_sequence(
    hub: RobotHub, svc: Services, account: Account, robot_id: str, choice: SequenceRunIn
) -> None:
    """Check the chosen sequence against the robot's model and start it there; a saved
    sequence keeps how its run ends."""
    _runnable(hub, svc, account, robot_id)
    if choice.sequence_id is not None:
        saved = svc.classroom.sequence(account.id, choice.sequence_id)
        checked = checked_for(saved.text, hub.profile(robot_id), saved.name)
        saved_id = saved.id
        work = noted(
            sequence_work(checked),
            lambda outcome, detail: svc.classroom.record_run(saved_id, robot_id, outcome, detail),
        )
        name = saved.name
    else:
        name = str(choice.example)
        examples = example_sequences()
        if name not in examples:
            raise NotFoundError(f"no example sequence {name!r} (examples: {', '.join(examples)})")
        work = sequence_work(checked_for(examples[name], hub.profile(robot_id), name))
    hub.run(robot_id, f"sequence {name!r} by {account.name}", work)


def stop_robot(hub: RobotHub, svc: Services, account: Account, robot_id: str) -> None:
    """Whoever may start work on a robot may stop it: a student running a sequence on the
    robot assigned to them needs the button as much as an operator does."""
    _runnable(hub, svc, account, robot_id)
    hub.emergency_stop(robot_id)


def _runnable(hub: RobotHub, svc: Services, account: Account, robot_id: str) -> None:
    """Refuse anyone who neither controls the robot nor has it assigned."""
    status = hub.status(robot_id)
    assigned = robot_id in svc.classroom.assigned_robots(account.id)
    if not may_run(account, status.site_id, assigned):
        raise NotAllowedError(f"{status.name} is not a robot you drive or run sequences on")


def runnable_robots(hub: RobotHub, svc: Services, account: Account) -> list[RobotStatus]:
    """The robots this account may run sequences on: controlled ones, or assigned ones."""
    return _may_run_of(hub.statuses(), svc, account)


def _may_run_of(statuses: list[RobotStatus], svc: Services, account: Account) -> list[RobotStatus]:
    assigned = set(svc.classroom.assigned_robots(account.id))
    return [s for s in statuses if may_run(account, s.site_id, s.robot_id in assigned)]


def sequence_choices(svc: Services, account: Account) -> list[tuple[str, str, bool]]:
    """(form value, name, is an example) of the sequences this account may run: its own,
    then the shared examples."""
    own = [(f"saved:{s.id}", s.name, False) for s in svc.classroom.sequences(account.id)]
    return own + [(f"example:{name}", name, True) for name in example_sequences()]


def _controlled(hub: RobotHub, account: Account, robot_id: str) -> RobotStatus:
    """The robot's status if this account may drive it (operators of its site, admins)."""
    try:
        status = hub.status(robot_id)
    except UnknownRobotError as error:
        raise HTTPException(404, str(error)) from None
    allow(account, Role.OPERATOR)
    if not may_control(account, status.site_id):
        raise HTTPException(403, f"{status.name} belongs to another site than yours")
    return status


def _command(
    hub: RobotHub,
    account: Account,
    robot_id: str,
    command: str,
    x_mm: float | None,
    y_mm: float | None,
    z_mm: float | None,
    name: str | None = None,
) -> None:
    _controlled(hub, account, robot_id)
    with http_errors():
        if command == "unlock":
            hub.unlock(robot_id)
        elif command == "home":
            hub.run(robot_id, "find home", _find_home)
        elif command == "move":
            if x_mm is None and y_mm is None and z_mm is None:
                raise HTTPException(422, "a move needs x_mm, y_mm or z_mm")
            label = f"move to {x_mm}, {y_mm}, {z_mm}"
            hub.run(robot_id, label, lambda gantry: gantry.move_to(x_mm, y_mm, z_mm))
        elif command == "pause":
            hub.pause(robot_id, f"paused by {account.name}")
        elif command == "resume":
            hub.resume(robot_id)
        elif command == "run":
            if not name:
                raise HTTPException(422, "say which of the robot's sequences to run (name)")
            hub.run_own_sequence(robot_id, name)
        else:
            raise HTTPException(
                404,
                f"no command {command!r}: home, move, estop, unlock, water or sequence; "
                "for a network robot estop, unlock, pause, resume or run",
            )


def _find_home(gantry: Gantry) -> None:
    for axis in AXES[::-1]:
        gantry.find_home(axis)
