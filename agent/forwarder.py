"""Sends the outbox to the network's MQTT broker, oldest first, one at a time.

Each envelope is published with QoS 1 and marked delivered only once the broker has
acknowledged it; the next one goes only then, so the server receives a robot's facts in
the order they were recorded. When the link drops before an acknowledgement the envelope
is sent again later: the server keeps one copy per (robot, seq), which makes the delivery
exactly-once where it counts. The client reconnects by itself; `deliver_pending` just
returns early while the broker is out of reach, and the caller tries again later.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ConfigDict, Field

from agent.commands import CommandDesk
from agent.outbox import Outbox

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 5.0
"""How long one publish may wait for the broker's acknowledgement before the round ends."""


class BrokerSettings(BaseModel):
    """Where the network's broker is and who this robot is to it."""

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    keepalive_s: int = Field(default=30, ge=5)


class Forwarder:
    """One robot's outbox, forwarded to the broker while `start`ed."""

    def __init__(
        self,
        outbox: Outbox,
        broker: BrokerSettings,
        *,
        commands: CommandDesk | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.outbox, self.broker, self._now = outbox, broker, now
        self.commands = commands
        self._connected = threading.Event()
        self._ready = threading.Event()
        """Connected, and listening for commands if it takes them."""
        # A persistent session: commands sent while the robot is offline wait for it.
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"potager-agent-{outbox.site}-{outbox.robot_id}",
            clean_session=False,
        )
        if broker.username is not None:
            self._client.username_pw_set(broker.username, broker.password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    def start(self) -> Forwarder:
        """Connect in the background (and keep reconnecting); returns at once."""
        self._client.connect_async(self.broker.host, self.broker.port, self.broker.keepalive_s)
        self._client.loop_start()
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Forwarder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout_s: float) -> bool:
        """Until connected and, with a command desk, subscribed to the robot's commands."""
        return self._ready.wait(timeout_s)

    def deliver_pending(self, batch: int = 1000) -> int:
        """Send what the outbox holds, in order, until it is empty or the link fails;
        returns how many envelopes the broker acknowledged."""
        sent = 0
        while self.connected:
            envelopes = self.outbox.pending(batch)
            if not envelopes:
                break
            for envelope in envelopes:
                info = self._client.publish(envelope.topic, envelope.payload(), qos=1)
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
            if not self.connected or time.monotonic() > deadline_s:
                return False
            info.wait_for_publish(0.05)
        return True

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            return
        self._connected.set()
        if self.commands is None:
            self._ready.set()
        else:  # ready once the broker has the subscription (SUBACK), not before
            client.subscribe(self.commands.topic, qos=1)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if all(not reason.is_failure for reason in reasons):
            self._ready.set()
        else:
            log.error("the broker refused this robot's command subscription: %s", reasons)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connected.clear()
        self._ready.clear()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if self.commands is not None and message.topic == self.commands.topic:
            self.commands.receive(bytes(message.payload))
