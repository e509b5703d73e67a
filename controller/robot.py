"""The sequence steps as methods, for students who write Python instead of YAML.

`Robot` turns gardening words (water 200 ml, sow from the tray, weed that point, mount the
weeder) into gantry moves and pin commands at once, and keeps what a run produces: sensor
readings, photos, detections, messages and plant stage marks. The sequence interpreter drives
the same methods, so a YAML step and a Python call always do exactly the same thing.

    robot = Robot(gantry, farm)
    robot.mount_tool("watering_nozzle")
    robot.water(ml=150, to="lettuce 1")
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from controller.gantry import Gantry
from controller.jobs import Action, ActionListener
from controller.link import LoopbackLink
from controller.protocol import ControllerError, PinMode
from controller.sequence_models import Detector
from potager.farm import Farm, Plant, PlantStage, Point, ToolSlot
from potager.robots import AXES, Axis, Coordinate

log = logging.getLogger(__name__)

PULL_OUT_MM = 100.0
"""Tool slots open toward +X: a tool slides out (and in) along X over this distance."""


class RobotError(ControllerError):
    """A step the robot cannot do with this farm map or tool."""


@dataclass(frozen=True)
class StageMark:
    """A plant observed at a growth stage: what a `mark` step hands to a journal.

    `plant` is the farm map's name of the plant (even when the step named it `#<farmbot
    id>`), `farmbot_id` its FarmBot id if it has one. `at` is the wall time (UTC) of the
    mark, `clock_s` the robot clock's seconds at that moment, which places it among the
    run's moves (and is what a dry run on a virtual clock can compare).
    """

    plant: str
    stage: PlantStage
    at: datetime
    clock_s: float
    farmbot_id: int | None = None


@dataclass
class RunRecord:
    """What a run produced besides motion; `marks` in the order the steps made them."""

    readings: dict[str, int] = field(default_factory=dict)
    photos: list[Coordinate] = field(default_factory=list)
    detections: dict[str, Any] = field(default_factory=dict)
    messages: list[tuple[str, str]] = field(default_factory=list)
    marks: list[StageMark] = field(default_factory=list)
    watered_ml: float = 0.0

    @property
    def stages(self) -> dict[str, str]:
        """Each marked plant's latest stage."""
        return {mark.plant: mark.stage for mark in self.marks}


class Robot:
    """A gantry plus its farm map and tool: each method acts immediately."""

    def __init__(
        self,
        gantry: Gantry,
        farm: Farm | None = None,
        *,
        tool: str | None = None,
        detectors: Mapping[str, Detector] | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_action: ActionListener | None = None,
    ) -> None:
        """`on_action` hears each gardening act once done (water with its millilitres, a
        seed sown, a weeder strike, a photo, a tool change, a mark), for a journal."""
        self.gantry = gantry
        self.farm = farm or Farm()
        self.tool = tool
        self.detectors = dict(detectors or {})
        self.wall_clock = wall_clock
        self.record = RunRecord()
        self._on_action = on_action
        self._acts = 0

    @property
    def position(self) -> Coordinate:
        return self.gantry.position

    # -- motion ----------------------------------------------------------------------

    def move(
        self,
        x: float | None = None,
        y: float | None = None,
        z: float | None = None,
        *,
        to: str | None = None,
        relative: bool = False,
        safe_z: bool = False,
        speed_percent: float = 100.0,
    ) -> Coordinate:
        """Absolute X/Y/Z (omitted axes stay), steps if `relative`, or to a named place."""
        if to is not None:
            target = self.where(to)
            z_mm = target.z_mm if z is None else z
            return self.gantry.move_to(
                target.x_mm, target.y_mm, z_mm, speed_percent=speed_percent, safe_z=safe_z
            )
        if relative:
            return self.gantry.move_by(x or 0.0, y or 0.0, z or 0.0, speed_percent=speed_percent)
        return self.gantry.move_to(x, y, z, speed_percent=speed_percent, safe_z=safe_z)

    def find_home(self, axis: str = "all") -> Coordinate:
        for each in _axes(axis):
            self.gantry.find_home(each)
        return self.position

    def set_home(self, axis: str = "all") -> Coordinate:
        return self.gantry.set_home(_axes(axis))

    def calibrate(self, axis: str = "all") -> dict[str, float]:
        """Measure axis lengths (mm); they become the soft limits."""
        return {each.value: self.gantry.calibrate(each) for each in _axes(axis)}

    # -- pins ------------------------------------------------------------------------

    def write_pin(self, pin: int, value: int, mode: str = "digital") -> None:
        self.gantry.write_pin(pin, value, _mode(mode))

    def read_pin(self, pin: int, label: str, mode: str = "digital") -> int:
        """Read a pin and keep the value as the sensor reading `label`."""
        value = self.gantry.read_pin(pin, _mode(mode))
        self.record.readings[label] = value
        return value

    def wait(self, seconds: float) -> None:
        link = self.gantry.link
        if isinstance(link, LoopbackLink):
            link.run_until(link.virtual_clock.now_s() + seconds)
        else:
            link.clock.sleep(seconds)

    # -- gardening -------------------------------------------------------------------

    def water(self, ml: float, to: str | None = None) -> float:
        """Open the valve for `ml` / the nozzle's flow rate; returns the seconds it was open."""
        slot = self._need_tool("watering_nozzle")
        if slot.flow_rate_ml_s is None:
            raise RobotError("the watering nozzle's slot has no flow_rate_ml_s in the farm map")
        if to is not None:
            self.move(to=to, safe_z=True)
        duration_s = ml / slot.flow_rate_ml_s
        self.gantry.hold_pin(self.gantry.profile.water_valve_pin, duration_s)
        self.record.watered_ml += ml
        self._report("water", to, volume_ml=ml)
        return duration_s

    def sow(self, tray: str, to: str, depth: float = 5.0) -> None:
        """Vacuum a seed off the tray, carry it over at safe height, push it in, release."""
        self._need_tool("seeder")
        vacuum = self.gantry.profile.vacuum_pin
        self.move(to=tray, safe_z=True)
        self.gantry.write_pin(vacuum, 1)
        spot = self.where(to)
        self.gantry.move_to(spot.x_mm, spot.y_mm, spot.z_mm - depth, safe_z=True)
        self.gantry.write_pin(vacuum, 0)
        self._report("sow", to)
        self.gantry.move_to(z_mm=self.gantry.profile.safe_z_mm)

    def weed(self, to: str, depth: float = 20.0) -> None:
        """Strike `depth` mm below the point with the weeder, then rise to safe height."""
        self._need_tool("weeder")
        spot = self.where(to)
        self.gantry.move_to(spot.x_mm, spot.y_mm, spot.z_mm - depth, safe_z=True)
        self._report("weed", to)
        self.gantry.move_to(z_mm=self.gantry.profile.safe_z_mm)

    def take_photo(self, to: str | None = None) -> Coordinate:
        """Record a photo position (the camera rides on the gantry; vision comes later)."""
        if to is not None:
            self.move(to=to, safe_z=True)
        self.record.photos.append(self.position)
        self._report("photograph", to)
        return self.position

    def detect(self, function: str, **arguments: Any) -> Any:
        """Call the caller's detection function with checked arguments; keep its result."""
        detector = self.detectors.get(function)
        if detector is None:
            raise RobotError(f"no detector called {function!r}; known: {sorted(self.detectors)}")
        result = detector.run(self, detector.arguments.model_validate(arguments))
        self.record.detections[function] = result
        return result

    # -- tools -----------------------------------------------------------------------

    def mount_tool(self, tool: str) -> None:
        """Above the slot, down onto the tool, pull it out along +X, back up."""
        if self.tool is not None:
            raise RobotError(f"the {self.tool} is mounted: dismount it before mounting the {tool}")
        slot = self._slot(tool)
        safe_z = self.gantry.profile.safe_z_mm
        self.gantry.move_to(slot.x_mm, slot.y_mm, slot.z_mm, safe_z=True)
        self.gantry.move_to(x_mm=slot.x_mm + PULL_OUT_MM)
        self.gantry.move_to(z_mm=safe_z)
        self.tool = tool
        self._report("tool_change", detail=f"mounted the {tool}")

    def dismount_tool(self, tool: str | None = None) -> None:
        """In front of the slot, down, slide in along -X, up: the slot's lip keeps the tool."""
        if self.tool is None or (tool is not None and tool != self.tool):
            raise RobotError(f"cannot dismount the {tool or 'tool'}: mounted is {self.tool}")
        slot = self._slot(self.tool)
        self.gantry.move_to(slot.x_mm + PULL_OUT_MM, slot.y_mm, slot.z_mm, safe_z=True)
        self.gantry.move_to(x_mm=slot.x_mm)
        self.gantry.move_to(z_mm=self.gantry.profile.safe_z_mm)
        self.tool = None
        self._report("tool_change", detail=f"dismounted the {slot.tool.value}")

    # -- records ---------------------------------------------------------------------

    def message(self, text: str, level: str = "info") -> None:
        self.record.messages.append((level, text))
        log.info("sequence %s: %s", level, text)

    def mark(self, target: str, stage: PlantStage) -> StageMark:
        """Record that the plant `target` (a name or `#<farmbot id>`) is at `stage` now.

        The mark lands in `record.marks` as a `StageMark` (plant name, stage, time) for the
        caller to journal; the farm map itself is not changed.
        """
        plant = self.farm.place(target)
        if not isinstance(plant, Plant):
            known = [p.name for p in self.farm.plants]
            raise RobotError(f"no plant is called {target!r} in the farm map; known: {known}")
        mark = StageMark(
            plant.name, stage, self.wall_clock(), self.gantry.link.clock.now_s(), plant.farmbot_id
        )
        self.record.marks.append(mark)
        self._report("mark", plant.name, detail=stage)
        return mark

    def report(self, action: Action) -> None:
        """Hand an action done for this run to the listener, numbered after the run's own
        (a detector's photo grid reports its moves and photos through here)."""
        if self._on_action is None:
            return
        self._acts += 1
        self._on_action(replace(action, step=self._acts))

    def _report(
        self, kind: str, task: str | None = None, volume_ml: float = 0.0, detail: str = ""
    ) -> None:
        here = self.position
        self.report(
            Action(
                0, kind, task, None, here.x_mm, here.y_mm, here.z_mm, volume_ml, self.tool, detail
            )
        )

    def where(self, name: str) -> Point | ToolSlot:
        """The farm map's place or tool slot called `name`."""
        found = self.farm.place(name) or self.farm.slot(name)
        if found is None:
            raise RobotError(f"{name!r} is not in the farm map; known: {self.farm.place_names()}")
        return found

    def _slot(self, tool: str) -> ToolSlot:
        slot = self.farm.slot(tool)
        if slot is None:
            raise RobotError(f"the farm map has no slot for the {tool}")
        return slot

    def _need_tool(self, tool: str) -> ToolSlot:
        if self.tool != tool:
            raise RobotError(f"this needs the {tool}, but mounted is: {self.tool or 'nothing'}")
        return self._slot(tool)


def _axes(axis: str) -> tuple[Axis, ...]:
    return AXES if axis == "all" else (Axis(axis),)


def _mode(mode: str) -> PinMode:
    return PinMode.ANALOG if mode == "analog" else PinMode.DIGITAL
