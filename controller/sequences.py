"""Running a checked sequence: on a robot, or dry on the simulator with a full record.

`load_sequence` reads our YAML/JSON or a FarmBot CeleryScript export and validates it;
`run_sequence` walks the steps on a `Robot`; `dry_run` does that on an in-process simulated
firmware and a virtual clock, capturing every line sent, the predicted and simulated
durations and the path, so a student sees what will happen before a robot moves.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

from controller.celeryscript import import_celeryscript, is_celeryscript
from controller.gantry import Gantry
from controller.link import DEFAULT_TIMEOUT_S, CommandResult, FirmwareEndpoint, LoopbackLink
from controller.protocol import Command, Move, PulsePin
from controller.robot import Robot, RobotError, RunRecord
from controller.sequence_check import CheckedSequence, check_document
from controller.sequence_load import Loaded, load_file, load_text
from controller.sequence_models import (
    CalibrateStep,
    CallStep,
    Condition,
    Detector,
    DetectStep,
    DismountToolStep,
    FindHomeStep,
    ForEachStep,
    IfStep,
    MarkStep,
    MessageStep,
    MountToolStep,
    MoveStep,
    Number,
    ReadPinStep,
    SetHomeStep,
    SowStep,
    Step,
    SubSequence,
    TakePhotoStep,
    WaitStep,
    WaterStep,
    WeedStep,
    WritePinStep,
)
from planner.motion import TravelMetric, move_time_s
from planner.sorts import farmbot_order
from planner.tour import plan_tour
from potager.clock import VirtualClock
from potager.farm import Farm
from potager.robots import Axis, Coordinate, RobotProfile

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def load_sequence(
    source: str | Path | Loaded,
    profile: RobotProfile,
    farm: Farm | None = None,
    detectors: Mapping[str, Detector] | None = None,
) -> CheckedSequence:
    """Read (a path, or an already loaded text) and validate, before anything moves."""
    loaded = source if isinstance(source, Loaded) else load_file(source)
    if is_celeryscript(loaded.data):
        loaded = import_celeryscript(loaded)
    return check_document(loaded, profile, farm, detectors)


def check_text(
    text: str,
    profile: RobotProfile,
    farm: Farm | None = None,
    detectors: Mapping[str, Detector] | None = None,
) -> CheckedSequence:
    return load_sequence(load_text(text), profile, farm, detectors)


# ------------------------------------------------------------------- interpreter


def run_sequence(
    checked: CheckedSequence, robot: Robot, arguments: Mapping[str, Any] | None = None
) -> RunRecord:
    """Run the main steps on `robot`, parameters from their defaults and `arguments`."""
    document = checked.document
    env = _bind(document, dict(arguments or {}))
    _Interpreter(checked, robot).steps(document.steps, env)
    return robot.record


def _bind(sequence: SubSequence, given: dict[str, Any]) -> dict[str, Any]:
    env = {name: p.default for name, p in sequence.parameters.items()}
    env.update(given)
    return env


class _Interpreter:
    def __init__(self, checked: CheckedSequence, robot: Robot) -> None:
        self.document, self.robot = checked.document, robot

    def steps(self, steps: list[Step], env: dict[str, Any]) -> None:
        for step in steps:
            self.step(step, env)

    def step(self, step: Step, env: dict[str, Any]) -> None:
        robot = self.robot
        match step:
            case MoveStep():
                robot.move(
                    *(_opt(v, env) for v in (step.x, step.y, step.z)),
                    to=_place(step.to, env),
                    relative=step.relative,
                    safe_z=step.safe_z,
                    speed_percent=_num(step.speed_percent, env),
                )
            case FindHomeStep():
                robot.find_home(step.axis)
            case SetHomeStep():
                robot.set_home(step.axis)
            case CalibrateStep():
                robot.calibrate(step.axis)
            case WritePinStep():
                robot.write_pin(step.pin, step.value, step.mode)
            case ReadPinStep():
                robot.read_pin(step.pin, step.label, step.mode)
            case WaitStep():
                robot.wait(_num(step.seconds, env))
            case WaterStep():
                robot.water(_num(step.ml, env), to=_place(step.to, env))
            case SowStep():
                robot.sow(_str(step.tray, env), _str(step.to, env), _num(step.depth, env))
            case WeedStep():
                robot.weed(_str(step.to, env), _num(step.depth, env))
            case TakePhotoStep():
                robot.take_photo(_place(step.to, env))
            case DetectStep():
                robot.detect(step.function, **step.arguments)
            case MountToolStep():
                robot.mount_tool(step.tool)
            case DismountToolStep():
                robot.dismount_tool(step.tool)
            case IfStep():
                branch = step.then if self.holds(step.condition, env) else step.else_
                self.steps(branch, env)
            case ForEachStep():
                for member in self.members(step):
                    self.steps(step.steps, {**env, step.as_: member})
            case CallStep():
                sub = self.document.sequences[step.sequence]
                given = {key: _resolve(value, env) for key, value in step.with_.items()}
                self.steps(sub.steps, _bind(sub, given))
            case MessageStep():
                robot.message(step.text, step.level)
            case MarkStep():
                robot.mark(_str(step.target, env), step.stage)

    def holds(self, condition: Condition, env: dict[str, Any]) -> bool:
        if condition.reading is not None:
            if condition.reading not in self.robot.record.readings:
                raise RobotError(f"no reading {condition.reading!r} was taken before this `if`")
            left = float(self.robot.record.readings[condition.reading])
        elif condition.pin is not None:
            left = float(self.robot.gantry.read_pin(condition.pin))
        else:
            left = self.robot.position.on_axis(Axis(condition.position or "x"))
        return _COMPARE[condition.op](left, _num(condition.value, env))

    def members(self, step: ForEachStep) -> list[str]:
        """The group's members in the planner's order or a named FarmBot sort."""
        farm = self.robot.farm
        group = farm.group(step.group)
        if group is None:
            raise RobotError(f"no group {step.group!r} in the farm map")
        names = group.members
        points = np.array([[p.x_mm, p.y_mm] for p in map(self.robot.where, names)]).reshape(-1, 2)
        if step.order == "planner":
            here = self.robot.position
            metric = TravelMetric.for_profile(self.robot.gantry.profile)
            order = plan_tour(points, metric, start_mm=(here.x_mm, here.y_mm)).order
        else:
            order = farmbot_order(points, step.order)
        return [names[int(index)] for index in order]


def _resolve(value: Any, env: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        return env[value[1:]]
    return value


def _num(value: Number, env: Mapping[str, Any]) -> float:
    return float(_resolve(value, env))


def _opt(value: Number | None, env: Mapping[str, Any]) -> float | None:
    return None if value is None else _num(value, env)


def _str(value: str, env: Mapping[str, Any]) -> str:
    return str(_resolve(value, env))


def _place(value: str | None, env: Mapping[str, Any]) -> str | None:
    return None if value is None else _str(value, env)


# ---------------------------------------------------------------------- dry run


class RecordingLink(LoopbackLink):
    """A loopback link that keeps every line sent once recording starts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recording = False
        self.sent: list[Command] = []
        self.lines: list[str] = []

    def execute(self, command: Command, timeout_s: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        result = super().execute(command, timeout_s)
        if self.recording:
            self.sent.append(command)
            self.lines.append(result.line)
        return result


@dataclass
class DryRun:
    """What a sequence would do: the exact lines, how long, how far, and its by-products."""

    lines: list[str]
    duration_s: float
    model_duration_s: float
    path_mm: list[Coordinate]
    record: RunRecord
    profile: str
    farm: Farm = field(default_factory=Farm)

    @property
    def command_count(self) -> int:
        return len(self.lines)

    @property
    def path_length_mm(self) -> float:
        points = np.asarray(self.path_mm, dtype=np.float64).reshape(-1, 3)
        return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())

    def summary(self) -> dict[str, Any]:
        return {
            "ok": True,
            "profile": self.profile,
            "duration_s": self.duration_s,
            "model_duration_s": self.model_duration_s,
            "path_length_mm": self.path_length_mm,
            "command_count": self.command_count,
            "commands": self.lines,
            "readings": self.record.readings,
            "messages": [f"{level}: {text}" for level, text in self.record.messages],
            "stages": self.record.stages,
            "marks": [asdict(mark) for mark in self.record.marks],
            "watered_ml": self.record.watered_ml,
            "photos_mm": [list(position) for position in self.record.photos],
            "detections": self.record.detections,
        }


def dry_run(
    checked: CheckedSequence,
    profile: RobotProfile,
    firmware: FirmwareEndpoint,
    *,
    arguments: Mapping[str, Any] | None = None,
    detectors: Mapping[str, Detector] | None = None,
) -> DryRun:
    """Run on an in-process firmware (the caller's simulator, booted at clock time 0).

    Returns the exact command stream, the simulated and modelled durations, the path.
    """
    clock = VirtualClock()
    link = RecordingLink(firmware, clock)
    gantry = Gantry(link, profile).connect()
    robot = Robot(gantry, checked.farm, tool=checked.document.starts_with_tool, detectors=detectors)
    link.recording = True
    started_s = clock.now_s()
    run_sequence(checked, robot, arguments)
    path, model_s = _model_path(link.sent, profile)
    return DryRun(
        link.lines,
        clock.now_s() - started_s,
        model_s,
        path,
        robot.record,
        profile.name,
        checked.farm,
    )


def _model_path(sent: list[Command], profile: RobotProfile) -> tuple[list[Coordinate], float]:
    """The positions the moves pass through and the motion model's seconds for the run.

    Moves are priced by `planner.motion`, pulses by their length. Waits are not commands
    and homing or calibration runs last as long as the axis is, so the model leaves them out.
    """
    here = Coordinate(0.0, 0.0, 0.0)
    path, total_s = [here], 0.0
    for command in sent:
        if isinstance(command, Move):
            target = Coordinate(command.x_mm, command.y_mm, command.z_mm)
            speed = 100.0
            if command.speed_x_steps_s is not None:
                speed = 100.0 * command.speed_x_steps_s / profile.x.max_speed_steps_s
            total_s += move_time_s(profile, here, target, speed)
            here = target
            path.append(here)
        elif isinstance(command, PulsePin):
            total_s += command.duration_ms / 1000.0
    return path, total_s


def plot_dry_run(run: DryRun, profile: RobotProfile, png_path: str | Path) -> None:
    """A picture of the path over the bed, with the farm map's places, as a PNG file."""
    dry_run_figure(run, profile).savefig(png_path, dpi=100)


def dry_run_figure(run: DryRun, profile: RobotProfile) -> Figure:
    """The path over the bed with the farm map's places (no pyplot: safe in a server)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    figure = Figure(figsize=(8, 8 * profile.length_y_mm / profile.length_x_mm + 1))
    axes = figure.subplots()
    axes.add_patch(
        Rectangle((0, 0), profile.length_x_mm, profile.length_y_mm, fill=False, color="0.4")
    )
    xy = np.asarray(run.path_mm).reshape(-1, 3)
    axes.plot(xy[:, 0], xy[:, 1], "-o", color="tab:blue", markersize=3, label="tool path")
    for place in [*run.farm.points, *run.farm.plants]:
        axes.plot(place.x_mm, place.y_mm, "^", color="tab:green")
        axes.annotate(place.name, (place.x_mm, place.y_mm), fontsize=7)
    for slot in run.farm.tool_slots:
        axes.plot(slot.x_mm, slot.y_mm, "s", color="tab:orange")
        axes.annotate(slot.tool, (slot.x_mm, slot.y_mm), fontsize=7)
    axes.set(
        xlabel="X (mm)",
        ylabel="Y (mm)",
        aspect="equal",
        title=f"{run.command_count} commands, {run.path_length_mm:.0f} mm, {run.duration_s:.1f} s",
    )
    axes.legend(loc="upper right")
    return figure
