"""The server's inbox: every envelope robots sent, kept once per (robot, seq).

The broker may hand the same envelope over twice (a robot resends what it saw no
acknowledgement for); the unique key makes the second one a no-op, so what robots
recorded is counted exactly once. `received` reads a robot's envelopes in its own order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint, select, update
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
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    problem: Mapped[str | None] = mapped_column(Text)
    """why it could not be applied (kept, with the envelope, for a person to look at)"""


class Inbox:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def receive_many(self, envelopes: Sequence[Envelope], received_at: datetime) -> int:
        """Keep a batch in one transaction; how many were new."""
        rows = [
            {
                "site": envelope.site,
                "robot_id": envelope.robot_id,
                "seq": envelope.seq,
                "kind": envelope.kind,
                "body": envelope.body,
                "recorded_at": envelope.recorded_at,
                "received_at": received_at,
            }
            for envelope in envelopes
        ]

        def work(session: Session) -> int:
            dialect = session.get_bind().dialect.name
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            # many parameter sets, one statement: compiled once, sent in a few round trips
            statement = insert(InboxRecord).on_conflict_do_nothing().returning(InboxRecord.id)
            return len(session.scalars(statement, rows).all())

        return run_in_transaction(self._sessions, work) if rows else 0

    def unapplied(self, limit: int) -> list[tuple[int, Envelope]]:
        """Kept envelopes not yet applied, each robot's in its order, with their row ids."""

        def work(session: Session) -> list[tuple[int, Envelope]]:
            rows = session.scalars(
                select(InboxRecord)
                .where(InboxRecord.applied_at.is_(None))
                .order_by(InboxRecord.robot_id, InboxRecord.seq)
                .limit(limit)
            )
            return [(row.id, _envelope(row)) for row in rows]

        return run_in_transaction(self._sessions, work, read_only=True)

    def mark_applied(self, problems: Mapping[int, str | None], at: datetime) -> None:
        """Row id -> why it could not be applied (None: applied)."""

        def work(session: Session) -> None:
            fine = [row_id for row_id, problem in problems.items() if problem is None]
            if fine:
                session.execute(
                    update(InboxRecord).where(InboxRecord.id.in_(fine)).values(applied_at=at)
                )
            for row_id, problem in problems.items():
                if problem is not None:
                    session.execute(
                        update(InboxRecord)
                        .where(InboxRecord.id == row_id)
                        .values(applied_at=at, problem=problem)
                    )

        run_in_transaction(self._sessions, work)

    def problems(self, robot_id: str | None = None) -> list[tuple[Envelope, str]]:
        """The envelopes (of one robot, or all) that could not be applied, and why."""

        def work(session: Session) -> list[tuple[Envelope, str]]:
            query = select(InboxRecord).where(InboxRecord.problem.is_not(None))
            if robot_id is not None:
                query = query.where(InboxRecord.robot_id == robot_id)
            rows = session.scalars(query.order_by(InboxRecord.robot_id, InboxRecord.seq))
            return [(_envelope(row), str(row.problem)) for row in rows]

        return run_in_transaction(self._sessions, work, read_only=True)

    def latest(self, per_robot: int) -> list[Envelope]:
        """Each robot's newest `per_robot` applied envelopes and its newest applied state,
        oldest first: what a restarted server shows the robots with again (the applier
        then applies the rest)."""

        def work(session: Session) -> list[Envelope]:
            found: list[Envelope] = []
            for robot_id in session.scalars(select(InboxRecord.robot_id).distinct()):
                mine = select(InboxRecord).where(
                    InboxRecord.robot_id == robot_id, InboxRecord.applied_at.is_not(None)
                )
                newest = session.scalars(mine.order_by(InboxRecord.seq.desc()).limit(per_robot))
                state = session.scalars(
                    mine.where(InboxRecord.kind == "state")
                    .order_by(InboxRecord.seq.desc())
                    .limit(1)
                )
                rows = {row.seq: row for row in [*newest, *state]}
                found += [_envelope(rows[seq]) for seq in sorted(rows)]
            return found

        return run_in_transaction(self._sessions, work, read_only=True)

    def received(self, robot_id: str) -> list[Envelope]:
        """The robot's envelopes kept so far, in its recording order."""

        def work(session: Session) -> list[Envelope]:
            rows = session.scalars(
                select(InboxRecord)
                .where(InboxRecord.robot_id == robot_id)
                .order_by(InboxRecord.seq)
            )
            return [_envelope(row) for row in rows]

        return run_in_transaction(self._sessions, work, read_only=True)


def _envelope(row: InboxRecord) -> Envelope:
    return Envelope.model_validate(row, from_attributes=True)
