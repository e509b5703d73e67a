"""The class view (teachers and admins) and saved sequences over the API.

A teacher sees their students, the robots assigned to each, their saved sequences (do they
check, how did the last run on a robot end) and assigns or takes back robots. Which robots
a teacher may hand out and to whom is decided in `web.classroom`; routes only ask.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from potager.robots import PROFILES, get_profile
from web.accounts import Account, Role
from web.classroom import (
    ROBOT_ID_LENGTH,
    SEQUENCE_NAME_LENGTH,
    SequenceView,
    StudentView,
    may_assign_on_site,
)
from web.deps import MAX_ID, ApiAccount, DbId, PageAccount, Services, Svc, allow, check_csrf, page
from web.robots import RobotHub
from web.routes.editor import MAX_TEXT, check_in_editor
from web.routes.robots import http_errors, hub_of

router = APIRouter()
RobotId = Annotated[str, Field(min_length=1, max_length=ROBOT_ID_LENGTH)]


class SequenceIn(BaseModel):
    """A sequence to save under a name of yours (replacing the one of that name)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=SEQUENCE_NAME_LENGTH, pattern=r"\S")
    text: str = Field(max_length=MAX_TEXT)
    profile: str = Field(default="genesis", max_length=32, description="the robot model")

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, profile: str) -> str:
        if profile not in PROFILES:
            raise ValueError(f"no robot model {profile!r}: one of {', '.join(sorted(PROFILES))}")
        return profile


class SavedOut(BaseModel):
    id: int
    checks: bool
    problems: list[str]


@router.get("/class", include_in_schema=False)
def class_page(request: Request, svc: Svc, account: PageAccount) -> Response:
    allow(account, Role.TEACHER)
    hub = hub_of(request)
    return page(
        request,
        svc,
        "class.html",
        account,
        students=svc.classroom.students(account),
        assignable=_assignable(hub, account),
    )


@router.post("/class/robots", include_in_schema=False)
def assignment_form(
    request: Request,
    svc: Svc,
    account: PageAccount,
    student_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    robot_id: Annotated[str, Form(min_length=1, max_length=ROBOT_ID_LENGTH)],
    action: Annotated[Literal["assign", "unassign"], Form()],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    _change(hub_of(request), svc, account, student_id, robot_id, assign=action == "assign")
    return RedirectResponse("/class", status_code=303)


@router.get("/api/class", tags=["class"])
def class_api(svc: Svc, account: ApiAccount) -> list[StudentView]:
    """Your students (every student, for an admin) with their robots and sequences."""
    allow(account, Role.TEACHER)
    return svc.classroom.students(account)


@router.put("/api/class/students/{student_id}/robots/{robot_id}", tags=["class"], status_code=204)
def assign_api(
    request: Request, svc: Svc, account: ApiAccount, student_id: DbId, robot_id: RobotId
) -> None:
    """Let a student of your class run sequences on a robot (of your site, if you have one)."""
    _change(hub_of(request), svc, account, student_id, robot_id, assign=True)


@router.delete(
    "/api/class/students/{student_id}/robots/{robot_id}", tags=["class"], status_code=204
)
def unassign_api(
    request: Request, svc: Svc, account: ApiAccount, student_id: DbId, robot_id: RobotId
) -> None:
    _change(hub_of(request), svc, account, student_id, robot_id, assign=False)


@router.get("/api/sequences", tags=["sequences"])
def sequences_api(svc: Svc, account: ApiAccount) -> list[SequenceView]:
    """Your saved sequences."""
    return svc.classroom.sequences(account.id)


@router.post("/api/sequences", tags=["sequences"])
def save_api(svc: Svc, account: ApiAccount, body: SequenceIn) -> SavedOut:
    """Save a sequence, checked or not (work in progress is kept); the problems found."""
    checked, problems = check_in_editor(body.text, get_profile(body.profile))
    saved_id = svc.classroom.save(
        account.id, body.name.strip(), body.text, body.profile, checked is not None
    )
    return SavedOut(id=saved_id, checks=checked is not None, problems=problems)


@router.get("/api/sequences/{sequence_id}", tags=["sequences"])
def sequence_api(svc: Svc, account: ApiAccount, sequence_id: DbId) -> SequenceView:
    with http_errors():
        return svc.classroom.sequence(account.id, sequence_id)


def _change(
    hub: RobotHub, svc: Services, account: Account, student_id: int, robot_id: str, assign: bool
) -> None:
    allow(account, Role.TEACHER)
    with http_errors():
        if assign:
            site_id = hub.status(robot_id).site_id
            svc.classroom.assign(account, student_id, robot_id, site_id)
        else:
            svc.classroom.unassign(account, student_id, robot_id)


def _assignable(hub: RobotHub, account: Account) -> list[tuple[str, str]]:
    """(id, name) of the robots this teacher may hand out."""
    return [
        (status.robot_id, status.name)
        for status in hub.statuses()
        if may_assign_on_site(account, status.site_id)
    ]
