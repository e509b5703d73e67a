"""A Mosquitto broker of our own: a child process on a free loopback port, with its
configuration and persistence in a folder, that can be stopped and started again.

Tests and benchmarks use one each: the machine's Mosquitto service (port 1883) is shared,
and one of our own can be restarted mid-stream and keeps its persistence in its folder.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from agent.broker_access import Account, RobotAccount, acl_file, password_file
from agent.broker_client import BrokerSettings
from agent.broker_files import MAX_INFLIGHT_MESSAGES, MAX_QUEUED_MESSAGES
from potager.errors import PotagerError


def mosquitto_binary() -> str | None:
    """Where `mosquitto` is (Debian puts it in /usr/sbin, often off a user's PATH)."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/sbin")


class Broker:
    """Anonymous clients until `secure`d; `start`, `stop` and `start` again at will."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary, self.folder = binary, folder
        self.port = free_port()
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
            f"max_queued_messages {MAX_QUEUED_MESSAGES}\n"
            f"max_inflight_messages {MAX_INFLIGHT_MESSAGES}\n"
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
        raise PotagerError(f"mosquitto did not listen on {self.port} within 10 s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()  # SIGTERM: mosquitto saves its persistence first
            self._process.wait(timeout=10)
            self._process = None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
