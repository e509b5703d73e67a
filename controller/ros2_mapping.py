"""The ROS 2 bridge without ROS: message shapes, names, and their mapping onto a `Gantry`.

ROS speaks metres (REP 103); Potager speaks bed millimetres. This module converts between
the two and turns each request of the bridge into `Gantry` calls, returning the response in
the shape of its ROS message. The dataclasses mirror the standard messages field for field,
so the rclpy glue (`controller.ros2_node`) copies them into real messages by name and holds
no logic of its own; everything here runs and is tested without rclpy.

    bridge = GantryBridge(gantry)
    result = bridge.move_to(MoveToGoal(x=0.5, y=0.3, z=-0.1))
    result.success, result.final_position    # True, Point(x=0.5, y=0.3, z=-0.1)

A request never raises into ROS: a `PotagerError` (soft limit, firmware failure, e-stop,
lost cable) becomes `success=False` with the error's message.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import astuple, dataclass, field
from enum import StrEnum

from controller.gantry import Gantry, OutOfBoundsError
from controller.protocol import ControllerError, Position, Reply
from potager.errors import PotagerError
from potager.robots import AXES, Axis, Coordinate

log = logging.getLogger(__name__)

MM_PER_M = 1000.0
HOMING_ORDER = (Axis.Z, Axis.Y, Axis.X)
"""Z first, so the tool is up before the gantry crosses the bed."""


class Ros2BridgeError(ControllerError):
    """A request the ROS 2 bridge refused before anything reached the robot."""


class GoalError(Ros2BridgeError):
    """A move goal that is not a position the robot can reach."""


class BusyError(Ros2BridgeError):
    """The gantry is already running a request of the bridge."""


# -- units ----------------------------------------------------------------------------


def metres_to_mm(value_m: float) -> float:
    # Rounded to a nanometre so that 2.9 m is exactly the 2900 mm soft limit, not 2900.0000001.
    return round(value_m * MM_PER_M, 6)


def mm_to_metres(value_mm: float) -> float:
    return value_mm / MM_PER_M


# -- message shapes (field names are the ROS ones) ------------------------------------


@dataclass(frozen=True)
class Point:
    """geometry_msgs/msg/Point, in metres."""

    x: float
    y: float
    z: float


@dataclass(frozen=True)
class JointState:
    """sensor_msgs/msg/JointState without its header (the glue stamps it): metres."""

    name: tuple[str, ...]
    position: tuple[float, ...]
    velocity: tuple[float, ...] = ()
    effort: tuple[float, ...] = ()


@dataclass(frozen=True)
class Bool:
    """std_msgs/msg/Bool."""

    data: bool


@dataclass(frozen=True)
class TriggerResponse:
    """The response of std_srvs/srv/Trigger, and of std_srvs/srv/SetBool (same fields)."""

    success: bool
    message: str


@dataclass(frozen=True)
class MoveToGoal:
    """The goal of potager_interfaces/action/MoveTo: an absolute target in bed metres."""

    x: float
    y: float
    z: float
    speed_percent: float = 100.0


@dataclass(frozen=True)
class MoveToFeedback:
    """Where the gantry is during a move, and how much of the straight-line distance is left."""

    position: Point
    fraction_done: float
    distance_remaining: float


@dataclass(frozen=True)
class MoveToResult:
    success: bool
    message: str
    final_position: Point


MOVE_TO_ACTION_TYPE = "potager_interfaces/action/MoveTo"
MOVE_TO_ACTION_DEFINITION = """\
# Goal: an absolute target in bed metres; Z is 0 at the top and negative downward.
float64 x
float64 y
float64 z
float64 speed_percent 100.0  # of each axis's maximum speed, 1-100
---
bool success
string message  # why the move failed, or where it ended
geometry_msgs/Point final_position  # metres
---
geometry_msgs/Point position  # metres
float64 fraction_done  # 0-1, of the straight-line distance
float64 distance_remaining  # metres, straight line to the target
"""
"""The text of `MoveTo.action` for the interface package that docs/ros2.md builds."""


def point_from_coordinate(coordinate: Coordinate) -> Point:
    return Point(*(mm_to_metres(value) for value in coordinate))


def coordinate_from_point(point: Point) -> Coordinate:
    return Coordinate(metres_to_mm(point.x), metres_to_mm(point.y), metres_to_mm(point.z))


def joint_state(position: Coordinate, prefix: str = "") -> JointState:
    """The three prismatic axes as joints `<prefix>x`, `<prefix>y`, `<prefix>z`, in metres."""
    return JointState(
        name=tuple(f"{prefix}{axis.value}" for axis in AXES),
        position=tuple(mm_to_metres(value) for value in position),
    )


def move_feedback(start: Coordinate, target: Coordinate, now: Coordinate) -> MoveToFeedback:
    """Progress along the straight line from `start` to `target`.

    The axes are not interpolated, so the gantry leaves that line; the fraction is a progress
    bar, clamped to 0-1, not a geometric claim.
    """
    total_mm = math.dist(start, target)
    remaining_mm = math.dist(now, target)
    done = 1.0 if total_mm == 0 else min(max(1.0 - remaining_mm / total_mm, 0.0), 1.0)
    return MoveToFeedback(point_from_coordinate(now), done, mm_to_metres(remaining_mm))


def in_metres(error: OutOfBoundsError) -> str:
    """The soft-limit message followed by the same figures in metres, as the goal gave them."""
    low, high = (mm_to_metres(value) for value in error.allowed_mm)
    value = mm_to_metres(error.value_mm)
    return f"{error} (in metres: {error.axis.value} = {value:g} m, allowed {low:g} to {high:g} m)"


def goal_target_mm(goal: MoveToGoal, lengths_mm: Mapping[Axis, float]) -> Coordinate:
    """The goal in bed millimetres, or `GoalError`/`OutOfBoundsError` saying what is wrong.

    `lengths_mm` are the gantry's axis lengths (calibrated ones included), the same soft
    limits `Gantry.move_to` enforces, so a refused goal names the same range.
    """
    values_m = (goal.x, goal.y, goal.z)
    for axis, value_m in zip(AXES, values_m, strict=True):
        if not math.isfinite(value_m):
            raise GoalError(
                f"goal {axis.value} = {value_m} is not a finite number: give the target in "
                "metres within the bed"
            )
    speed = goal.speed_percent
    if not (math.isfinite(speed) and 1 <= speed <= 100):
        raise GoalError(f"goal speed_percent = {speed} must be between 1 and 100 (%)")
    target = Coordinate(*(metres_to_mm(value_m) for value_m in values_m))
    for axis in AXES:
        length = lengths_mm[axis]
        # Z homes up: its working range lies below 0, as in RobotProfile.allowed_range_mm.
        low, high = (-length, 0.0) if axis is Axis.Z else (0.0, length)
        value = target.on_axis(axis)
        if not low <= value <= high:
            raise OutOfBoundsError(axis, value, (low, high))
    return target


# -- names ----------------------------------------------------------------------------


class Kind(StrEnum):
    PUBLISHER = "publisher"
    SERVICE = "service"
    ACTION = "action"


@dataclass(frozen=True)
class Interface:
    """One topic, service or action of the bridge; `type` is the ROS 2 interface name."""

    name: str
    kind: Kind
    type: str
    summary: str
    latched: bool = field(default=False, kw_only=True)


PERIPHERALS = ("water_valve", "vacuum", "lighting")
"""Output pins a service switches; each is the `<name>_pin` of the robot profile."""

INTERFACES: tuple[Interface, ...] = (
    Interface(
        "~/joint_states",
        Kind.PUBLISHER,
        "sensor_msgs/msg/JointState",
        "axis positions x, y, z in metres (Z negative downward), at --rate Hz",
    ),
    Interface(
        "~/estopped",
        Kind.PUBLISHER,
        "std_msgs/msg/Bool",
        "true while the robot is e-stopped; sent on every change",
        latched=True,
    ),
    Interface(
        "~/estop",
        Kind.SERVICE,
        "std_srvs/srv/Trigger",
        "emergency stop now, even during a move; the firmware releases motors and pins",
    ),
    Interface(
        "~/unlock",
        Kind.SERVICE,
        "std_srvs/srv/Trigger",
        "release the emergency stop (F09) once it is safe",
    ),
    Interface(
        "~/find_home",
        Kind.SERVICE,
        "std_srvs/srv/Trigger",
        "search the home end-stops, Z then Y then X; position becomes 0, 0, 0",
    ),
    Interface(
        "~/go_home",
        Kind.SERVICE,
        "std_srvs/srv/Trigger",
        "move to 0, 0, 0, Z first",
    ),
    *(
        Interface(
            f"~/set_{peripheral}",
            Kind.SERVICE,
            "std_srvs/srv/SetBool",
            f"switch the profile's {peripheral.replace('_', ' ')} pin on (true) or off",
        )
        for peripheral in PERIPHERALS
    ),
    Interface(
        "~/move_to",
        Kind.ACTION,
        MOVE_TO_ACTION_TYPE,
        "move to x, y, z metres at speed_percent; feedback: position, fraction done",
    ),
)


# -- the bridge -----------------------------------------------------------------------


FeedbackCallback = Callable[[MoveToFeedback], None]


@dataclass(frozen=True)
class _ActiveMove:
    start: Coordinate
    target: Coordinate
    on_feedback: FeedbackCallback


class GantryBridge:
    """Every request of the ROS 2 bridge, as `Gantry` calls returning ROS-shaped answers.

    One request runs at a time; another one arriving meanwhile is refused as busy rather
    than queued behind a long move. `estop` is the exception: it always goes through.
    """

    def __init__(self, gantry: Gantry, joint_prefix: str = "") -> None:
        self.gantry = gantry
        self.joint_prefix = joint_prefix
        self._running = threading.Lock()
        self._request = ""
        self._active: _ActiveMove | None = None
        self._estop_lock = threading.Lock()
        self._last_estopped: bool | None = None
        gantry.link.add_listener(self._on_reply)

    # -- topics -------------------------------------------------------------------------

    def joint_state(self) -> JointState:
        return joint_state(self.gantry.position, self.joint_prefix)

    def estopped(self) -> Bool:
        return Bool(self.gantry.estopped)

    def estopped_change(self) -> Bool | None:
        """The e-stop state if it changed since this last returned one, else None."""
        with self._estop_lock:
            now = self.gantry.estopped
            if now == self._last_estopped:
                return None
            self._last_estopped = now
            return Bool(now)

    # -- services -----------------------------------------------------------------------

    def estop(self) -> TriggerResponse:
        try:
            self.gantry.emergency_stop()
        except PotagerError as error:
            return TriggerResponse(False, f"e-stop could not be sent: {error}")
        return TriggerResponse(
            True, "e-stopped: motors, pins and servos released; call unlock once it is safe"
        )

    def unlock(self) -> TriggerResponse:
        return self._trigger("unlock", self._unlock)

    def find_home(self) -> TriggerResponse:
        return self._trigger("find_home", self._find_home)

    def go_home(self) -> TriggerResponse:
        return self._trigger("go_home", self._go_home)

    def set_peripheral(self, peripheral: str, on: bool) -> TriggerResponse:
        if peripheral not in PERIPHERALS:
            known = ", ".join(PERIPHERALS)
            return TriggerResponse(False, f"unknown peripheral {peripheral!r}; known: {known}")
        pin = int(getattr(self.gantry.profile, f"{peripheral}_pin"))

        def switch() -> str:
            self.gantry.write_pin(pin, int(on))
            return f"{peripheral} (pin {pin}) {'on' if on else 'off'}"

        return self._trigger(f"set_{peripheral}", switch)

    # -- action -------------------------------------------------------------------------

    def move_to(
        self, goal: MoveToGoal, on_feedback: FeedbackCallback | None = None
    ) -> MoveToResult:
        """Run a move goal to its end; `on_feedback` hears each position report meanwhile.

        `on_feedback` runs on the link's reader thread, as position reports arrive.
        """
        try:
            target = goal_target_mm(goal, self.gantry.lengths_mm)
        except GoalError as error:
            return self._move_result(False, f"goal refused, the robot did not move: {error}")
        except OutOfBoundsError as error:
            refused = f"goal refused, the robot did not move: {in_metres(error)}"
            return self._move_result(False, refused)
        try:
            with self._exclusive("move_to"):
                if on_feedback is not None:
                    self._active = _ActiveMove(self.gantry.position, target, on_feedback)
                try:
                    reached = self.gantry.move_to(*target, speed_percent=goal.speed_percent)
                finally:
                    self._active = None
        except PotagerError as error:
            return self._move_result(False, f"move failed: {error}")
        where = ", ".join(f"{value:g}" for value in astuple(point_from_coordinate(reached)))
        return self._move_result(True, f"reached ({where}) m")

    def cancel_move(self) -> bool:
        """Abort the running move (the firmware stops, the robot stays usable)."""
        if self._request != "move_to":
            return False
        try:
            self.gantry.link.abort_move()
        except PotagerError as error:  # the move fails on the lost link by itself
            log.error("could not abort the move: %s", error)
            return False
        return True

    # -- internals ----------------------------------------------------------------------

    @contextmanager
    def _exclusive(self, request: str) -> Iterator[None]:
        if not self._running.acquire(blocking=False):
            raise BusyError(f"the gantry is busy with {self._request}; try again when it ends")
        self._request = request
        try:
            yield
        finally:
            self._request = ""
            self._running.release()

    def _trigger(self, request: str, run: Callable[[], str]) -> TriggerResponse:
        try:
            with self._exclusive(request):
                return TriggerResponse(True, run())
        except PotagerError as error:
            return TriggerResponse(False, f"{request} failed: {error}")

    def _unlock(self) -> str:
        self.gantry.unlock()
        return "unlocked: the robot accepts commands again"

    def _find_home(self) -> str:
        for axis in HOMING_ORDER:
            self.gantry.find_home(axis)
        return "home found on Z, Y and X"

    def _go_home(self) -> str:
        self.gantry.go_home()
        return "at home (0, 0, 0)"

    def _move_result(self, success: bool, message: str) -> MoveToResult:
        return MoveToResult(success, message, point_from_coordinate(self.gantry.position))

    def _on_reply(self, reply: Reply) -> None:
        active = self._active
        if active is None or not isinstance(reply, Position):
            return
        now = Coordinate(reply.x_mm, reply.y_mm, reply.z_mm)
        try:
            active.on_feedback(move_feedback(active.start, active.target, now))
        except Exception:  # it runs on the link's reader thread, which must survive it
            log.exception("a move feedback callback failed")
