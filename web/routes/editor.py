"""The students' sequence editor: write, see each problem at its line, dry-run on the
simulator (predicted time, path length, the path drawn over the bed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from controller.sequence_load import SequenceError, load_text
from controller.sequences import dry_run, dry_run_figure, load_sequence
from potager.robots import PROFILES, get_profile
from sim.detection import simulator_detectors
from sim.serve import firmware_for
from trials.figures import to_svg
from web.deps import PageAccount, Svc, check_csrf, page

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
def editor(request: Request, svc: Svc, account: PageAccount) -> Response:
    text = EXAMPLE.read_text(encoding="utf-8") if EXAMPLE.is_file() else "steps: []\n"
    return page(request, svc, "editor.html", account, **_context(text, "genesis"))


@router.post("/editor")
def editor_action(
    request: Request,
    svc: Svc,
    account: PageAccount,
    text: Annotated[str, Form(max_length=MAX_TEXT)],
    action: Annotated[str, Form(pattern="^(check|dry-run)$")] = "check",
    profile: Annotated[str, Form()] = "genesis",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf)
    robot = get_profile(profile if profile in PROFILES else "genesis")
    detectors, eyes = simulator_detectors(robot)
    context = _context(text, robot.name)
    try:
        checked = load_sequence(load_text(text, SOURCE), robot, detectors=detectors)
    except SequenceError as error:
        context.update(_placed(text, error.problems), checked=False)
        return page(request, svc, "editor.html", account, **context)
    context["checked"] = True
    if action == "dry-run":
        eyes.farm = checked.farm
        try:
            run = dry_run(checked, robot, firmware_for(robot), detectors=detectors)
        except Exception as error:  # a dry run that fails is shown, not a server error
            context["run_error"] = f"{type(error).__name__}: {error}"
        else:
            context["run"] = run
            context["path_svg"] = to_svg(dry_run_figure(run, robot))
    return page(request, svc, "editor.html", account, **context)


def _context(text: str, profile: str) -> dict[str, object]:
    return {
        "text": text,
        "profile": profile,
        "profiles": sorted(PROFILES),
        "lines": [],
        "general": [],
        "checked": None,
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
