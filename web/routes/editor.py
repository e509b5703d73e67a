"""The students' sequence editor: write, see each problem at its line, dry-run on the
simulator (predicted time, path length, the path drawn over the bed), save under a name,
and run a saved sequence on a robot the student was assigned (or, for operators and
admins, one they control). Runs go to the Robots page, where the job shows live."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from controller.sequence_check import CheckedSequence
from controller.sequence_load import SequenceError
from controller.sequences import dry_run, dry_run_figure
from potager.robots import PROFILES, RobotProfile, get_profile
from sim.detection import simulator_detectors
from sim.serve import firmware_for
from trials.figures import to_svg
from web.accounts import Account
from web.classroom import ROBOT_ID_LENGTH, SEQUENCE_NAME_LENGTH
from web.deps import MAX_ID, PageAccount, Services, Svc, check_csrf, page
from web.robot_jobs import checked_for
from web.routes.robots import SequenceRunIn, http_errors, hub_of, runnable_robots, start_sequence

router = APIRouter(include_in_schema=False)
SOURCE = "sequence"
EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "water-lettuces.yaml"
MAX_TEXT = 100_000
_WHERE = re.compile(rf"^{SOURCE}:(\d+):(\d+): (.*)$")


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    problems: list[str]


@router.get("/editor")
def editor(
    request: Request,
    svc: Svc,
    account: PageAccount,
    sequence: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The example to start from, or one of the account's saved sequences (`?sequence=ID`)."""
    if sequence is None:
        text = EXAMPLE.read_text(encoding="utf-8") if EXAMPLE.is_file() else "steps: []\n"
        context = _context(text, "genesis", "")
    else:
        with http_errors():
            saved = svc.classroom.sequence(account.id, sequence)
        context = _context(saved.text, saved.profile, saved.name)
    return _render(request, svc, account, context)


@router.post("/editor")
def editor_action(
    request: Request,
    svc: Svc,
    account: PageAccount,
    text: Annotated[str, Form(max_length=MAX_TEXT)],
    action: Annotated[str, Form(pattern="^(check|dry-run|save)$")] = "check",
    profile: Annotated[str, Form(max_length=32)] = "genesis",
    name: Annotated[str, Form(max_length=SEQUENCE_NAME_LENGTH)] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    robot = get_profile(profile if profile in PROFILES else "genesis")
    context = _context(text, robot.name, name.strip())
    checked, problems = check_in_editor(text, robot)
    context["checked"] = checked is not None
    if checked is None:
        context.update(_placed(text, problems))
    if action == "save":
        if not name.strip():
            context["save_error"] = True
        else:
            svc.classroom.save(account.id, name.strip(), text, robot.name, checked is not None)
            context["saved"] = True
    elif action == "dry-run" and checked is not None:
        context.update(_dry_run(checked, robot))
    return _render(request, svc, account, context)


@router.post("/editor/run")
def run_saved(
    request: Request,
    svc: Svc,
    account: PageAccount,
    sequence_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    robot_id: Annotated[str, Form(min_length=1, max_length=ROBOT_ID_LENGTH)],
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """Run a saved sequence on a robot; then watch it on the Robots page."""
    check_csrf(request, csrf)
    with http_errors():
        start_sequence(
            hub_of(request), svc, account, robot_id, SequenceRunIn(sequence_id=sequence_id)
        )
    return RedirectResponse("/robots", status_code=303)


def check_in_editor(text: str, robot: RobotProfile) -> tuple[CheckedSequence | None, list[str]]:
    """The checked sequence, or None and its problems. `detect` is checked against the
    simulator's detectors, the ones a dry run offers."""
    detectors, _ = simulator_detectors(robot)
    try:
        return checked_for(text, robot, SOURCE, detectors), []
    except SequenceError as error:
        return None, error.problems


def _dry_run(checked: CheckedSequence, robot: RobotProfile) -> dict[str, object]:
    detectors, eyes = simulator_detectors(robot)
    eyes.farm = checked.farm
    try:
        run = dry_run(checked, robot, firmware_for(robot), detectors=detectors)
    except Exception as error:  # a dry run that fails is shown, not a server error
        return {"run_error": f"{type(error).__name__}: {error}"}
    return {"run": run, "path_svg": to_svg(dry_run_figure(run, robot))}


def _render(
    request: Request, svc: Services, account: Account, context: dict[str, object]
) -> Response:
    """The editor with the account's saved sequences and the robots it may run them on."""
    return page(
        request,
        svc,
        "editor.html",
        account,
        my_sequences=svc.classroom.sequences(account.id),
        run_robots=runnable_robots(hub_of(request), svc, account),
        **context,
    )


def _context(text: str, profile: str, name: str) -> dict[str, object]:
    return {
        "text": text,
        "profile": profile,
        "saved_name": name,
        "profiles": sorted(PROFILES),
        "lines": [],
        "general": [],
        "checked": None,
        "saved": False,
        "save_error": False,
        "run": None,
        "run_error": None,
        "path_svg": None,
    }


def _placed(text: str, problems: list[str]) -> dict[str, object]:
    """The text's lines with each problem under its own line; the rest apart."""
    by_line: dict[int, list[str]] = {}
    general = []
    for problem in problems:
        found = _WHERE.match(problem.strip())
        if found is None:
            general.append(problem.strip())
        else:
            by_line.setdefault(int(found.group(1)), []).append(
                f"column {found.group(2)}: {found.group(3)}"
            )
    lines = [
        Line(number, line, by_line.get(number, []))
        for number, line in enumerate(text.splitlines(), start=1)
    ]
    return {"lines": lines, "general": general}
