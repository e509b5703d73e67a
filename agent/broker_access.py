"""Who may say what on the network's broker: Mosquitto's password and access files.

Each robot signs in as its own robot id and may publish only on its own topics
(`potager/<site>/<robot>/<kind>`), so a robot cannot publish as another or at another
site; it may read only its own command topics. The server's account reads every robot's
topics and writes their commands. The files are made here, from the network's list of
robots, so nothing is typed by hand into a broker's configuration.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from agent import AgentError
from agent.messages import NAME_PATTERN, TOPIC_ROOT, robot_topics

PBKDF2_ITERATIONS = 20_000
"""Mosquitto's own tool uses 101; the broker reads the count from each line."""
SALT_BYTES = 12


class Account(BaseModel):
    """A name the broker knows, with its password."""

    model_config = ConfigDict(frozen=True)

    username: str = Field(pattern=NAME_PATTERN)
    password: SecretStr = Field(min_length=12)


class RobotAccount(Account):
    """A robot's account: its username is its robot id, its topics those of its site."""

    site: str = Field(pattern=NAME_PATTERN)


def password_line(account: Account, salt: bytes | None = None) -> str:
    """`user:$7$iterations$salt$hash`, Mosquitto 2's PBKDF2-SHA512 entry for the account."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac(
        "sha512", account.password.get_secret_value().encode(), salt, PBKDF2_ITERATIONS, 64
    )
    encoded = (base64.b64encode(part).decode("ascii") for part in (salt, digest))
    return f"{account.username}:$7${PBKDF2_ITERATIONS}${'$'.join(encoded)}"


def password_file(robots: Sequence[RobotAccount], server: Account) -> str:
    _check_unique([*robots, server])
    return "".join(f"{password_line(account)}\n" for account in [*robots, server])


def acl_file(robots: Sequence[RobotAccount], server: Account) -> str:
    """Each robot writes its own topics and reads its own commands; the server reads all
    robots' topics and writes their commands; nobody else may do anything."""
    _check_unique([*robots, server])
    lines = []
    for robot in robots:
        own = robot_topics(robot.site, robot.username)
        lines += [
            f"user {robot.username}",
            f"topic write {own}/+",
            f"topic read {own}/commands/#",
            "",
        ]
    lines += [
        f"user {server.username}",
        f"topic read {TOPIC_ROOT}/+/+/+",
        f"topic write {TOPIC_ROOT}/+/+/commands/#",
        "",
    ]
    return "\n".join(lines)


def _check_unique(accounts: Sequence[Account]) -> None:
    names = [account.username for account in accounts]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise AgentError(f"usernames must be unique on a broker: {doubled} appear twice")
