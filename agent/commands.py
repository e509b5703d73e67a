"""The server's commands to a robot: each run once, each answered, e-stop before anything.

Commands come on `potager/<site>/<robot>/commands` (QoS 1, a persistent session: what is
sent while the robot is offline waits at the broker). An e-stop runs at once, on the
network's own thread, whatever the robot is doing; the others run one at a time in the
order they came, on a worker, so a long sequence never holds up the next e-stop. Every
command is logged by its id in the robot's database before it runs, so one that comes
twice (a resend after a lost acknowledgement) runs once; each gets an `ack` envelope in the
outbox with its outcome, and a repeat gets the first answer again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import String, Text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from agent.messages import robot_topics
from agent.outbox import Outbox
from potager.db import Base, UTCDateTime, run_in_transaction
from potager.errors import PotagerError

log = logging.getLogger(__name__)

CommandKind = Literal["estop", "pause", "resume", "unlock", "run_sequence"]
Outcome = Literal["done", "failed", "refused"]
Handler = Callable[[dict[str, Any]], str]
"""Carries a command out and says what it did; raises PotagerError when it cannot."""


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    kind: CommandKind
    args: dict[str, Any] = Field(default_factory=dict)
    issued_at: AwareDatetime


def command_topic(site: str, robot_id: str) -> str:
    """Where the server sends `robot_id`'s commands."""
    return f"{robot_topics(site, robot_id)}/commands"


class CommandRecord(Base):
    __tablename__ = "agent_commands"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class CommandDesk:
    """Takes the robot's commands off the network, runs and answers them."""

    def __init__(
        self,
        outbox: Outbox,
        sessions: sessionmaker[Session],
        handlers: Mapping[CommandKind, Handler],
        now: Callable[[], datetime],
    ) -> None:
        self.outbox, self._sessions, self._handlers, self._now = outbox, sessions, handlers, now
        self.topic = command_topic(outbox.site, outbox.robot_id)
        self._queue: queue.Queue[Command | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="commands", daemon=True)

    def start(self) -> CommandDesk:
        self._worker.start()
        return self

    def stop(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=30)

    def receive(self, payload: bytes) -> None:
        """A command's bytes, as the network hands them over (on its own thread)."""
        try:
            command = Command.model_validate_json(payload)
        except ValidationError as error:
            log.warning("ignored a malformed command on %s: %s", self.topic, error)
            return
        first = self._log(command)
        if first is not None:
            self._answer(command, first[0], first[1], repeat=True)
        elif command.kind == "estop":
            self._run(command)  # now, on this thread: nothing queued can delay it
        else:
            self._queue.put(command)

    def _work(self) -> None:
        while (command := self._queue.get()) is not None:
            self._run(command)

    def _run(self, command: Command) -> None:
        handler = self._handlers.get(command.kind)
        if handler is None:
            outcome: Outcome = "refused"
            detail = f"this robot does not take {command.kind!r} commands"
        else:
            try:
                outcome, detail = "done", handler(command.args)
            except PotagerError as error:
                outcome, detail = "failed", str(error)
            except Exception as error:  # still answered: the server must not wait for ever
                log.exception("command %s (%s) failed", command.id, command.kind)
                outcome, detail = "failed", f"{type(error).__name__}: {error}"
        self._close(command, outcome, detail)
        self._answer(command, outcome, detail, repeat=False)

    def _log(self, command: Command) -> tuple[Outcome, str] | None:
        """Log a new command; for one already logged, its first answer (None: new)."""

        def work(session: Session) -> tuple[Outcome, str] | None:
            known = session.get(CommandRecord, command.id)
            if known is not None and known.outcome is None:
                return "refused", "it came again while still being carried out"
            if known is not None:
                return _outcome(known.outcome), known.detail
            session.add(CommandRecord(id=command.id, kind=command.kind, received_at=self._now()))
            return None

        try:
            return run_in_transaction(self._sessions, work)
        except IntegrityError:  # the same command on two threads at once: the other runs it
            return "refused", "already being carried out"

    def _close(self, command: Command, outcome: Outcome, detail: str) -> None:
        def work(session: Session) -> None:
            record = session.get(CommandRecord, command.id)
            if record is not None:
                record.outcome, record.detail = outcome, detail

        run_in_transaction(self._sessions, work)

    def _answer(self, command: Command, outcome: Outcome, detail: str, repeat: bool) -> None:
        body = {
            "command_id": command.id,
            "kind": command.kind,
            "outcome": outcome,
            "detail": detail,
            "repeat": repeat,
        }
        self.outbox.put("ack", body, self._now())


def _outcome(stored: str | None) -> Outcome:
    """A logged command's outcome, as the type that only ever gets written."""
    return "done" if stored == "done" else "failed" if stored == "failed" else "refused"
