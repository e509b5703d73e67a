"""The work the web hands a hub robot: water one plant, run a sequence.

Both are built here, before anything is queued, so a mistake (a plant not in the garden, a
stop off the bed, a sequence this robot's model cannot run) is refused at once with its
reason instead of failing later in the robot's log. Watering is planned by the planner and
carried out by `controller.jobs.run_plan`, as a scheduled watering is: fetch the nozzle,
rise to safe height, cross, go down, open the valve for millilitres / flow rate, put the
nozzle back. It expects the UTM bare, as every sequence leaves it (`dismount_tool`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from controller.gantry import EmergencyStopError, Gantry
from controller.jobs import run_plan
from controller.robot import Robot
from controller.sequence_check import CheckedSequence
from controller.sequence_load import load_text
from controller.sequence_models import Detector
from controller.sequences import load_sequence, run_sequence
from planner import PlannerError
from planner.jobs import ToolBay, WaterTask, plan_job
from potager.errors import PotagerError
from potager.farm import Farm
from potager.robots import Coordinate, RobotProfile

EXAMPLES = Path(__file__).parents[1] / "docs" / "examples"
MAX_WATER_ML = 5000.0
"""More than a plant takes at once: a typo, not a watering (forms and bodies refuse it)."""

Work = Callable[[Gantry], object]
RunNote = Callable[[str, str], None]
"""Hears a run's outcome (running, done, failed, stopped) and its detail."""


class RobotJobError(PotagerError):
    """Work a robot cannot do as asked; the message says why."""


@dataclass(frozen=True)
class WaterTarget:
    """Where to water: a plant of the robot's garden, by name, or a position on the bed."""

    label: str
    x_mm: float
    y_mm: float
    z_mm: float


def example_sequences() -> dict[str, str]:
    """The shared examples (docs/examples/*.yaml) by name: everyone may run them."""
    if not EXAMPLES.is_dir():
        return {}
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(EXAMPLES.glob("*.yaml"))}


def checked_for(
    text: str,
    profile: RobotProfile,
    source: str,
    detectors: Mapping[str, Detector] | None = None,
) -> CheckedSequence:
    """The sequence checked against this robot's model (a `SequenceError` lists problems).

    Robots on this server have no detector wired, so without `detectors` a `detect` step is
    refused.
    """
    return load_sequence(load_text(text, source), profile, detectors=detectors)


def sequence_work(checked: CheckedSequence) -> Work:
    """Run the sequence's main steps with their default parameters."""

    def work(gantry: Gantry) -> object:
        robot = Robot(gantry, checked.farm, tool=checked.document.starts_with_tool)
        return run_sequence(checked, robot)

    return work


def plant_target(farm: Farm, plant: str) -> WaterTarget:
    found = next((p for p in farm.plants if p.name == plant), None)
    if found is None:
        known = ", ".join(p.name for p in farm.plants) or "none"
        raise RobotJobError(f"no plant {plant!r} in this robot's garden (plants: {known})")
    return WaterTarget(found.name, found.x_mm, found.y_mm, found.z_mm)


def water_work(
    farm: Farm, profile: RobotProfile, start_mm: Coordinate, target: WaterTarget, water_ml: float
) -> Work:
    """Plan watering `target` with `water_ml` from `start_mm` (where the robot stands), the
    nozzle parked after; the garden's tool slots are the bay."""
    try:
        bay = ToolBay(slots=tuple(farm.tool_slots))
        tasks = [
            WaterTask(
                name=f"water {target.label}",
                points_mm=((target.x_mm, target.y_mm),),
                z_mm=target.z_mm,
                ml=water_ml,
            )
        ]
        plan = plan_job(tasks, profile, bay, start_mm=start_mm, end_parked=True)
    except (PlannerError, ValidationError) as error:
        raise RobotJobError(str(error)) from None

    def work(gantry: Gantry) -> object:
        return run_plan(gantry, plan, tasks, gantry.link.clock)

    return work


def noted(work: Work, note: RunNote) -> Work:
    """`work` that tells `note` when it starts and how it ends (an e-stop is "stopped")."""

    def wrapped(gantry: Gantry) -> object:
        note("running", "")
        try:
            result = work(gantry)
        except EmergencyStopError as error:
            note("stopped", str(error))
            raise
        except Exception as error:
            note("failed", f"{type(error).__name__}: {error}")
            raise
        note("done", "")
        return result

    return wrapped
