"""Schedules: see each robot's schedules and when they next fall, pause or resume a robot,
switch a schedule on or off or change its rule, and read the journal of past runs."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from controller.schedule_rules import EventRule, RegimenRule, Rule, next_occurrence
from controller.scheduler import SchedulerError
from potager.db import utc_now
from web.accounts import Role
from web.deps import DbId, PageAccount, Svc, allow, check_csrf, page

router = APIRouter(include_in_schema=False)
JOURNAL_LINES = 50
_RULE: TypeAdapter[EventRule | RegimenRule] = TypeAdapter(Rule)


@router.get("/schedules")
def schedules_page(request: Request, svc: Svc, account: PageAccount) -> Response:
    robots = []
    for robot_id in svc.schedules.robot_ids():
        schedules = svc.schedules.schedules(robot_id, disabled_too=True)
        robots.append(
            {
                "id": robot_id,
                "paused": svc.schedules.pause_reason(robot_id),
                "schedules": [
                    {
                        "view": s,
                        "next": next_occurrence(s.rule, s.cursor) if s.enabled else None,
                        "yaml": yaml.safe_dump(s.rule.model_dump(mode="json"), sort_keys=False),
                    }
                    for s in schedules
                ],
                "journal": svc.schedules.journal(robot_id)[-JOURNAL_LINES:][::-1],
            }
        )
    return page(
        request,
        svc,
        "schedules.html",
        account,
        robots=robots,
        may_edit=account.may(Role.OPERATOR),
        error=request.query_params.get("error"),
    )


@router.post("/schedules/{robot_id}/{action}")
def robot_action(
    request: Request,
    svc: Svc,
    account: PageAccount,
    robot_id: str,
    action: str,
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    allow(account, Role.OPERATOR)
    if action == "pause":
        svc.schedules.set_pause(robot_id, f"paused from the web by {account.name}", utc_now())
    elif action == "resume":
        svc.schedules.clear_pause(robot_id)
    else:
        raise HTTPException(404, f"no action {action!r}: pause or resume")
    return RedirectResponse("/schedules", status_code=303)


@router.post("/schedules/{robot_id}/{schedule_id}/{action}")
def schedule_action(
    request: Request,
    svc: Svc,
    account: PageAccount,
    robot_id: str,
    schedule_id: DbId,
    action: str,
    csrf: Annotated[str | None, Form()] = None,
    rule: Annotated[str | None, Form(max_length=20_000)] = None,
    grace_s: Annotated[float | None, Form(ge=0)] = None,
) -> Response:
    check_csrf(request, csrf)
    allow(account, Role.OPERATOR)
    try:
        if action in ("enable", "disable"):
            svc.schedules.set_enabled(robot_id, schedule_id, action == "enable")
        elif action == "edit":
            _edit(svc, robot_id, schedule_id, rule or "", grace_s)
        else:
            raise HTTPException(404, f"no action {action!r}: enable, disable or edit")
    except SchedulerError as error:
        return RedirectResponse(f"/schedules?error={error}", status_code=303)
    return RedirectResponse("/schedules", status_code=303)


def _edit(svc: Any, robot_id: str, schedule_id: int, text: str, grace_s: float | None) -> None:
    found = [s for s in svc.schedules.schedules(robot_id, disabled_too=True) if s.id == schedule_id]
    if not found:
        raise SchedulerError(f"robot {robot_id!r} has no schedule {schedule_id}")
    try:
        rule = _RULE.validate_python(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as error:
        raise SchedulerError(f"the rule of {found[0].name!r} is not valid: {error}") from None
    svc.schedules.put(
        robot_id, found[0].name, rule, found[0].grace_s if grace_s is None else grace_s
    )
