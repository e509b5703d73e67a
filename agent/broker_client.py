"""One connection to the network's MQTT broker, as every part of ours holds it.

Connected in the background and reconnecting by itself (back-off 1 to 30 s); `ready` is
set once connected and, for a part that listens, once the broker has acknowledged its
subscription (a message published before that would find no subscriber).
"""

from __future__ import annotations

import logging
import threading
from typing import Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)


class BrokerSettings(BaseModel):
    """Where the network's broker is and whom to sign in as."""

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    keepalive_s: int = Field(default=30, ge=5)


class BrokerClient:
    """A client of ours; `subscription` (QoS 1) is what it listens to, if anything."""

    def __init__(
        self,
        broker: BrokerSettings,
        client_id: str,
        *,
        subscription: str | None = None,
        persistent: bool = False,
        manual_ack: bool = False,
    ) -> None:
        self.broker, self.client_id, self.subscription = broker, client_id, subscription
        self.connected, self.ready = threading.Event(), threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=not persistent,
            manual_ack=manual_ack,
        )
        if broker.username is not None:
            self.client.username_pw_set(broker.username, broker.password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect

    def start(self) -> Self:
        """Connect in the background (and keep reconnecting); returns at once."""
        self.client.connect_async(self.broker.host, self.broker.port, self.broker.keepalive_s)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_ready(self, timeout_s: float) -> bool:
        return self.ready.wait(timeout_s)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("the broker refused %s: %s", self.client_id, reason)
            return
        self.connected.set()
        if self.subscription is None:
            self.ready.set()
        else:
            client.subscribe(self.subscription, qos=1)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if all(not reason.is_failure for reason in reasons):
            self.ready.set()
        else:
            log.error("the broker refused the subscription to %s: %s", self.subscription, reasons)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.connected.clear()
        self.ready.clear()
