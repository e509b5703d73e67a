"""The server's ear on the network: every robot's envelopes, from the broker into the inbox.

Subscribed with QoS 1 to every robot's topics; a message that is not a well-formed
envelope on its own robot's topic is refused and counted (a robot cannot speak for
another), never stored. The broker redelivers what was not acknowledged, and the inbox
keeps one copy per (robot, seq).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy.exc import SQLAlchemyError

from agent import AgentError
from agent.forwarder import BrokerSettings
from agent.messages import TOPIC_ROOT, envelope_from
from web.inbox import Inbox

log = logging.getLogger(__name__)
SUBSCRIPTION = f"{TOPIC_ROOT}/+/+/+"


class Ingestor:
    """Keeps the inbox filled from the broker while `start`ed."""

    def __init__(
        self,
        inbox: Inbox,
        broker: BrokerSettings,
        *,
        client_id: str = "potager-server",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.inbox, self.broker, self._now = inbox, broker, now
        self.refused: list[str] = []
        self._subscribed = threading.Event()
        # A persistent session: what arrives while the server is down waits at the broker.
        # Acknowledged by hand, once stored: a message the database could not take comes again.
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, manual_ack=True
        )
        if broker.username is not None:
            self._client.username_pw_set(broker.username, broker.password)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    def start(self) -> Ingestor:
        self._client.connect_async(self.broker.host, self.broker.port, self.broker.keepalive_s)
        self._client.loop_start()
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Ingestor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_subscribed(self, timeout_s: float) -> bool:
        return self._subscribed.wait(timeout_s)

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the server's connection: %s", reason)
            return
        client.subscribe(SUBSCRIPTION, qos=1)  # subscribed once the broker says so (SUBACK)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if all(not reason.is_failure for reason in reasons):
            self._subscribed.set()
        else:
            log.error("broker refused the server's subscription: %s", reasons)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._subscribed.clear()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            envelope = envelope_from(message.topic, bytes(message.payload))
        except AgentError as error:
            log.warning("%s", error)
            self.refused.append(str(error))
        else:
            try:
                self.inbox.receive(envelope, self._now())
            except SQLAlchemyError:  # the database is down: no ack, the broker sends it again
                log.exception("could not store %s #%d", envelope.topic, envelope.seq)
                return
        client.ack(message.mid, message.qos)
