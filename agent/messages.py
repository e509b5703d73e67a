"""What robots send to the network: one envelope per recorded fact, on a topic per robot.

Topics are `potager/<site>/<robot>/<kind>`, so a broker's access rules can scope each
robot's credentials to its own topics. `seq` numbers a robot's envelopes from 1 in the
order they were recorded: the server keeps one envelope per (robot, seq) however often it
arrives, and applies them in that order.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from agent import AgentError

Kind = Literal["state", "journal", "observation", "photo", "ack"]
KINDS: tuple[Kind, ...] = ("state", "journal", "observation", "photo", "ack")
"""`ack`: the robot's answer to one of the server's commands (`agent.commands`)."""
TOPIC_ROOT = "potager"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)


class Envelope(BaseModel):
    """One recorded fact of one robot, as it travels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: str = Field(pattern=NAME_PATTERN)
    robot_id: str = Field(pattern=NAME_PATTERN)
    seq: int = Field(ge=1)
    kind: Kind
    recorded_at: AwareDatetime
    body: dict[str, Any]

    @property
    def topic(self) -> str:
        return topic_of(self.site, self.robot_id, self.kind)

    def payload(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


def topic_of(site: str, robot_id: str, kind: Kind) -> str:
    """The topic a robot publishes `kind` on."""
    return f"{robot_topics(site, robot_id)}/{kind}"


def robot_topics(site: str, robot_id: str) -> str:
    """The root of one robot's topics, `potager/<site>/<robot>`; names are checked so no
    topic wildcard or level separator can slip into one."""
    for what, name in (("site", site), ("robot", robot_id)):
        if not _NAME.match(name):
            raise AgentError(
                f"{what} name {name!r} must be 1-64 lower-case letters, digits, '-' or '_'"
            )
    return f"{TOPIC_ROOT}/{site}/{robot_id}"


def envelope_from(topic: str, payload: bytes) -> Envelope:
    """The envelope a message carries, refused unless it is well formed and published on
    its own robot's topic (a robot cannot speak for another)."""
    try:
        envelope = Envelope.model_validate_json(payload)
    except ValueError as error:
        raise AgentError(f"message on {topic!r} is not a valid envelope: {error}") from None
    if topic != envelope.topic:
        raise AgentError(f"message on {topic!r} claims to be from {envelope.topic!r}: refused")
    return envelope
