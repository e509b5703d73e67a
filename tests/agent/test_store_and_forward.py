"""Robots' records through a real Mosquitto into the server's inbox (SQLite and PostgreSQL):
nothing lost, nothing doubled, in each robot's order, whatever the link does."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.forwarder import Forwarder
from agent.messages import Envelope
from agent.outbox import Outbox
from potager.db import make_engine, session_factory, upgrade_database
from tests.agent.conftest import BROKER_WAIT_S, Broker
from web.inbox import Inbox
from web.ingest import Ingestor

START = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
WAIT_S = BROKER_WAIT_S


def robot_outbox(folder: Path, site: str, robot_id: str) -> Outbox:
    """The robot's own SQLite store, as `potager agent` keeps it."""
    url = f"sqlite:///{folder / f'{robot_id}.sqlite3'}"
    upgrade_database(url)
    return Outbox(session_factory(make_engine(url)), site, robot_id)


def eventually(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def a_week_of(outbox: Outbox) -> list[Envelope]:
    """Hourly soil readings and the daily watering's journal entries, for seven days."""
    recorded = []
    for hour in range(7 * 24):
        at = START + timedelta(hours=hour)
        recorded.append(outbox.put("state", {"soil_moisture_pct": 20 + hour % 5}, at))
        if hour % 24 == 1:
            for plant in range(12):
                body = {"kind": "water", "point_index": plant, "volume_ml": 150.0}
                recorded.append(outbox.put("journal", body, at + timedelta(seconds=plant)))
    return recorded


def test_a_week_offline_is_delivered_once_and_in_order_on_reconnect(
    broker: Broker, inbox: Inbox, tmp_path: Path
) -> None:
    outbox = robot_outbox(tmp_path, "lyon", "bot-1")
    with Forwarder(outbox, broker.settings) as forwarder:
        week = a_week_of(outbox)  # the broker is not even running
        assert forwarder.deliver_pending() == 0
        assert outbox.waiting() == len(week) == 7 * 24 + 7 * 12
        broker.start()
        with Ingestor(inbox, broker.settings, client_id="server") as ingestor:
            assert ingestor.wait_ready(WAIT_S) and forwarder.wait_ready(WAIT_S)
            assert forwarder.deliver_pending() == len(week)
            assert eventually(lambda: len(inbox.received("bot-1")) == len(week))
    assert inbox.received("bot-1") == week
    assert [envelope.seq for envelope in week] == list(range(1, len(week) + 1))
    assert outbox.waiting() == 0


def test_a_broker_restart_mid_stream_loses_and_doubles_nothing(
    broker: Broker, ingestor: Ingestor, inbox: Inbox, tmp_path: Path
) -> None:
    outbox = robot_outbox(tmp_path, "lyon", "bot-1")
    recorded = [
        outbox.put("observation", {"plot": i % 16 + 1, "value": float(i)}, START)
        for i in range(400)
    ]
    with Forwarder(outbox, broker.settings) as forwarder:
        assert forwarder.wait_ready(WAIT_S)
        done = threading.Event()

        def keep_delivering() -> None:
            while outbox.waiting():
                forwarder.deliver_pending(batch=50)
                time.sleep(0.02)
            done.set()

        sender = threading.Thread(target=keep_delivering, daemon=True)
        sender.start()
        assert eventually(lambda: len(inbox.received("bot-1")) >= 50)
        broker.stop()  # mid-stream: some publishes are in flight
        stopped_at = len(inbox.received("bot-1"))
        broker.start()
        assert done.wait(WAIT_S * 2)
        assert eventually(lambda: len(inbox.received("bot-1")) == len(recorded))
    assert stopped_at < len(recorded)
    assert inbox.received("bot-1") == recorded


def test_two_robots_at_two_sites_publishing_at_once_each_arrive_whole(
    broker: Broker, ingestor: Ingestor, inbox: Inbox, tmp_path: Path
) -> None:
    robots = {
        "bot-1": robot_outbox(tmp_path, "lyon", "bot-1"),
        "bot-2": robot_outbox(tmp_path, "lille", "bot-2"),
    }
    recorded = {
        robot_id: [outbox.put("journal", {"step": step}, START) for step in range(150)]
        for robot_id, outbox in robots.items()
    }
    forwarders = [Forwarder(outbox, broker.settings).start() for outbox in robots.values()]
    try:
        assert all(forwarder.wait_ready(WAIT_S) for forwarder in forwarders)
        senders = [threading.Thread(target=forwarder.deliver_pending) for forwarder in forwarders]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(WAIT_S)
        for robot_id, envelopes in recorded.items():
            assert eventually(lambda r=robot_id: len(inbox.received(r)) == 150)
            assert inbox.received(robot_id) == envelopes
    finally:
        for forwarder in forwarders:
            forwarder.stop()


def test_a_message_claiming_another_robot_is_refused(
    broker: Broker, ingestor: Ingestor, inbox: Inbox
) -> None:
    forged = Envelope(
        site="lyon", robot_id="bot-2", seq=1, kind="journal", recorded_at=START, body={}
    )
    impostor = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="impostor")
    impostor.connect("127.0.0.1", broker.port)
    impostor.loop_start()
    try:
        impostor.publish("potager/lyon/bot-1/journal", forged.payload(), qos=1).wait_for_publish(5)
        impostor.publish("potager/lyon/bot-1/journal", b"not json", qos=1).wait_for_publish(5)
    finally:
        impostor.disconnect()
        impostor.loop_stop()
    assert eventually(lambda: len(ingestor.refused) == 2)
    assert "claims to be from 'potager/lyon/bot-2/journal'" in ingestor.refused[0]
    assert "not a valid envelope" in ingestor.refused[1]
    assert inbox.received("bot-1") == inbox.received("bot-2") == []


def test_the_inbox_keeps_one_copy_of_a_resent_envelope(inbox: Inbox) -> None:
    envelope = Envelope(
        site="lyon", robot_id="bot-1", seq=7, kind="state", recorded_at=START, body={"a": 1}
    )
    assert inbox.receive_many([envelope], START) == 1
    assert inbox.receive_many([envelope, envelope], START + timedelta(minutes=5)) == 0
    assert inbox.received("bot-1") == [envelope]
