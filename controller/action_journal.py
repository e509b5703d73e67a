"""The robot's action journal: every action a job did, durable before the next one starts.

A job run (`job_runs`) is opened when a job starts and closed with its outcome; each action
`controller.jobs.run_plan` reports becomes one row of `actions`, committed in its own
transaction, so after a power cut the journal says what was done to the millilitre. The
journal never loses and never doubles an action:

- `(run_id, step)` is unique in the database; recording the very same step again (a retry
  after a lost reply) is a no-op, recording different content for it is refused.
- The run's row is locked while an action is recorded or the run is finished, so no action
  slips into a run after its outcome is written.
- Runs left open by a crash are closed `interrupted` at startup (`interrupt_unfinished`),
  keeping the actions they recorded; nothing is replayed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from controller.jobs import Action
from controller.protocol import ControllerError
from controller.scheduler import Execution
from potager.db import Base, UTCDateTime, run_in_transaction

RunOutcome = Literal["done", "failed", "interrupted"]
RUN_OUTCOMES: tuple[RunOutcome, ...] = ("done", "failed", "interrupted")
RUNNING = "running"
"""The key of unfinished runs in `JournalSummary.runs_by_outcome`."""
_NAME = 120
_KIND = 24


class ActionJournalError(ControllerError):
    """A journal call that would lose, double or contradict a recorded action."""


# --- tables -----------------------------------------------------------------------------


class JobRun(Base):
    """One run of a job on a robot: open (no outcome) while it runs."""

    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint("outcome IN ('done', 'failed', 'interrupted')", name="outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    robot_id: Mapped[str] = mapped_column(String(_NAME), index=True)
    job: Mapped[str] = mapped_column(String(_NAME))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    execution_id: Mapped[int | None] = mapped_column(ForeignKey(Execution.id))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")


class ActionRecord(Base):
    """One action a run did, at the position it did it, with what it gave."""

    __tablename__ = "actions"
    # One row per step of a run: the database itself refuses a doubled action.
    __table_args__ = (UniqueConstraint("run_id", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey(JobRun.id))
    robot_id: Mapped[str] = mapped_column(String(_NAME), index=True)
    step: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(_KIND))
    task: Mapped[str | None] = mapped_column(String(_NAME))
    point_index: Mapped[int | None] = mapped_column(Integer)
    x_mm: Mapped[float] = mapped_column(Float)
    y_mm: Mapped[float] = mapped_column(Float)
    z_mm: Mapped[float] = mapped_column(Float)
    volume_ml: Mapped[float] = mapped_column(Float)
    tool: Mapped[str | None] = mapped_column(String(_NAME))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- views ------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRunView:
    """A run as the journal holds it; `outcome` is None while it runs."""

    id: int
    robot_id: str
    job: str
    params: dict[str, Any]
    execution_id: int | None
    started_at: datetime
    finished_at: datetime | None
    outcome: RunOutcome | None
    detail: str
    action_count: int
    water_ml: float


@dataclass(frozen=True)
class ActionView:
    """A recorded action; `action()` gives it back as `run_plan` reported it."""

    id: int
    run_id: int
    robot_id: str
    step: int
    kind: str
    task: str | None
    point_index: int | None
    x_mm: float
    y_mm: float
    z_mm: float
    volume_ml: float
    tool: str | None
    detail: str
    at: datetime

    def action(self) -> Action:
        return Action(
            self.step,
            self.kind,
            self.task,
            self.point_index,
            self.x_mm,
            self.y_mm,
            self.z_mm,
            self.volume_ml,
            self.tool,
            self.detail,
        )


@dataclass(frozen=True)
class JournalSummary:
    """What a robot did: actions per kind, water given (in all and per stop), runs."""

    actions_by_kind: dict[str, int]
    water_ml: float
    ml_by_point: dict[tuple[str | None, int | None], float]
    """millilitres per (task, point_index)"""
    weeds_struck: int
    photos: int
    runs_by_outcome: dict[str, int]
    """per outcome, with unfinished runs under `RUNNING`"""


# --- the journal ------------------------------------------------------------------------


class ActionJournal:
    """Runs and their actions; every method is one transaction, retried on contention."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def start_run(
        self,
        robot_id: str,
        job: str,
        params: Mapping[str, Any],
        now: datetime,
        execution_id: int | None = None,
    ) -> int:
        """Open a run of `job`; `execution_id` links it to the schedule execution it serves."""

        def work(session: Session) -> int:
            row = JobRun(
                robot_id=robot_id,
                job=job,
                params=dict(params),
                execution_id=execution_id,
                started_at=now,
                detail="",
            )
            session.add(row)
            session.flush()
            return row.id

        return run_in_transaction(self._sessions, work)

    def record(self, run_id: int, action: Action, now: datetime) -> None:
        """Commit `action` now; the same step again is a no-op if identical, else refused."""
        self.record_all(run_id, [(action, now)])

    def record_all(self, run_id: int, actions: Sequence[tuple[Action, datetime]]) -> None:
        """Commit several actions, each with its time, in one transaction, each checked as
        `record` checks it: for a simulation, where no power cut can fall between two."""

        def work(session: Session) -> None:
            _record_new(session, _locked_run(session, run_id), actions)

        run_in_transaction(self._sessions, work)

    def finish_run(self, run_id: int, outcome: RunOutcome, now: datetime, detail: str = "") -> None:
        """Close the run with its outcome; a run is finished once."""
        if outcome not in RUN_OUTCOMES:
            raise ActionJournalError(f"outcome must be one of {RUN_OUTCOMES}, got {outcome!r}")

        def work(session: Session) -> None:
            run = _locked_run(session, run_id)
            if run.outcome is not None:
                raise ActionJournalError(
                    f"run {run_id} ({run.job!r}) is already {run.outcome}; "
                    f"it cannot also be {outcome}"
                )
            run.outcome, run.finished_at, run.detail = outcome, now, detail

        run_in_transaction(self._sessions, work)

    def interrupt_unfinished(self, robot_id: str, now: datetime) -> list[JobRunView]:
        """Close the robot's runs a crash left open as `interrupted`; call at startup."""

        def work(session: Session) -> list[JobRunView]:
            rows = session.scalars(
                select(JobRun)
                .where(JobRun.robot_id == robot_id, JobRun.outcome.is_(None))
                .order_by(JobRun.id)
                .with_for_update()
            ).all()
            totals = _totals(session, ActionRecord.run_id.in_([row.id for row in rows]))
            for row in rows:
                count, water_ml = totals.get(row.id, (0, 0.0))
                row.outcome, row.finished_at = "interrupted", now
                row.detail = (
                    f"the controller stopped before the job finished (power loss or crash) "
                    f"after {count} recorded actions, {water_ml:g} ml of water given"
                )
            return [_run_view(row, totals) for row in rows]

        return run_in_transaction(self._sessions, work)

    def runs(self, robot_id: str) -> list[JobRunView]:
        """The robot's runs, oldest first."""

        def work(session: Session) -> list[JobRunView]:
            rows = session.scalars(
                select(JobRun).where(JobRun.robot_id == robot_id).order_by(JobRun.id)
            ).all()
            totals = _totals(session, ActionRecord.robot_id == robot_id)
            return [_run_view(row, totals) for row in rows]

        return run_in_transaction(self._sessions, work, read_only=True)

    def actions(self, run_id: int | None = None, robot_id: str | None = None) -> list[ActionView]:
        """Recorded actions, of one run and/or one robot, run by run in step order."""

        def work(session: Session) -> list[ActionView]:
            # Columns, not entities: a season's report reads tens of thousands of actions,
            # and building mapped objects for them cost ten times the query.
            query = select(*_VIEW_COLUMNS).order_by(ActionRecord.run_id, ActionRecord.step)
            if run_id is not None:
                query = query.where(ActionRecord.run_id == run_id)
            if robot_id is not None:
                query = query.where(ActionRecord.robot_id == robot_id)
            return [ActionView(*row) for row in session.execute(query)]

        return run_in_transaction(self._sessions, work, read_only=True)

    def last_action(self, robot_id: str) -> ActionView | None:
        """The robot's latest recorded action: after a restart, where it was and which
        tool hung from it when the journal last heard of it."""

        def work(session: Session) -> ActionView | None:
            query = (
                select(ActionRecord)
                .where(ActionRecord.robot_id == robot_id)
                .order_by(ActionRecord.run_id.desc(), ActionRecord.step.desc())
                .limit(1)
            )
            row = session.scalars(query).first()
            return None if row is None else _view(row)

        return run_in_transaction(self._sessions, work, read_only=True)

    def summary(self, robot_id: str, since: datetime | None = None) -> JournalSummary:
        """What the robot did (actions done and runs started at or after `since`)."""

        def work(session: Session) -> JournalSummary:
            actions = select(ActionRecord).where(ActionRecord.robot_id == robot_id)
            runs = select(JobRun.outcome).where(JobRun.robot_id == robot_id)
            if since is not None:
                actions = actions.where(ActionRecord.at >= since)
                runs = runs.where(JobRun.started_at >= since)
            return _summary(list(session.scalars(actions)), list(session.scalars(runs)))

        return run_in_transaction(self._sessions, work, read_only=True)

    def listener(self, run_id: int, clock_now: Callable[[], datetime]) -> Callable[[Action], None]:
        """An `on_action` for `run_plan` recording each action into `run_id` as it is done."""

        def on_action(action: Action) -> None:
            self.record(run_id, action, clock_now())

        return on_action


# --- helpers ----------------------------------------------------------------------------


def _locked_run(session: Session, run_id: int) -> JobRun:
    run = session.get(JobRun, run_id, with_for_update=True)
    if run is None:
        raise ActionJournalError(f"there is no job run {run_id}; start_run gives the id")
    return run


def _record_new(session: Session, run: JobRun, actions: Sequence[tuple[Action, datetime]]) -> None:
    """Insert the actions whose steps are not recorded yet; an identical step again is a
    no-op, a different one refused."""
    if actions and run.outcome is not None:
        raise ActionJournalError(
            f"run {run.id} ({run.job!r}) is already {run.outcome}: step {actions[0][0].step} "
            "cannot be recorded into it; start a new run"
        )
    steps = [action.step for action, _ in actions]
    kept = {
        row.step: _view(row).action()
        for row in session.scalars(
            select(ActionRecord).where(ActionRecord.run_id == run.id, ActionRecord.step.in_(steps))
        )
    }
    rows = []
    for action, now in actions:
        known = kept.get(action.step)
        if known is None:
            kept[action.step] = action
            rows.append(_row(run, action, now))
        elif known != action:
            raise ActionJournalError(
                f"run {run.id} step {action.step} is already recorded as "
                f"{_describe(known)}, not {_describe(action)}: a step is recorded once"
            )
    if rows:  # one executemany: a simulated season records thousands of actions a job
        session.execute(insert(_ACTIONS_TABLE), rows)  # core: no ORM bookkeeping


_ACTIONS_TABLE = Base.metadata.tables[ActionRecord.__tablename__]
_VIEW_COLUMNS = tuple(getattr(ActionRecord, field.name) for field in fields(ActionView))


def _row(run: JobRun, action: Action, now: datetime) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "robot_id": run.robot_id,
        "step": action.step,
        "kind": action.kind,
        "task": action.task,
        "point_index": action.point_index,
        "x_mm": action.x_mm,
        "y_mm": action.y_mm,
        "z_mm": action.z_mm,
        "volume_ml": action.volume_ml,
        "tool": action.tool,
        "detail": action.detail,
        "at": now,
    }


def _describe(action: Action) -> str:
    where = f"({action.x_mm:g}, {action.y_mm:g}, {action.z_mm:g}) mm"
    what = f"{action.kind} of task {action.task!r} point {action.point_index} at {where}"
    extras = [f"{action.volume_ml:g} ml"] if action.volume_ml else []
    extras += [f"tool {action.tool}"] if action.tool else []
    extras += [repr(action.detail)] if action.detail else []
    return ", ".join([what, *extras])


def _totals(session: Session, which: ColumnElement[bool]) -> dict[int, tuple[int, float]]:
    """Per run of the actions `which` selects: how many it recorded, the water they gave."""
    water = func.coalesce(func.sum(ActionRecord.volume_ml), 0.0)
    rows = session.execute(
        select(ActionRecord.run_id, func.count(ActionRecord.id), water)
        .where(which)
        .group_by(ActionRecord.run_id)
    )
    return {run_id: (count, float(ml)) for run_id, count, ml in rows}


def _summary(actions: list[ActionRecord], outcomes: list[str | None]) -> JournalSummary:
    ml_by_point: defaultdict[tuple[str | None, int | None], float] = defaultdict(float)
    for row in actions:
        if row.volume_ml:
            ml_by_point[(row.task, row.point_index)] += row.volume_ml
    kinds = Counter(row.kind for row in actions)
    return JournalSummary(
        actions_by_kind=dict(kinds),
        water_ml=sum(row.volume_ml for row in actions),
        ml_by_point=dict(ml_by_point),
        weeds_struck=kinds["weed"],
        photos=kinds["photograph"],
        runs_by_outcome=dict(Counter(outcome or RUNNING for outcome in outcomes)),
    )


def _run_view(row: JobRun, totals: Mapping[int, tuple[int, float]]) -> JobRunView:
    count, water_ml = totals.get(row.id, (0, 0.0))
    return JobRunView(
        id=row.id,
        robot_id=row.robot_id,
        job=row.job,
        params=row.params,
        execution_id=row.execution_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        outcome=next((known for known in RUN_OUTCOMES if known == row.outcome), None),
        detail=row.detail,
        action_count=count,
        water_ml=water_ml,
    )


def _view(row: ActionRecord) -> ActionView:
    return ActionView(
        id=row.id,
        run_id=row.run_id,
        robot_id=row.robot_id,
        step=row.step,
        kind=row.kind,
        task=row.task,
        point_index=row.point_index,
        x_mm=row.x_mm,
        y_mm=row.y_mm,
        z_mm=row.z_mm,
        volume_ml=row.volume_ml,
        tool=row.tool,
        detail=row.detail,
        at=row.at,
    )
