"""The robot's outbox: every fact to send, kept in the robot's own database until the
broker has acknowledged it.

Recording commits the envelope before anything is sent, so a network that is down for a
week, a broker restart or a power cut loses nothing: the forwarder sends what is not yet
acknowledged, oldest first, whenever it can. `seq` is the row's id, so it grows in the
order things were recorded. A row copied from one of the robot's own records (a journal
entry, an observation) names it by `source` and `source_id`, once only, which is how
`agent.relay` knows what it has copied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from agent.messages import Envelope, Kind, robot_topics
from potager.db import Base, UTCDateTime, run_in_transaction

_NAME = 64
_KIND = 16


class OutboxRecord(Base):
    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("robot_id", "source", "source_id"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(_NAME))
    robot_id: Mapped[str] = mapped_column(String(_NAME), index=True)
    kind: Mapped[str] = mapped_column(String(_KIND))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    source: Mapped[str | None] = mapped_column(String(_KIND), nullable=True)
    source_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Outbox:
    """One robot's outbox (`site`, `robot_id` as the broker knows them)."""

    def __init__(self, sessions: sessionmaker[Session], site: str, robot_id: str) -> None:
        robot_topics(site, robot_id)  # checks both names
        self._sessions, self.site, self.robot_id = sessions, site, robot_id

    def put(self, kind: Kind, body: dict[str, Any], recorded_at: datetime) -> Envelope:
        """Record a fact to send; committed before this returns."""

        return run_in_transaction(
            self._sessions, lambda session: self.record(session, kind, body, recorded_at)
        )

    def record(
        self,
        session: Session,
        kind: Kind,
        body: dict[str, Any],
        recorded_at: datetime,
        source: tuple[str, int] | None = None,
    ) -> Envelope:
        """`put`, inside the caller's transaction; `source` names the record it copies."""
        source_name, source_id = source if source is not None else (None, None)
        row = OutboxRecord(
            site=self.site,
            robot_id=self.robot_id,
            kind=kind,
            body=body,
            recorded_at=recorded_at,
            source=source_name,
            source_id=source_id,
        )
        session.add(row)
        session.flush()
        return _envelope(row)

    def last_copied(self, session: Session, source: str) -> int:
        """The id of the newest record of `source` copied into the outbox (0: none)."""
        return (
            session.scalar(
                select(func.max(OutboxRecord.source_id)).where(
                    OutboxRecord.robot_id == self.robot_id, OutboxRecord.source == source
                )
            )
            or 0
        )

    def pending(self, limit: int = 1000) -> list[Envelope]:
        """The oldest envelopes the broker has not acknowledged, in recording order."""

        def work(session: Session) -> list[Envelope]:
            rows = session.scalars(
                select(OutboxRecord)
                .where(OutboxRecord.robot_id == self.robot_id, OutboxRecord.delivered_at.is_(None))
                .order_by(OutboxRecord.seq)
                .limit(limit)
            )
            return [_envelope(row) for row in rows]

        return run_in_transaction(self._sessions, work, read_only=True)

    def delivered(self, seqs: list[int], at: datetime) -> None:
        """The broker acknowledged the envelopes `seqs`."""
        if not seqs:
            return

        def work(session: Session) -> None:
            session.execute(
                update(OutboxRecord)
                .where(OutboxRecord.seq.in_(seqs), OutboxRecord.robot_id == self.robot_id)
                .values(delivered_at=at)
            )

        run_in_transaction(self._sessions, work)

    def waiting(self) -> int:
        """How many envelopes wait for the broker."""

        def work(session: Session) -> int:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(OutboxRecord)
                    .where(
                        OutboxRecord.robot_id == self.robot_id, OutboxRecord.delivered_at.is_(None)
                    )
                )
                or 0
            )

        return run_in_transaction(self._sessions, work, read_only=True)


def _envelope(row: OutboxRecord) -> Envelope:
    return Envelope.model_validate(row, from_attributes=True)
