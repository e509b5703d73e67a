"""The robots' side of `bench_network`, in a process of its own (as robots are machines of
their own): `python -m bench.network_robots MODE FOLDER PORT`.

- `deliver`: forward every robot's pre-filled outbox (`FOLDER/<robot>.sqlite3`) at once;
- `reference`: publish the same envelopes with bare paho clients, QoS 1, nothing stored;
- `journal`: a robot on duty (simulated Farmduino on a pty, `RobotAgent`) that journals an
  action named `bench <time>` every `JOURNAL_EVERY_S`, `JOURNAL_SAMPLES` times.

Each mode prints `ready` once connected, waits for a line on stdin, runs, prints `done`.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session, sessionmaker

from agent.broker_client import BrokerSettings
from agent.forwarder import Forwarder
from agent.outbox import Outbox
from agent.runtime import RobotAgent
from controller.action_journal import ActionJournal
from controller.duty import RobotDuty
from controller.gantry import Gantry
from controller.jobs import Action
from controller.link import SerialLink
from controller.schedule_file import RobotSchedules
from controller.scheduler import ScheduleStore
from potager.clock import SystemClock
from potager.db import make_engine, session_factory, upgrade_database
from potager.robots import get_profile
from sim.serve import simulated_robots

SITE = "bench"
JOURNAL_EVERY_S = 0.2
JOURNAL_SAMPLES = 50
READY_WAIT_S = 30.0


def robot_ids(count: int) -> list[str]:
    return [f"robot-{number}" for number in range(1, count + 1)]


def robot_store(folder: Path, robot_id: str) -> tuple[sessionmaker[Session], Outbox]:
    """The robot's own SQLite store and its outbox."""
    url = f"sqlite:///{folder / f'{robot_id}.sqlite3'}"
    upgrade_database(url)
    sessions = session_factory(make_engine(url))
    return sessions, Outbox(sessions, SITE, robot_id)


def _go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def _at_once(work: list[Callable[[], object]]) -> None:
    """Run each on a thread of its own, all together (each robot its own connection)."""
    threads = [threading.Thread(target=one) for one in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def deliver(folder: Path, broker: BrokerSettings, robots: int) -> None:
    forwarders = [
        Forwarder(robot_store(folder, robot_id)[1], broker) for robot_id in robot_ids(robots)
    ]
    for forwarder in forwarders:
        forwarder.start()
    for forwarder in forwarders:
        forwarder.wait_ready(READY_WAIT_S)
    _go()
    _at_once([forwarder.deliver_pending for forwarder in forwarders])
    for forwarder in forwarders:
        forwarder.stop()


def reference(folder: Path, broker: BrokerSettings, robots: int) -> None:
    loads = [
        [(e.topic, e.payload()) for e in robot_store(folder, robot_id)[1].pending(10**9)]
        for robot_id in robot_ids(robots)
    ]
    clients = []
    for number in range(robots):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"reference-{number}")
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)
        client.connect(broker.host, broker.port)
        client.loop_start()
        clients.append(client)
    _go()

    def publish(client: mqtt.Client, load: list[tuple[str, bytes]]) -> None:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in load]
        for info in infos:
            info.wait_for_publish(READY_WAIT_S)

    _at_once([functools.partial(publish, *pair) for pair in zip(clients, loads, strict=True)])
    for client in clients:
        client.disconnect()
        client.loop_stop()


def journal(folder: Path, broker: BrokerSettings) -> None:
    """A robot that journals an action every `JOURNAL_EVERY_S`, named by when it did."""
    url = f"sqlite:///{folder / 'duty.sqlite3'}"
    upgrade_database(url)
    sessions = session_factory(make_engine(url))
    profile, clock = get_profile("genesis"), SystemClock()
    plan = RobotSchedules("robot-duty", profile.name, {}, [])
    journal = ActionJournal(sessions)
    with (
        simulated_robots(profile, 1, clock) as (firmware,),
        Gantry(SerialLink(firmware.port, clock=clock), profile) as gantry,
    ):
        duty = RobotDuty(plan, gantry, clock, ScheduleStore(sessions), journal, alert=print)
        with RobotAgent(duty, sessions, SITE, broker, folder / "photos") as agent:
            agent.forwarder.wait_ready(READY_WAIT_S)
            _go()
            for _ in range(JOURNAL_SAMPLES):
                time.sleep(JOURNAL_EVERY_S)
                now = datetime.now(UTC)
                run_id = journal.start_run(plan.robot_id, f"bench {time.time():.6f}", {}, now)
                journal.record(run_id, Action(1, "move", None, None, 0, 0, 0, 0, None, ""), now)
                agent.wake()
                journal.finish_run(run_id, "done", now)
            time.sleep(1.0)  # the last ones reach the broker


def main(argv: list[str]) -> None:
    mode, folder, port = argv[0], Path(argv[1]), int(argv[2])
    broker = BrokerSettings(port=port, keepalive_s=10)
    robots = int(argv[3]) if len(argv) > 3 else 1
    if mode == "deliver":
        deliver(folder, broker, robots)
    elif mode == "reference":
        reference(folder, broker, robots)
    else:
        journal(folder, broker)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
