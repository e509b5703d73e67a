"""The server's inbox: every envelope robots sent, kept once per (robot, seq).

The broker may hand the same envelope over twice (a robot resends what it saw no
acknowledgement for); the unique key makes the second one a no-op, so what robots
recorded is counted exactly once. `received` reads a robot's envelopes in its own order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from agent.messages import Envelope
from potager.db import Base, UTCDateTime, run_in_transaction

_NAME = 64
_KIND = 16


class InboxRecord(Base):
    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("robot_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site: Mapped[str] = mapped_column(String(_NAME), index=True)
    robot_id: Mapped[str] = mapped_column(String(_NAME))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(_KIND))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Inbox:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def receive(self, envelope: Envelope, received_at: datetime) -> bool:
        """Keep `envelope`; False when this robot's envelope `seq` was already kept."""
        values = {
            "site": envelope.site,
            "robot_id": envelope.robot_id,
            "seq": envelope.seq,
            "kind": envelope.kind,
            "body": envelope.body,
            "recorded_at": envelope.recorded_at,
            "received_at": received_at,
        }

        def work(session: Session) -> bool:
            dialect = session.get_bind().dialect.name
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            statement = insert(InboxRecord).values(values).on_conflict_do_nothing()
            return session.execute(statement.returning(InboxRecord.id)).first() is not None

        return run_in_transaction(self._sessions, work)

    def received(self, robot_id: str) -> list[Envelope]:
        """The robot's envelopes kept so far, in its recording order."""

        def work(session: Session) -> list[Envelope]:
            rows = session.scalars(
                select(InboxRecord)
                .where(InboxRecord.robot_id == robot_id)
                .order_by(InboxRecord.seq)
            )
            return [Envelope.model_validate(row, from_attributes=True) for row in rows]

        return run_in_transaction(self._sessions, work, read_only=True)
