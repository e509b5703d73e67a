"""The server's ear on the network: every robot's envelopes, from the broker into the inbox.

Subscribed with QoS 1 to every robot's topics; a message that is not a well-formed
envelope on its own robot's topic is refused and counted (a robot cannot speak for
another), never stored. Messages are written in batches (one transaction for what arrived
together) by a writer thread and acknowledged to the broker only once committed: one the
database could not take is written again until it can, and a server that dies first gets
it again from the broker, whose persistent session kept it. After each batch the applier
(`web.network_apply`) folds what is new into the trial store and the robots' statuses.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple, Self

import paho.mqtt.client as mqtt
from sqlalchemy.exc import SQLAlchemyError

from agent import AgentError
from agent.broker_client import BrokerClient, BrokerSettings
from agent.messages import TOPIC_ROOT, Envelope, envelope_from
from web.inbox import Inbox

log = logging.getLogger(__name__)
SUBSCRIPTION = f"{TOPIC_ROOT}/+/+/+"
BATCH = 500
RETRY_S = 1.0
"""How long the writer waits before trying a batch the database refused again."""


class _Received(NamedTuple):
    envelope: Envelope
    mid: int
    qos: int


class Ingestor(BrokerClient):
    """Keeps the inbox filled from the broker while `start`ed; `after_batch` runs on the
    writer thread after each committed batch (the applier)."""

    def __init__(
        self,
        inbox: Inbox,
        broker: BrokerSettings,
        *,
        client_id: str = "potager-server",
        after_batch: Callable[[], object] = lambda: None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(
            broker, client_id, subscription=SUBSCRIPTION, persistent=True, manual_ack=True
        )
        self.inbox, self._after_batch, self._now = inbox, after_batch, now
        self.refused: list[str] = []
        self.client.on_message = self._on_message
        self._received: queue.Queue[_Received | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write_loop, name="ingest", daemon=True)
        self._stopping = threading.Event()

    def start(self) -> Self:
        self._writer.start()
        return super().start()

    def stop(self) -> None:
        super().stop()
        self._stopping.set()
        self._received.put(None)
        self._writer.join(timeout=30)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            envelope = envelope_from(message.topic, bytes(message.payload))
        except AgentError as error:
            log.warning("%s", error)
            self.refused.append(str(error))
            client.ack(message.mid, message.qos)
            return
        self._received.put(_Received(envelope, message.mid, message.qos))

    def _write_loop(self) -> None:
        while (first := self._received.get()) is not None:
            batch = [first]
            while len(batch) < BATCH:
                try:
                    more = self._received.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._received.put(None)  # seen after this batch: the loop ends then
                    break
                batch.append(more)
            if not self._store(batch):
                return
            for received in batch:
                self.client.ack(received.mid, received.qos)
            try:
                self._after_batch()
            except Exception:  # the envelopes are stored: applying is retried next batch
                log.exception("could not apply what robots sent")

    def _store(self, batch: list[_Received]) -> bool:
        """Commit the batch, retrying while the database refuses; False when stopping."""
        while not self._stopping.is_set():
            try:
                self.inbox.receive_many([received.envelope for received in batch], self._now())
                return True
            except SQLAlchemyError:  # not acknowledged: kept by us, and by the broker
                log.exception("could not store %d envelope(s); trying again", len(batch))
                self._stopping.wait(RETRY_S)
        return False
