"""A real Mosquitto broker of the test's own, on a free port, that a test can stop and start.

The machine's Mosquitto service (port 1883) is shared; a broker of our own can be
restarted mid-stream and keeps its persistence in the test's folder. Missing `mosquitto`
fails the tests under CI=true and skips them elsewhere.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from agent.broker_access import Account, RobotAccount, acl_file, password_file
from agent.broker_client import BrokerSettings
from potager.db import make_engine, session_factory, upgrade_database
from web.inbox import Inbox
from web.ingest import Ingestor

BROKER_WAIT_S = 40.0
"""A client's reconnect back-off can reach several seconds."""


class Broker:
    def __init__(self, binary: str, folder: Path) -> None:
        self.binary, self.folder = binary, folder
        self.port = _free_port()
        self.config = folder / "mosquitto.conf"
        self._write_config("allow_anonymous true\n")
        self._process: subprocess.Popen[bytes] | None = None

    def secure(self, robots: Sequence[RobotAccount], server: Account) -> None:
        """From the next start on: accounts and access rules only, no anonymous client."""
        (self.folder / "passwords").write_text(password_file(robots, server), encoding="utf-8")
        (self.folder / "acl").write_text(acl_file(robots, server), encoding="utf-8")
        self._write_config(
            "allow_anonymous false\n"
            # a client's id is its account: nobody can take over a robot's session
            "use_username_as_clientid true\n"
            f"password_file {self.folder / 'passwords'}\n"
            f"acl_file {self.folder / 'acl'}\n"
        )

    def _write_config(self, access: str) -> None:
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            # run as us, not as the `mosquitto` user it drops to when started as root, which
            # could not write its persistence into our folder (and restarts would lose it)
            f"user {getpass.getuser()}\n"
            "persistence true\n"
            f"persistence_location {self.folder}/\n"
            "max_queued_messages 100000\n"
            f"log_dest file {self.folder}/mosquitto.log\n" + access,
            encoding="utf-8",
        )

    @property
    def settings(self) -> BrokerSettings:
        return BrokerSettings(port=self.port, keepalive_s=5)

    def start(self) -> None:
        self._process = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within 10 s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()  # SIGTERM: mosquitto saves its persistence first
            self._process.wait(timeout=10)
            self._process = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def running_broker(folder: Path) -> Iterator[Broker]:
    """A broker of the test's own (not yet started), stopped at the end; missing
    `mosquitto` fails under CI=true, skips elsewhere."""
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")
    if binary is None:
        reason = "mosquitto is not installed (make test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: the broker is required)")
        pytest.skip(reason)
    running = Broker(binary, folder)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    yield from running_broker(tmp_path)


@pytest.fixture
def inbox(database_url: str) -> Inbox:
    upgrade_database(database_url)
    return Inbox(session_factory(make_engine(database_url)))


@pytest.fixture
def ingestor(inbox: Inbox, broker: Broker) -> Iterator[Ingestor]:
    broker.start()
    with Ingestor(inbox, broker.settings, client_id=f"server-{broker.port}") as running:
        assert running.wait_ready(BROKER_WAIT_S)
        yield running
