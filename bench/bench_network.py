"""The network of sites: envelopes through Mosquitto into PostgreSQL, and a robot's journal
entry's way to the dashboard.

A Mosquitto of our own (`sim.broker`, persistence on) and `potager serve --broker` on a
scratch PostgreSQL database run as processes, as on a network's server; the robots run in a
process of their own (`bench.network_robots`).

- Throughput: ROBOTS robots, each with ENVELOPES journal entries waiting in its SQLite
  outbox (a long outage), deliver at once; timed until the server has stored and applied
  every one (rows of `inbox` applied, counted in PostgreSQL). Reference, same run, same
  broker: the same messages from bare paho clients (QoS 1, nothing stored) to a bare
  subscriber that only counts them, the broker's own pace on this machine.
- Latency: a robot on duty (simulated Farmduino on a pty, `RobotAgent`) journals an action
  every 0.2 s; timed from the record to the robots page's event stream (`/robots/events`,
  what an operator's page shows) carrying it. Reference: a bare QoS 1 message's trip from a
  publisher through the broker to a subscriber.

Targets: >= 1000 envelopes/s stored and applied; journal-to-dashboard p99 <= 1 s.
`--quick` (POTAGER_BENCH_QUICK=1) delivers 1000 envelopes per robot instead of 5000.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from bench.bench_web import potager_serve
from bench.network_robots import JOURNAL_SAMPLES, robot_ids, robot_store
from potager.db import make_engine, scratch_postgres_database, session_factory, upgrade_database
from sim.broker import Broker, mosquitto_binary
from web.accounts import Accounts, Role
from web.inbox import InboxRecord

ROBOTS = 4
ENVELOPES = 5000
QUICK_ENVELOPES = 1000
TARGET_PER_S = 1000.0
TARGET_P99_S = 1.0
WAIT_S = 300.0
QUIET_S = 2.0
USER, PASSWORD = "bench", "bench password"
BENCH_MARK = re.compile(r"bench (\d+\.\d+)")


def journal_body(number: int) -> dict[str, object]:
    """An action as the relay copies it: a watering stop."""
    return {
        "entry": "action", "run_id": 1 + number // 100, "job": "water", "step": number % 100,
        "kind": "water", "task": "water", "point_index": number % 100, "x_mm": 500.0,
        "y_mm": 300.0, "z_mm": -200.0, "volume_ml": 30.0, "tool": "watering_nozzle",
        "detail": "",
    }  # fmt: skip


def fill_outboxes(folder: Path, envelopes: int) -> None:
    for robot_id in robot_ids(ROBOTS):
        sessions, outbox = robot_store(folder, robot_id)
        with sessions.begin() as session:
            for number in range(envelopes):
                outbox.record(session, "journal", journal_body(number), datetime.now(UTC))


@contextmanager
def robots_process(mode: str, folder: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    """`bench.network_robots MODE`, started and connected; send a line to let it go."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.network_robots", mode, str(folder), str(port), str(ROBOTS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdin is not None and child.stdout is not None
    try:
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the robots' process ({mode}) did not get ready")
        yield child
    finally:
        child.wait(WAIT_S)


def _go(child: subprocess.Popen[str]) -> float:
    assert child.stdin is not None
    child.stdin.write("go\n")
    child.stdin.flush()
    return time.perf_counter()


def reference_rate(folder: Path, port: int, total: int) -> float:
    received = threading.Semaphore(0)
    counter = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="reference-server")
    counter.on_message = lambda client, userdata, message: received.release()
    counter.connect("127.0.0.1", port)
    counter.subscribe("potager/+/+/+", qos=1)
    counter.loop_start()
    time.sleep(0.5)  # subscribed before anything is published
    try:
        with robots_process("reference", folder, port) as child:
            started = _go(child)
            for _ in range(total):
                received.acquire(timeout=WAIT_S)
            return total / (time.perf_counter() - started)
    finally:
        counter.disconnect()
        counter.loop_stop()


def delivered_rate(folder: Path, port: int, url: str, total: int) -> float:
    engine = make_engine(url)
    sessions = session_factory(engine)
    applied = InboxRecord.applied_at.is_not(None)
    query = select(func.count()).select_from(InboxRecord).where(applied)
    with robots_process("deliver", folder, port) as child:
        started = _go(child)
        deadline = started + WAIT_S
        while time.perf_counter() < deadline:
            with sessions() as session:
                if (session.scalar(query) or 0) >= total:
                    break
            time.sleep(0.02)
        elapsed = time.perf_counter() - started
    engine.dispose()
    return total / elapsed


def dashboard_latencies(folder: Path, port: int, base: str) -> list[float]:
    """Seconds from each journalled action to the robots page's event that shows it."""
    seen: dict[str, float] = {}
    # the page reads with a short timeout, so that it can be left once the robot is done
    client = httpx.Client(base_url=base, timeout=httpx.Timeout(10.0, read=QUIET_S))
    client.post("/login", data={"name": USER, "password": PASSWORD})
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            with (
                contextlib.suppress(httpx.ReadTimeout),
                client.stream("GET", "/robots/events") as events,
            ):
                for line in events.iter_lines():
                    if line.startswith("data: "):
                        arrived = time.time()
                        for robot in json.loads(line[6:]):
                            for entry in robot["log"]:
                                for mark in BENCH_MARK.findall(entry):
                                    seen.setdefault(mark, arrived)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with robots_process("journal", folder, port) as child:
        _go(child)
    done.set()
    watcher.join()
    client.close()
    return sorted(arrived - float(mark) for mark, arrived in seen.items())


def reference_latencies(port: int, samples: int) -> list[float]:
    trips: list[float] = []
    arrived = threading.Semaphore(0)

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        trips.append(time.time() - float(message.payload))
        arrived.release()

    listener = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="reference-listener")
    listener.on_message = on_message
    listener.connect("127.0.0.1", port)
    listener.subscribe("reference/trip", qos=1)
    listener.loop_start()
    talker = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="reference-talker")
    talker.connect("127.0.0.1", port)
    talker.loop_start()
    time.sleep(0.5)
    for _ in range(samples):
        talker.publish("reference/trip", f"{time.time():.6f}", qos=1)
        arrived.acquire(timeout=10)
        time.sleep(0.02)
    for client in (talker, listener):
        client.disconnect()
        client.loop_stop()
    return sorted(trips)


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> bool:
    binary = mosquitto_binary()
    if binary is None:
        print("== network: mosquitto is not installed (make test installs it)")
        return False
    envelopes = QUICK_ENVELOPES if os.environ.get("POTAGER_BENCH_QUICK") else ENVELOPES
    total = envelopes * ROBOTS
    with (
        tempfile.TemporaryDirectory() as folder,
        scratch_postgres_database("potager_bench") as url,
    ):
        broker = Broker(binary, Path(folder))
        broker.start()
        try:
            robots = Path(folder) / "robots"
            robots.mkdir()
            fill_outboxes(robots, envelopes)
            upgrade_database(url)
            Accounts(session_factory(make_engine(url))).create_user(USER, PASSWORD, Role.VIEWER)
            reference_per_s = reference_rate(robots, broker.port, total)
            with potager_serve(url, "--broker", f"127.0.0.1:{broker.port}") as base:
                time.sleep(1.0)  # its broker connection subscribed
                ours_per_s = delivered_rate(robots, broker.port, url, total)
                latencies = dashboard_latencies(robots, broker.port, base)
            trips = reference_latencies(broker.port, JOURNAL_SAMPLES)
        finally:
            broker.stop()
    p50, p99 = statistics.median(latencies), _quantile(latencies, 0.99)
    trip_p50, trip_p99 = statistics.median(trips), _quantile(trips, 0.99)
    print(f"\n== network: {ROBOTS} robots x {envelopes} envelopes through Mosquitto")
    print(
        f"stored and applied in PostgreSQL: {ours_per_s:,.0f} envelopes/s; bare broker "
        f"(QoS 1, counted only): {reference_per_s:,.0f}/s; ratio {ours_per_s / reference_per_s:.2f}"
    )
    print(
        f"journal entry -> robots page event: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"{len(latencies)}/{JOURNAL_SAMPLES} seen; bare QoS 1 trip p50 "
        f"{trip_p50 * 1000:.1f} ms, p99 {trip_p99 * 1000:.1f} ms; p50 ratio {p50 / trip_p50:.0f}x"
    )
    met = ours_per_s >= TARGET_PER_S and p99 <= TARGET_P99_S and len(latencies) == JOURNAL_SAMPLES
    verdict = "met" if met else "MISSED"
    print(f"targets {TARGET_PER_S:.0f}/s and p99 <= {TARGET_P99_S:.0f} s: {verdict}")
    return met
