"""The server's ear on the network: every robot's envelopes, from the broker into the inbox.

Subscribed with QoS 1 to every robot's topics; a message that is not a well-formed
envelope on its own robot's topic is refused and counted (a robot cannot speak for
another), never stored. The broker redelivers what was not acknowledged, and the inbox
keeps one copy per (robot, seq).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from sqlalchemy.exc import SQLAlchemyError

from agent import AgentError
from agent.broker_client import BrokerClient, BrokerSettings
from agent.messages import TOPIC_ROOT, envelope_from
from web.inbox import Inbox

log = logging.getLogger(__name__)
SUBSCRIPTION = f"{TOPIC_ROOT}/+/+/+"


class Ingestor(BrokerClient):
    """Keeps the inbox filled from the broker while `start`ed.

    A persistent session (what arrives while the server is down waits at the broker),
    messages acknowledged by hand once stored (one the database could not take comes again).
    """

    def __init__(
        self,
        inbox: Inbox,
        broker: BrokerSettings,
        *,
        client_id: str = "potager-server",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(
            broker, client_id, subscription=SUBSCRIPTION, persistent=True, manual_ack=True
        )
        self.inbox, self._now = inbox, now
        self.refused: list[str] = []
        self.client.on_message = self._on_message

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
