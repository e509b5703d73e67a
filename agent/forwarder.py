"""Sends the outbox to the network's MQTT broker, oldest first, one at a time.

Each envelope is published with QoS 1 and marked delivered only once the broker has
acknowledged it; the next one goes only then, so the server receives a robot's facts in
the order they were recorded. When the link drops before an acknowledgement the envelope
is sent again later: the server keeps one copy per (robot, seq), which makes the delivery
exactly-once where it counts. The client reconnects by itself; `deliver_pending` just
returns early while the broker is out of reach, and the caller tries again later.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

from agent.broker_client import BrokerClient, BrokerSettings
from agent.commands import CommandDesk
from agent.outbox import Outbox

ACK_TIMEOUT_S = 5.0
"""How long one publish may wait for the broker's acknowledgement before the round ends."""


class Forwarder(BrokerClient):
    """One robot's outbox, forwarded to the broker while `start`ed; with a command desk,
    the robot's commands handed to it (a persistent session: commands sent while the robot
    is offline wait for it)."""

    def __init__(
        self,
        outbox: Outbox,
        broker: BrokerSettings,
        *,
        commands: CommandDesk | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(
            broker,
            f"potager-agent-{outbox.site}-{outbox.robot_id}",
            subscription=None if commands is None else commands.topic,
            persistent=True,
        )
        self.outbox, self.commands, self._now = outbox, commands, now
        self.client.on_message = self._on_message

    def deliver_pending(self, batch: int = 1000) -> int:
        """Send what the outbox holds, in order, until it is empty or the link fails;
        returns how many envelopes the broker acknowledged."""
        sent = 0
        while self.connected.is_set():
            envelopes = self.outbox.pending(batch)
            if not envelopes:
                break
            for envelope in envelopes:
                info = self.client.publish(envelope.topic, envelope.payload(), qos=1)
                if not self._acknowledged(info):
                    return sent
                self.outbox.delivered(envelope.seq, self._now())
                sent += 1
        return sent

    def _acknowledged(self, info: mqtt.MQTTMessageInfo) -> bool:
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return False
        deadline_s = time.monotonic() + ACK_TIMEOUT_S
        while not info.is_published():
            if not self.connected.is_set() or time.monotonic() > deadline_s:
                return False
            info.wait_for_publish(0.05)
        return True

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if self.commands is not None and message.topic == self.commands.topic:
            self.commands.receive(bytes(message.payload))
