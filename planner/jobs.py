"""Tasks (sow, water, weed, photograph) into the ordered moves a gantry runs.

Tasks are grouped by the tool they need, so each tool is mounted once; the groups run with
the tool already on the UTM first, then in the order the tasks first name them. Every tool
change passes through the tool bay (dismount the current tool, mount the next). Inside a
group the stops are ordered by `plan_tour` on the robot's travel-time metric, or by one of
FarmBot's sorts when asked, so a benchmark can price the order FarmBot would run.

Every stop is reached the same way, as FarmBot's safe-Z move does: rise to the profile's
safe height, cross in X/Y, go down to the stop's Z, dwell, rise again. The down-and-up and
the dwell cost the same whatever the order, so ordering by the X/Y metric alone is exact.

Keep-out zones (circles, e.g. around crops for the weeder) constrain stops, not legs: a stop
inside one is refused, while legs cross them at safe height. That is a promise only the
profile can keep: `safe_z_mm` must hold the tool hanging under the UTM above the tallest
crop, and the planner trusts it. The only X/Y legs flown lower, the tool bay's slide-in and
pull-out, are checked against the zones like stops.

The predicted duration is the firmware's own motion model (`planner.motion`) applied to the
plan's own moves, plus each dwell, plus a fixed overhead per firmware command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from planner import PlannerError
from planner.motion import TravelMetric, moves_time_s
from planner.sorts import FARMBOT_SORTS, farmbot_order
from planner.tour import check_on_bed, plan_tour
from potager.farm import Tool as Tool
from potager.farm import ToolSlot as ToolSlot
from potager.robots import Axis, Coordinate, RobotProfile

HOME = Coordinate(0.0, 0.0, 0.0)
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
PointMm = tuple[FiniteFloat, FiniteFloat]


# ----------------------------------------------------------------------- the tool bay

TASK_TOOLS: tuple[Tool, ...] = (Tool.SEEDER, Tool.WATERING_NOZZLE, Tool.WEEDER)
"""The tools a task can need, in the order of FarmBot's seeded bay."""
PLAN_ORDERS: tuple[str, ...] = ("planner", *FARMBOT_SORTS)
"""What `plan_job` may order each tool group's stops by: our tour, or a FarmBot sort."""


class ToolBay(BaseModel):
    """The slots, and how far the gantry backs off along +X to clear a tool from its slot."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slots: tuple[ToolSlot, ...]
    pull_out_mm: float = Field(default=100.0, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_slot_per_tool(self) -> ToolBay:
        tools = [slot.tool for slot in self.slots]
        if len(set(tools)) != len(tools):
            raise ValueError(f"each tool needs exactly one slot, got {', '.join(tools)}")
        return self

    @classmethod
    def seeded(
        cls, tools: Sequence[Tool] = TASK_TOOLS, *, nozzle_flow_rate_ml_s: float | None = None
    ) -> ToolBay:
        """FarmBot's seeded layout: slot n at X 6, Y 100 + n*100, Z -340 (reference 2.4)."""
        return cls(
            slots=tuple(
                ToolSlot(
                    tool=tool,
                    x_mm=6.0,
                    y_mm=100.0 + n * 100.0,
                    z_mm=-340.0,
                    flow_rate_ml_s=nozzle_flow_rate_ml_s if tool is Tool.WATERING_NOZZLE else None,
                )
                for n, tool in enumerate(tools)
            )
        )

    def slot_for(self, tool: Tool) -> ToolSlot:
        for slot in self.slots:
            if slot.tool is tool:
                return slot
        held = ", ".join(slot.tool.label for slot in self.slots) or "nothing"
        raise PlannerError(
            f"the tool bay has no slot for the {tool.label} (it holds: {held}); add a slot for it"
        )

    def approach(self, slot: ToolSlot) -> Coordinate:
        """In front of the slot on the +X side, at the slot's height: where pull-outs end."""
        return slot.position._replace(x_mm=slot.x_mm + self.pull_out_mm)


# ---------------------------------------------------------------------------- tasks


class _TaskBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: ClassVar[Tool | None]

    name: str = Field(min_length=1, description="names the task in the plan and in errors")
    points_mm: tuple[PointMm, ...] = Field(description="(x_mm, y_mm) of each stop")
    z_mm: FiniteFloat = Field(description="the tool's height at each stop (negative is down)")

    def dwell(self, bay: ToolBay) -> tuple[float, str]:
        """Seconds the robot stands at each stop, and what it does meanwhile."""
        raise NotImplementedError


class SowTask(_TaskBase):
    """Sow a seed at each point with the seeder (vacuum off to drop the seed it carries).

    Picking each seed from a trough is not planned here: it would add a detour per seed.
    """

    kind: Literal["sow"] = "sow"
    tool: ClassVar[Tool | None] = Tool.SEEDER
    dwell_s: float = Field(default=1.0, ge=0, allow_inf_nan=False)

    def dwell(self, bay: ToolBay) -> tuple[float, str]:
        return self.dwell_s, "release the seed (vacuum off)"


class WaterTask(_TaskBase):
    """Give each plant `ml` millilitres through the watering nozzle."""

    kind: Literal["water"] = "water"
    tool: ClassVar[Tool | None] = Tool.WATERING_NOZZLE
    ml: float = Field(gt=0, allow_inf_nan=False)

    def dwell(self, bay: ToolBay) -> tuple[float, str]:
        flow_rate_ml_s = bay.slot_for(Tool.WATERING_NOZZLE).flow_rate_ml_s
        if flow_rate_ml_s is None:
            raise PlannerError(
                f"task {self.name!r}: the watering nozzle's slot has no flow_rate_ml_s; "
                "measure the nozzle's flow and give it to the bay"
            )
        return self.ml / flow_rate_ml_s, f"water {self.ml:g} ml"


class WeedTask(_TaskBase):
    """Push the weeder into the soil at each point."""

    kind: Literal["weed"] = "weed"
    tool: ClassVar[Tool | None] = Tool.WEEDER
    dwell_s: float = Field(default=0.0, ge=0, allow_inf_nan=False)

    def dwell(self, bay: ToolBay) -> tuple[float, str]:
        return self.dwell_s, "weed"


class PhotographTask(_TaskBase):
    """Take a photo at each position with the gantry's camera (no tool needed)."""

    kind: Literal["photograph"] = "photograph"
    tool: ClassVar[Tool | None] = None
    z_mm: FiniteFloat = Field(default=0.0, description="FarmBot photographs from the top")
    dwell_s: float = Field(default=1.0, ge=0, allow_inf_nan=False, description="exposure")

    def dwell(self, bay: ToolBay) -> tuple[float, str]:
        return self.dwell_s, "take a photo"


Task = Annotated[SowTask | WaterTask | WeedTask | PhotographTask, Field(discriminator="kind")]
_TASK_LIST: TypeAdapter[list[Task]] = TypeAdapter(list[Task])


def parse_tasks(data: object) -> list[Task]:
    """Tasks from decoded JSON/YAML (a list of objects with a `kind`), or a PlannerError."""
    try:
        return _TASK_LIST.validate_python(data)
    except ValidationError as error:
        raise PlannerError(f"invalid task list: {error}") from None


class KeepOut(BaseModel):
    """A circle the listed tools must not be lowered into (e.g. a crop, for the weeder)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    x_mm: FiniteFloat
    y_mm: FiniteFloat
    radius_mm: float = Field(gt=0, allow_inf_nan=False)
    tools: frozenset[Tool] = Field(min_length=1)
    label: str = ""

    def describe(self) -> str:
        name = f"{self.label!r} " if self.label else ""
        return (
            f"keep-out {name}(centre X {self.x_mm:g}, Y {self.y_mm:g} mm, "
            f"radius {self.radius_mm:g} mm)"
        )


# ----------------------------------------------------------------------------- plans


class StepKind(StrEnum):
    TRAVEL = "travel"  # rising to safe height, or crossing at it toward a stop
    WORK = "work"  # down to a stop and back up to safe height
    TOOL_CHANGE = "tool_change"  # every move of a mount or dismount at the bay
    DWELL = "dwell"  # standing still: a seed drop, a valve open, a photo


@dataclass(frozen=True, slots=True)
class Step:
    """One firmware command. The position is where the tool is when the step ends.

    `task` and `point_index` name the stop the step serves (None for tool changes);
    `tool` is what hangs from the UTM during the step.
    """

    kind: StepKind
    x_mm: float
    y_mm: float
    z_mm: float
    note: str
    task: str | None = None
    point_index: int | None = None
    tool: Tool | None = None
    dwell_s: float = 0.0

    @property
    def position(self) -> Coordinate:
        return Coordinate(self.x_mm, self.y_mm, self.z_mm)


@dataclass(frozen=True)
class JobPlan:
    """The steps in order, from `start_mm`, and what they will cost on the robot.

    `duration_s` prices each move with the firmware's motion model from the previous
    position, adds every dwell and `command_overhead_s` per step; `length_mm` is the tool's
    path, Z legs included; `tool_changes` counts the tools mounted.
    """

    steps: tuple[Step, ...]
    start_mm: Coordinate
    duration_s: float
    length_mm: float
    tool_changes: int
    command_overhead_s: float


def plan_job(
    tasks: Sequence[Task],
    profile: RobotProfile,
    bay: ToolBay,
    *,
    start_mm: Coordinate = HOME,
    mounted: Tool | None = None,
    keep_outs: Sequence[KeepOut] = (),
    end_parked: bool = False,
    command_overhead_s: float = 0.0,
    budget_s: float | None = None,
    seed: int = 0,
    order: str = "planner",
) -> JobPlan:
    """The moves that carry out `tasks` with as few tool changes and as little travel as we find.

    `mounted` is the tool on the UTM at `start_mm`. `end_parked` puts the last tool back in
    its slot. `budget_s` bounds the ordering of each tool group (see `plan_tour`). `order`
    is "planner" (our travel-time tour) or a FarmBot sort (`planner.sorts`), e.g.
    "xy_ascending", FarmBot's default, to price the order FarmBot would run; `seed` also
    fixes its "random" sort.
    """
    if order not in PLAN_ORDERS:
        raise PlannerError(f"unknown stop order {order!r}; choose one of: {', '.join(PLAN_ORDERS)}")
    _check_names(tasks)
    _check_bay(bay, profile)
    groups = _tool_groups(tasks, mounted, profile, bay, keep_outs)
    metric = TravelMetric.for_profile(profile, command_overhead_s=command_overhead_s)
    route = _Route(start_mm, mounted, profile.safe_z_mm)
    for number, (tool, stops) in enumerate(groups, start=1):
        if tool is not None and tool is not route.carried:
            route.change_tool(bay, tool)
        points_mm = [(stop.x_mm, stop.y_mm) for stop in stops]
        if order == "planner":
            last = number == len(groups)
            visits = plan_tour(
                points_mm,
                metric,
                start_mm=(route.here.x_mm, route.here.y_mm),
                end_mm=_parking_mm(bay, route.carried) if end_parked and last else None,
                budget_s=budget_s,
                seed=seed,
            ).order
        else:
            visits = farmbot_order(points_mm, order, seed=seed)
        for index in visits:
            route.visit(stops[int(index)])
    if end_parked and route.carried is not None:
        route.dismount(bay, route.carried)
    steps = tuple(route.steps)
    _check_low_legs(steps, start_mm, keep_outs, profile.safe_z_mm)
    duration_s, length_mm = _price_steps(steps, start_mm, profile, command_overhead_s)
    return JobPlan(steps, start_mm, duration_s, length_mm, route.mounts, command_overhead_s)


def _price_steps(
    steps: Sequence[Step], start_mm: Coordinate, profile: RobotProfile, command_overhead_s: float
) -> tuple[float, float]:
    """(seconds, path millimetres) of running `steps` from `start_mm` on this robot."""
    corners = np.array([start_mm, *(step.position for step in steps)], dtype=np.float64)
    legs_mm = np.diff(corners, axis=0)
    dwell_s = sum(step.dwell_s for step in steps)
    travel_s = float(moves_time_s(profile, legs_mm).sum())
    length_mm = float(np.linalg.norm(legs_mm, axis=1).sum())
    return travel_s + dwell_s + command_overhead_s * len(steps), length_mm


# ------------------------------------------------------------------- building a route


@dataclass(frozen=True)
class _Stop:
    task: str
    point_index: int
    x_mm: float
    y_mm: float
    z_mm: float
    dwell_s: float
    action: str


class _Route:
    """Appends steps while tracking where the tool is and which tool hangs from the UTM."""

    def __init__(self, start_mm: Coordinate, carried: Tool | None, safe_z_mm: float) -> None:
        self.here, self.carried, self.safe_z_mm = start_mm, carried, safe_z_mm
        self.steps: list[Step] = []
        self.mounts = 0

    def move(
        self,
        kind: StepKind,
        target: Coordinate,
        note: str,
        task: str | None = None,
        point_index: int | None = None,
    ) -> None:
        """One move, skipped when already there: the robot is never sent a null command."""
        if target == self.here:
            return
        self.steps.append(Step(kind, *target, note, task, point_index, self.carried))
        self.here = target

    def cross_to(
        self,
        kind: StepKind,
        x_mm: float,
        y_mm: float,
        note: str,
        task: str | None = None,
        point_index: int | None = None,
    ) -> None:
        """Up to safe height, then across: the first two legs of FarmBot's safe-Z move."""
        safe = self.here._replace(z_mm=self.safe_z_mm)
        self.move(kind, safe, note, task, point_index)
        self.move(kind, safe._replace(x_mm=x_mm, y_mm=y_mm), note, task, point_index)

    def visit(self, stop: _Stop) -> None:
        """Hop to the stop, go down to its Z, dwell, come back up to safe height."""
        label = (stop.task, stop.point_index)
        self.cross_to(StepKind.TRAVEL, stop.x_mm, stop.y_mm, "safe-Z hop", *label)
        self.move(StepKind.WORK, self.here._replace(z_mm=stop.z_mm), stop.action, *label)
        if stop.dwell_s > 0:
            self.steps.append(
                Step(StepKind.DWELL, *self.here, stop.action, *label, self.carried, stop.dwell_s)
            )
        self.move(StepKind.WORK, self.here._replace(z_mm=self.safe_z_mm), stop.action, *label)

    def change_tool(self, bay: ToolBay, tool: Tool) -> None:
        if self.carried is not None:
            self.dismount(bay, self.carried)
        self.mount(bay, tool)

    def mount(self, bay: ToolBay, tool: Tool) -> None:
        """Above the slot, down onto the tool, pull it out along +X, up."""
        slot, note = bay.slot_for(tool), f"mount the {tool.label}"
        self.cross_to(StepKind.TOOL_CHANGE, slot.x_mm, slot.y_mm, note)
        self.move(StepKind.TOOL_CHANGE, slot.position, note)
        self.carried = tool
        self.mounts += 1
        self.move(StepKind.TOOL_CHANGE, bay.approach(slot), note)
        self.move(StepKind.TOOL_CHANGE, self.here._replace(z_mm=self.safe_z_mm), note)

    def dismount(self, bay: ToolBay, tool: Tool) -> None:
        """In front of the slot, down, slide in along -X, up: the slot's lip keeps the tool."""
        slot, note = bay.slot_for(tool), f"dismount the {tool.label}"
        approach = bay.approach(slot)
        self.cross_to(StepKind.TOOL_CHANGE, approach.x_mm, approach.y_mm, note)
        self.move(StepKind.TOOL_CHANGE, approach, note)
        self.move(StepKind.TOOL_CHANGE, slot.position, note)
        self.carried = None
        self.move(StepKind.TOOL_CHANGE, slot.position._replace(z_mm=self.safe_z_mm), note)


def _parking_mm(bay: ToolBay, carried: Tool | None) -> tuple[float, float] | None:
    """Where a route that ends parked leaves its last stop for: the carried tool's slot."""
    if carried is None:
        return None
    approach = bay.approach(bay.slot_for(carried))
    return approach.x_mm, approach.y_mm


# ------------------------------------------------------------------------ validation


def _check_names(tasks: Sequence[Task]) -> None:
    seen: set[str] = set()
    for task in tasks:
        if task.name in seen:
            raise PlannerError(f"two tasks are called {task.name!r}; give each its own name")
        seen.add(task.name)


def _check_bay(bay: ToolBay, profile: RobotProfile) -> None:
    """Each slot and its pull-out point must lie inside the soft limits."""
    for slot in bay.slots:
        for where in (slot.position, bay.approach(slot)):
            for axis in Axis:
                low, high = profile.allowed_range_mm(axis)
                if not low <= where.on_axis(axis) <= high:
                    raise PlannerError(
                        f"the {slot.tool.label} slot needs {axis.upper()} = "
                        f"{where.on_axis(axis):g} mm (with its {bay.pull_out_mm:g} mm pull-out), "
                        f"outside the {profile.name} range {low:g} to {high:g} mm"
                    )


def _tool_groups(
    tasks: Sequence[Task],
    mounted: Tool | None,
    profile: RobotProfile,
    bay: ToolBay,
    keep_outs: Sequence[KeepOut],
) -> list[tuple[Tool | None, list[_Stop]]]:
    """Stops grouped by tool: the mounted tool's first, then in the order tasks name them."""
    groups: dict[Tool | None, list[_Stop]] = {}
    if mounted is not None and any(task.tool is mounted and task.points_mm for task in tasks):
        groups[mounted] = []
    for task in tasks:
        if task.points_mm:
            groups.setdefault(task.tool, []).extend(_task_stops(task, profile, bay, keep_outs))
    return list(groups.items())


def _task_stops(
    task: Task, profile: RobotProfile, bay: ToolBay, keep_outs: Sequence[KeepOut]
) -> list[_Stop]:
    points = np.asarray(task.points_mm, dtype=np.float64)
    try:
        check_on_bed(points, profile)
    except PlannerError as error:
        raise PlannerError(f"task {task.name!r}: {error}") from None
    low, high = profile.allowed_range_mm(Axis.Z)
    if not low <= task.z_mm <= high:
        raise PlannerError(
            f"task {task.name!r}: z_mm {task.z_mm:g} is outside the Z range {low:g} to "
            f"{high:g} mm (the depth of all its points)"
        )
    _check_stops_clear(task, points, keep_outs)
    dwell_s, action = task.dwell(bay)
    return [
        _Stop(task.name, index, float(x_mm), float(y_mm), task.z_mm, dwell_s, action)
        for index, (x_mm, y_mm) in enumerate(points)
    ]


def _check_stops_clear(
    task: Task, points_mm: NDArray[np.float64], keep_outs: Sequence[KeepOut]
) -> None:
    """Refuse the first stop whose tool would be lowered inside a keep-out meant for it."""
    if task.tool is None:
        return
    for zone in (zone for zone in keep_outs if task.tool in zone.tools):
        distance_mm = np.hypot(points_mm[:, 0] - zone.x_mm, points_mm[:, 1] - zone.y_mm)
        inside = np.flatnonzero(distance_mm < zone.radius_mm)
        if inside.size:
            x_mm, y_mm = points_mm[inside[0]]
            raise PlannerError(
                f"task {task.name!r} point {inside[0]} at X {x_mm:g}, Y {y_mm:g} mm is inside "
                f"{zone.describe()} for the {task.tool.label}; move the point or drop it"
            )


def _check_low_legs(
    steps: Sequence[Step], start_mm: Coordinate, keep_outs: Sequence[KeepOut], safe_z_mm: float
) -> None:
    """X/Y legs flown below safe height (the bay's pull-outs) must stay out of keep-outs."""
    here = start_mm
    for step in steps:
        low = min(here.z_mm, step.z_mm) < safe_z_mm
        moves_across = (here.x_mm, here.y_mm) != (step.x_mm, step.y_mm)
        if low and moves_across and step.tool is not None:
            for zone in keep_outs:
                if step.tool in zone.tools and _segment_enters(here, step.position, zone):
                    raise PlannerError(
                        f"{step.note}: the leg from X {here.x_mm:g} to X {step.x_mm:g}, "
                        f"Y {step.y_mm:g} mm at Z {step.z_mm:g} is below safe height and "
                        f"crosses {zone.describe()}; move the zone or the slot"
                    )
        here = step.position


def _segment_enters(a: Coordinate, b: Coordinate, zone: KeepOut) -> bool:
    """Whether the X/Y segment a-b comes closer to the zone's centre than its radius."""
    ax, ay = a.x_mm - zone.x_mm, a.y_mm - zone.y_mm
    dx, dy = b.x_mm - a.x_mm, b.y_mm - a.y_mm
    along = min(max(-(ax * dx + ay * dy) / (dx * dx + dy * dy), 0.0), 1.0)
    return float(np.hypot(ax + along * dx, ay + along * dy)) < zone.radius_mm
