"""Sends the outbox to the network's MQTT broker, oldest first, one at a time.

Each envelope is published with QoS 1 and marked delivered only once the broker has
acknowledged it. A window of envelopes is in flight at once, on one connection, so the
broker receives them in the order they were recorded; the next window goes once the
broker has acknowledged this one. When the link drops before an acknowledgement the envelope
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
from agent.messages import Envelope
from agent.outbox import Outbox

WINDOW = 64
"""Envelopes in flight at once: one round trip to the broker per window, not per envelope,
and one outbox write to mark them delivered."""
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
            for start in range(0, len(envelopes), WINDOW):
                window = envelopes[start : start + WINDOW]
                acknowledged = self._send(window)
                self.outbox.delivered([envelope.seq for envelope in acknowledged], self._now())
                sent += len(acknowledged)
                if len(acknowledged) < len(window):
                    return sent
        return sent

    def _send(self, window: list[Envelope]) -> list[Envelope]:
        """Publish a window at once; the envelopes the broker acknowledged, up to the first
        it did not (the rest go again, in order, next time)."""
        infos = [self.client.publish(e.topic, e.payload(), qos=1) for e in window]
        acknowledged = []
        for envelope, info in zip(window, infos, strict=True):
            if not self._acknowledged(info):
                break
            acknowledged.append(envelope)
        return acknowledged

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
