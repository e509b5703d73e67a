"""The robots this server drives: a live status for each, commands one at a time, e-stop now.

Each robot has a worker thread that runs its commands in order (home, move, a sequence),
so a page never waits for a move and two commands never interleave on one robot. The
emergency stop does not queue: it goes straight to the link (the `E` byte is written out
of band), so it stops a job in the middle of a move. Every change of a robot's status
bumps a version number that the pages' event streams wait on. A robot may know its garden
(a farm map: plants and tool slots), which is what lets an operator water a plant by name.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controller.gantry import Gantry
from potager.db import utc_now
from potager.errors import PotagerError
from potager.farm import Farm
from potager.robots import RobotProfile

LOG_LINES = 20


class RobotBusyError(PotagerError):
    """A command was sent while the robot is running another one."""


class UnknownRobotError(PotagerError):
    """No robot of that id on this server."""


@dataclass
class RobotStatus:
    """What a page shows of a robot."""

    robot_id: str
    name: str
    site_id: int | None
    connected: bool = True
    x_mm: float = 0.0
    y_mm: float = 0.0
    z_mm: float = 0.0
    estopped: bool = False
    job: str | None = None
    log: list[str] = field(default_factory=list)
    pins: dict[int, int] = field(default_factory=dict)
    updated_at: datetime = field(default_factory=utc_now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "robot_id": self.robot_id,
            "name": self.name,
            "site_id": self.site_id,
            "connected": self.connected,
            "position_mm": [round(self.x_mm, 1), round(self.y_mm, 1), round(self.z_mm, 1)],
            "estopped": self.estopped,
            "job": self.job,
            "log": list(self.log),
            "pins": {str(pin): value for pin, value in sorted(self.pins.items())},
            "updated_at": self.updated_at.isoformat(),
        }


class _Robot:
    def __init__(
        self, robot_id: str, name: str, site_id: int | None, gantry: Gantry, farm: Farm
    ) -> None:
        self.gantry, self.farm = gantry, farm
        self.status = RobotStatus(robot_id, name, site_id)
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.busy = threading.Lock()


class RobotHub:
    """The server's robots; thread-safe."""

    def __init__(self) -> None:
        self._robots: dict[str, _Robot] = {}
        self._changed = threading.Condition()
        self.version = 0

    def add(
        self,
        robot_id: str,
        name: str,
        site_id: int | None,
        gantry: Gantry,
        farm: Farm | None = None,
    ) -> None:
        """A robot to show and drive; `farm` is its garden, when it is known."""
        robot = _Robot(robot_id, name, site_id, gantry, farm or Farm())
        self._robots[robot_id] = robot
        gantry.add_estop_listener(lambda: self._note(robot, "emergency stop"))
        self._refresh(robot)

    def ids(self) -> list[str]:
        return sorted(self._robots)

    def status(self, robot_id: str) -> RobotStatus:
        robot = self._robot(robot_id)
        _sync(robot)
        return robot.status

    def profile(self, robot_id: str) -> RobotProfile:
        """The robot's model: what a sequence is checked against before it runs there."""
        return self._robot(robot_id).gantry.profile

    def farm(self, robot_id: str) -> Farm:
        """The robot's garden: its plants and tool slots (empty when unknown)."""
        return self._robot(robot_id).farm

    def statuses(self) -> list[RobotStatus]:
        """Every robot as it is now (positions as the firmware last reported them)."""
        return [self.status(robot_id) for robot_id in self.ids()]

    def wait_for_change(self, seen: int, timeout_s: float) -> int:
        """The version after `seen` changes, or `seen` again after `timeout_s`."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != seen, timeout=timeout_s)
            return self.version

    def run(self, robot_id: str, label: str, work: Callable[[Gantry], object]) -> None:
        """Start `work` on the robot's gantry in the background; refused while it is busy."""
        robot = self._robot(robot_id)
        if not robot.busy.acquire(blocking=False):
            raise RobotBusyError(
                f"{robot.status.name} is running {robot.status.job!r}: wait for it, or press "
                "the emergency stop"
            )
        robot.status.job = label
        self._note(robot, f"started: {label}")
        threading.Thread(target=self._work, args=(robot, label, work), daemon=True).start()

    def emergency_stop(self, robot_id: str) -> None:
        """Now, whatever is running: the firmware stops every motor and output."""
        robot = self._robot(robot_id)
        robot.gantry.emergency_stop()
        self._note(robot, "emergency stop pressed")

    def unlock(self, robot_id: str) -> None:
        robot = self._robot(robot_id)
        if robot.busy.locked():
            raise RobotBusyError(f"{robot.status.name} is still ending {robot.status.job!r}")
        robot.gantry.unlock()
        self._note(robot, "unlocked")

    def _work(self, robot: _Robot, label: str, work: Callable[[Gantry], object]) -> None:
        try:
            work(robot.gantry)
        except Exception as error:  # shown on the page; the robot's own safety already ran
            self._note(robot, f"failed: {label}: {error}")
        else:
            self._note(robot, f"done: {label}")
        finally:
            robot.status.job = None
            robot.busy.release()
            self._refresh(robot)

    def _note(self, robot: _Robot, line: str) -> None:
        robot.log.append(f"{utc_now():%H:%M:%S} {line}")
        self._refresh(robot)

    def _refresh(self, robot: _Robot) -> None:
        _sync(robot)
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def _robot(self, robot_id: str) -> _Robot:
        robot = self._robots.get(robot_id)
        if robot is None:
            known = ", ".join(self.ids()) or "none"
            raise UnknownRobotError(f"no robot {robot_id!r} on this server (robots: {known})")
        return robot


def _sync(robot: _Robot) -> None:
    gantry, status = robot.gantry, robot.status
    position = gantry.position
    status.x_mm, status.y_mm, status.z_mm = position.x_mm, position.y_mm, position.z_mm
    status.estopped = gantry.estopped
    status.pins = {pin: 1 for pin in gantry.outputs_on}
    status.log = list(robot.log)
    status.updated_at = utc_now()
