"""A network's broker, configured from one file listing its robots: `potager broker-files`.

    server: potager-server            # optional; the server's account
    listener: {host: 0.0.0.0, port: 1883}
    robots:
      - {site: lyon, robot: greenhouse-1}
      - {site: lille, robot: serre-2}

Writes, into one folder, Mosquitto's configuration (`mosquitto.conf`), its password and
access files, and one password file per account under `credentials/` to copy to that
robot (`potager agent --password-file`). Passwords are generated, never typed; an account
whose credentials file exists keeps its password, so adding a robot changes no other.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from agent import AgentError
from agent.broker_access import Account, RobotAccount, acl_file, password_file
from agent.messages import NAME_PATTERN
from controller.sequence_load import load_file

MAX_QUEUED_MESSAGES = 10_000_000
"""What the broker keeps for one offline client (Mosquitto's default, 1000, would drop
the rest of a server's backlog after a long outage; a robot's week is far less)."""
MAX_INFLIGHT_MESSAGES = 100
"""Unacknowledged messages per client in flight: the server acknowledges in batches."""


class _Listener(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "0.0.0.0"
    port: int = Field(default=1883, ge=1, le=65535)


class _RobotEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: str = Field(pattern=NAME_PATTERN)
    robot: str = Field(pattern=NAME_PATTERN)


class NetworkFile(BaseModel):
    """The network's robots, as its operator lists them."""

    model_config = ConfigDict(extra="forbid")

    server: str = Field(default="potager-server", pattern=NAME_PATTERN)
    listener: _Listener = Field(default_factory=_Listener)
    robots: list[_RobotEntry] = Field(min_length=1)


@dataclass(frozen=True)
class BrokerFiles:
    folder: Path
    created: list[str]
    """accounts whose password was generated this time"""


def read_network_file(path: Path) -> NetworkFile:
    loaded = load_file(path)
    try:
        return NetworkFile.model_validate(loaded.data)
    except ValidationError as error:
        problems = [
            f"{loaded.at(tuple(p for p in e['loc'] if isinstance(p, str | int)))}: {e['msg']}"
            for e in error.errors()
        ]
        raise AgentError(
            f"{path} is not a network file:\n  " + "\n  ".join(problems) + "\n(site and robot "
            "names are 1-64 lower-case letters, digits, '-' or '_': they become MQTT topics)"
        ) from None


def write_broker_files(network: NetworkFile, folder: Path) -> BrokerFiles:
    """Write the broker's configuration and every account's credentials into `folder`."""
    credentials = folder / "credentials"
    credentials.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    created: list[str] = []

    def password_of(username: str) -> str:
        path = credentials / f"{username}.password"
        if not path.exists():
            _write_private(path, secrets.token_urlsafe(24) + "\n")
            created.append(username)
        return path.read_text(encoding="utf-8").strip()

    robots = [
        RobotAccount(
            site=entry.site, username=entry.robot, password=SecretStr(password_of(entry.robot))
        )
        for entry in network.robots
    ]
    server = Account(username=network.server, password=SecretStr(password_of(network.server)))
    _write_private(folder / "passwords", password_file(robots, server))
    (folder / "acl").write_text(acl_file(robots, server), encoding="utf-8")
    (folder / "mosquitto.conf").write_text(broker_config(network, folder), encoding="utf-8")
    return BrokerFiles(folder, created)


def broker_config(network: NetworkFile, folder: Path) -> str:
    """Mosquitto's configuration: accounts only, each client's id its account, messages kept
    on disk across restarts and for offline clients."""
    return (
        f"listener {network.listener.port} {network.listener.host}\n"
        "allow_anonymous false\n"
        "use_username_as_clientid true\n"
        f"password_file {folder.resolve() / 'passwords'}\n"
        f"acl_file {folder.resolve() / 'acl'}\n"
        "persistence true\n"
        f"persistence_location {folder.resolve() / 'data'}/\n"
        f"max_queued_messages {MAX_QUEUED_MESSAGES}\n"
        f"max_inflight_messages {MAX_INFLIGHT_MESSAGES}\n"
    )


def _write_private(path: Path, text: str) -> None:
    """Only the owner may read a password (Mosquitto warns about a readable one too)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
