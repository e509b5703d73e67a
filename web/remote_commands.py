"""The server's side of commands: send one to a robot, read its answer from the inbox.

Commands go out on the server's one broker connection (the ingestor's): a broker that
takes each account's name as its client id lets an account hold a single connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from agent import AgentError
from agent.broker_client import BrokerClient
from agent.commands import Command, CommandKind, command_topic
from web.inbox import Inbox

PUBLISH_TIMEOUT_S = 5.0


class RemoteCommands:
    """Publishes commands (QoS 1) on `connection`; answers arrive as `ack` envelopes."""

    def __init__(
        self,
        connection: BrokerClient,
        inbox: Inbox,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.connection, self.inbox, self._now = connection, inbox, now

    def send(
        self, site: str, robot_id: str, kind: CommandKind, args: dict[str, Any] | None = None
    ) -> Command:
        """Hand a command to the broker, which keeps it for the robot if it is offline."""
        command = Command(id=uuid.uuid4().hex, kind=kind, args=args or {}, issued_at=self._now())
        self.resend(site, robot_id, command)
        return command

    def resend(self, site: str, robot_id: str, command: Command) -> None:
        """The same command again (same id): the robot runs it once and answers again."""
        if not self.connection.wait_ready(PUBLISH_TIMEOUT_S):
            raise AgentError(
                f"no connection to the broker to send the {command.kind} to {robot_id}"
            )
        info = self.connection.client.publish(
            command_topic(site, robot_id), command.model_dump_json().encode(), qos=1
        )
        info.wait_for_publish(PUBLISH_TIMEOUT_S)
        if not info.is_published():
            raise AgentError(f"the broker did not take the {command.kind} for {robot_id} in time")

    def answers(self, robot_id: str, command_id: str) -> list[dict[str, Any]]:
        """What the robot answered to the command, first answer first."""
        return [
            envelope.body
            for envelope in self.inbox.received(robot_id)
            if envelope.kind == "ack" and envelope.body.get("command_id") == command_id
        ]
