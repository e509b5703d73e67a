"""Carrying out a planned job on a robot: the planner's steps become firmware commands.

`planner.jobs.plan_job` decides what to do and in which order; this module does it, on a
real robot or on the simulator alike (the gantry cannot tell them apart), and hands every
action to `on_action` the moment it is done, so a journal can record it before the next
risky step: after a power cut, what was watered is known to the millilitre.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controller.gantry import Gantry
from controller.protocol import ControllerError
from planner.jobs import JobPlan, PhotographTask, SowTask, Step, StepKind, Task, WaterTask
from potager.clock import Clock
from potager.robots import Coordinate


class JobError(ControllerError):
    """A job that cannot be carried out as planned; the message names the step."""


@dataclass(frozen=True)
class Action:
    """One thing the robot did: which step, for which task and stop, where, what it gave."""

    step: int
    kind: str
    """travel, work, tool_change, water, sow, weed or photograph"""
    task: str | None
    point_index: int | None
    x_mm: float
    y_mm: float
    z_mm: float
    volume_ml: float = 0.0
    tool: str | None = None
    """the tool hanging from the UTM once the step is done (None: bare UTM)"""
    detail: str = ""
    """what the numbers do not say: a plant's new stage, a message"""


ActionListener = Callable[[Action], None]
PhotoTaker = Callable[[Coordinate], None]


def run_plan(
    gantry: Gantry,
    plan: JobPlan,
    tasks: Sequence[Task],
    clock: Clock,
    *,
    on_action: ActionListener | None = None,
    take_photo: PhotoTaker | None = None,
) -> list[Action]:
    """Every step of `plan` in order; the actions done, also given one by one to `on_action`.

    `tasks` are the ones the plan was made from. Moves go straight to the step's position
    (the plan already rises to safe height and descends in separate steps). A dwell does what
    its task asks: water opens the valve for the planned seconds, sow lets the seed go, weed
    waits while the weeder is in the soil, photograph takes a photo. A failure stops the job
    where it is, and the actions before it stand.
    """
    by_name = {task.name: task for task in tasks}
    unknown = sorted({s.task for s in plan.steps if s.task and s.task not in by_name})
    if unknown:
        raise JobError(f"the plan serves tasks {unknown} that were not given: pass the same tasks")
    if gantry.position != plan.start_mm:
        raise JobError(
            f"the plan starts at {_where(plan.start_mm)} but the robot is at "
            f"{_where(gantry.position)}: plan again from where the robot is"
        )
    if take_photo is None and any(isinstance(task, PhotographTask) for task in tasks):
        raise JobError("this plan takes photos: give take_photo (the camera) to run it")
    actions = []
    for number, step in enumerate(plan.steps, start=1):
        if step.kind is StepKind.DWELL:
            kind, volume_ml = _dwell(gantry, step, by_name[step.task or ""], clock, take_photo)
        else:
            gantry.move_to(step.x_mm, step.y_mm, step.z_mm)
            kind, volume_ml = step.kind.value, 0.0
        action = Action(
            number,
            kind,
            step.task,
            step.point_index,
            step.x_mm,
            step.y_mm,
            step.z_mm,
            volume_ml,
            None if step.tool is None else step.tool.value,
        )
        actions.append(action)
        if on_action is not None:
            on_action(action)
    return actions


def _dwell(
    gantry: Gantry, step: Step, task: Task, clock: Clock, take_photo: PhotoTaker | None
) -> tuple[str, float]:
    profile = gantry.profile
    if isinstance(task, WaterTask):
        gantry.hold_pin(profile.water_valve_pin, step.dwell_s)
        return "water", task.ml
    if isinstance(task, SowTask):
        gantry.write_pin(profile.vacuum_pin, 0)  # the seed drops
    elif isinstance(task, PhotographTask) and take_photo is not None:
        take_photo(step.position)
    clock.sleep(step.dwell_s)  # a weeder works by being pushed in and pulled out
    return task.kind, 0.0


def _where(position: Coordinate) -> str:
    return f"({position.x_mm:g}, {position.y_mm:g}, {position.z_mm:g}) mm"
