"""The robots that report over the network: what the server last heard of each, and how to
reach them.

A network robot is not driven from here step by step: it runs its own schedules, and takes
a handful of commands (e-stop, pause, resume, unlock, run one of its own sequences) through
the broker. Its status is what its envelopes said: the last `state`, with the latest
journal entries and command answers as log lines. All of it is a projection of the inbox,
so a restarted server rebuilds it from there (`NetworkRobots.replay`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent import AgentError
from agent.commands import Command, CommandKind
from agent.messages import Envelope

LOG_LINES = 20
Sender = Callable[[str, str, CommandKind, dict[str, Any]], Command]
"""Hands a command (site, robot, kind, args) to the broker: `RemoteCommands.send`."""


@dataclass
class NetworkRobot:
    """What the server knows of one robot on the network."""

    robot_id: str
    site: str
    site_id: int | None
    state: dict[str, Any] = field(default_factory=dict)
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    heard_at: datetime | None = None
    """when the robot recorded the newest envelope the server has (robot time)"""


class NetworkRobots:
    """Thread-safe; `changed` is called after every change (the hub's pages wait on it);
    `sender` is set once the server has a broker connection."""

    def __init__(self, send: Sender | None, changed: Callable[[], None]) -> None:
        self.sender, self._changed = send, changed
        self._robots: dict[str, NetworkRobot] = {}
        self._lock = threading.Lock()

    def ids(self) -> list[str]:
        with self._lock:
            return sorted(self._robots)

    def get(self, robot_id: str) -> NetworkRobot | None:
        with self._lock:
            return self._robots.get(robot_id)

    def heard(self, envelope: Envelope, site_id: int | None, problem: str | None = None) -> None:
        """Fold one envelope into its robot's status; `problem`: why it was not applied."""
        with self._lock:
            robot = self._robot_of(envelope, site_id)
            _fold(robot, envelope)
            if problem is not None:
                robot.log.append(f"{_clock(envelope.recorded_at)} not applied: {problem}")
        self._changed()

    def replay(self, envelopes: Iterable[tuple[Envelope, int | None]]) -> None:
        """Rebuild from stored envelopes (each robot's in its order), quietly."""
        with self._lock:
            for envelope, site_id in envelopes:
                _fold(self._robot_of(envelope, site_id), envelope)
        self._changed()

    def _robot_of(self, envelope: Envelope, site_id: int | None) -> NetworkRobot:
        """The envelope's robot, known from now on (call with the lock held)."""
        robot = self._robots.get(envelope.robot_id)
        if robot is None:
            robot = NetworkRobot(envelope.robot_id, envelope.site, site_id)
            self._robots[envelope.robot_id] = robot
        return robot

    def send(self, robot: NetworkRobot, kind: CommandKind, args: dict[str, Any]) -> Command:
        """Hand a command for `robot` to the broker; an AgentError when it cannot go."""
        if self.sender is None:
            raise AgentError(
                f"this server has no broker connection to reach {robot.robot_id}: start it "
                "with `potager serve --broker HOST`"
            )
        command = self.sender(robot.site, robot.robot_id, kind, args)
        with self._lock:
            robot.log.append(f"{_clock(command.issued_at)} sent: {_said(kind, args)}")
        self._changed()
        return command


def _fold(robot: NetworkRobot, envelope: Envelope) -> None:
    body, at = envelope.body, envelope.recorded_at
    if robot.heard_at is None or at > robot.heard_at:
        robot.heard_at = at
    if envelope.kind == "state":
        robot.state = dict(body)
    line = _line(envelope.kind, body)
    if line is not None:
        robot.log.append(f"{_clock(at)} {line}")


def _line(kind: str, body: dict[str, Any]) -> str | None:
    """A journal entry or a command's answer as a log line (None: not a log line)."""
    if kind == "ack":
        repeat = " (again)" if body.get("repeat") else ""
        detail = f" · {body['detail']}" if body.get("detail") else ""
        return f"command {body.get('kind')}: {body.get('outcome')}{repeat}{detail}"
    if kind != "journal":
        return None
    if body.get("entry") == "run":
        detail = f": {body['detail']}" if body.get("detail") else ""
        return f"{body.get('job')}: {body.get('outcome')}{detail}"
    volume = f" {body['volume_ml']:g} ml" if body.get("volume_ml") else ""
    return (
        f"{body.get('job')} #{body.get('step')} {body.get('kind')} at "
        f"X {body.get('x_mm', 0):.0f} Y {body.get('y_mm', 0):.0f}{volume}"
    )


def _said(kind: CommandKind, args: dict[str, Any]) -> str:
    return f"{kind} {args['name']}" if kind == "run_sequence" and "name" in args else kind


def _clock(at: datetime) -> str:
    return f"{at:%H:%M:%S}"
