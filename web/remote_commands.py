"""The server's side of commands: send one to a robot, read its answer from the inbox."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent import AgentError
from agent.commands import Command, CommandKind, command_topic
from agent.forwarder import BrokerSettings
from web.inbox import Inbox

PUBLISH_TIMEOUT_S = 5.0


class RemoteCommands:
    """Publishes commands (QoS 1) while `start`ed; answers arrive as `ack` envelopes."""

    def __init__(
        self,
        broker: BrokerSettings,
        inbox: Inbox,
        *,
        client_id: str = "potager-server-commands",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.inbox, self._now = inbox, now
        self._broker = broker
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if broker.username is not None:
            self._client.username_pw_set(broker.username, broker.password)

    def start(self) -> RemoteCommands:
        self._client.connect(self._broker.host, self._broker.port, self._broker.keepalive_s)
        self._client.loop_start()
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> RemoteCommands:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def send(
        self, site: str, robot_id: str, kind: CommandKind, args: dict[str, Any] | None = None
    ) -> Command:
        """Hand a command to the broker, which keeps it for the robot if it is offline."""
        command = Command(id=uuid.uuid4().hex, kind=kind, args=args or {}, issued_at=self._now())
        self.resend(site, robot_id, command)
        return command

    def resend(self, site: str, robot_id: str, command: Command) -> None:
        """The same command again (same id): the robot runs it once and answers again."""
        info = self._client.publish(
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
