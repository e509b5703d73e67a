"""The robots this server drives: a live status for each, commands one at a time, e-stop now.

Each robot has a worker thread that runs its commands in order (home, move, a sequence),
so a page never waits for a move and two commands never interleave on one robot. The
emergency stop does not queue: it goes straight to the link (the `E` byte is written out
of band), so it stops a job in the middle of a move. Every change of a robot's status
bumps a version number that the pages' event streams wait on. A robot may know its garden
(a farm map: plants and tool slots), which is what lets an operator water a plant by name.

Robots that report over the network (`web.network_robots`) are listed alongside: their
status is what they last said, and they take e-stop, unlock, pause, resume and their own
sequences as commands through the broker.
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
from web.network_robots import NetworkRobot, NetworkRobots

LOG_LINES = 20


class RobotBusyError(PotagerError):
    """A command was sent while the robot is running another one."""


class UnknownRobotError(PotagerError):
    """No robot of that id on this server."""


class NetworkRobotError(PotagerError):
    """Asked a robot for what only a robot of the other kind does (a network robot is not
    driven step by step from here; a wired one has no schedules of its own)."""


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
    network: bool = False
    """reports over the network (else wired to this server)"""
    site: str | None = None
    paused: str | None = None
    """why its schedules are paused (network robots)"""
    sequences: list[str] = field(default_factory=list)
    """the sequences it can be asked to run (network robots)"""

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
            "network": self.network,
            "site": self.site,
            "paused": self.paused,
            "sequences": list(self.sequences),
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
        self.network = NetworkRobots(None, self._bump)

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
        return sorted([*self._robots, *self.network.ids()])

    def status(self, robot_id: str) -> RobotStatus:
        remote = self.network.get(robot_id)
        if remote is not None:
            return _network_status(remote)
        robot = self._robot(robot_id)
        _sync(robot)
        return robot.status

    def profile(self, robot_id: str) -> RobotProfile:
        """The robot's model: what a sequence is checked against before it runs there."""
        return self._robot(robot_id, wired=True).gantry.profile

    def farm(self, robot_id: str) -> Farm:
        """The robot's garden: its plants and tool slots (empty when unknown)."""
        robot = self._robots.get(robot_id)
        return Farm() if robot is None else robot.farm

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
        robot = self._robot(robot_id, wired=True)
        if not robot.busy.acquire(blocking=False):
            raise RobotBusyError(
                f"{robot.status.name} is running {robot.status.job!r}: wait for it, or press "
                "the emergency stop"
            )
        robot.status.job = label
        self._note(robot, f"started: {label}")
        threading.Thread(target=self._work, args=(robot, label, work), daemon=True).start()

    def emergency_stop(self, robot_id: str) -> None:
        """Now, whatever is running: the firmware stops every motor and output (a network
        robot's e-stop goes ahead of anything it is doing)."""
        remote = self.network.get(robot_id)
        if remote is not None:
            self.network.send(remote, "estop", {})
            return
        robot = self._robot(robot_id)
        robot.gantry.emergency_stop()
        self._note(robot, "emergency stop pressed")

    def unlock(self, robot_id: str) -> None:
        remote = self.network.get(robot_id)
        if remote is not None:
            self.network.send(remote, "unlock", {})
            return
        robot = self._robot(robot_id)
        if robot.busy.locked():
            raise RobotBusyError(f"{robot.status.name} is still ending {robot.status.job!r}")
        robot.gantry.unlock()
        self._note(robot, "unlocked")

    def pause(self, robot_id: str, reason: str) -> None:
        """Pause a network robot's schedules (until resumed, restarts included)."""
        self.network.send(self._network_robot(robot_id), "pause", {"reason": reason})

    def resume(self, robot_id: str) -> None:
        self.network.send(self._network_robot(robot_id), "resume", {})

    def run_own_sequence(self, robot_id: str, name: str) -> None:
        """Ask a network robot to run one of its own sequences, between its scheduled jobs."""
        robot = self._network_robot(robot_id)
        known = robot.state.get("sequences") or []
        if name not in known:
            raise NetworkRobotError(
                f"{robot_id} has no sequence {name!r}; its sequences: {', '.join(known) or 'none'}"
            )
        self.network.send(robot, "run_sequence", {"name": name})

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
        self._bump()

    def _bump(self) -> None:
        with self._changed:
            self.version += 1
            self._changed.notify_all()

    def _robot(self, robot_id: str, *, wired: bool = False) -> _Robot:
        robot = self._robots.get(robot_id)
        if robot is None and wired and self.network.get(robot_id) is not None:
            raise NetworkRobotError(
                f"{robot_id} reports over the network: it takes e-stop, unlock, pause, "
                "resume and its own sequences, not moves from this server"
            )
        if robot is None:
            known = ", ".join(self.ids()) or "none"
            raise UnknownRobotError(f"no robot {robot_id!r} on this server (robots: {known})")
        return robot

    def _network_robot(self, robot_id: str) -> NetworkRobot:
        remote = self.network.get(robot_id)
        if remote is None:
            self._robot(robot_id)  # unknown: says so
            raise NetworkRobotError(
                f"{robot_id} is wired to this server and has no schedules here to pause, "
                "resume or run"
            )
        return remote


def _sync(robot: _Robot) -> None:
    gantry, status = robot.gantry, robot.status
    position = gantry.position
    status.x_mm, status.y_mm, status.z_mm = position.x_mm, position.y_mm, position.z_mm
    status.estopped = gantry.estopped
    status.pins = {pin: 1 for pin in gantry.outputs_on}
    status.log = list(robot.log)
    status.updated_at = utc_now()


def _network_status(robot: NetworkRobot) -> RobotStatus:
    state = robot.state
    x_mm, y_mm, z_mm = state.get("position_mm") or (0.0, 0.0, 0.0)
    return RobotStatus(
        robot.robot_id,
        robot.robot_id,
        robot.site_id,
        connected=robot.heard_at is not None,
        x_mm=x_mm,
        y_mm=y_mm,
        z_mm=z_mm,
        estopped=bool(state.get("estopped")),
        job=state.get("job"),
        log=list(robot.log),
        pins={int(pin): 1 for pin in state.get("pins_on", [])},
        updated_at=robot.heard_at or utc_now(),
        network=True,
        site=robot.site,
        paused=state.get("paused"),
        sequences=list(state.get("sequences", [])),
    )
