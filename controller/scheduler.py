"""Runs a robot's schedules unattended, persistently and restart-safe.

`ScheduleStore` keeps the schedules and the journal of every execution in the database;
`Scheduler` decides, on each pass, what is due (`controller.schedule_rules` says when
events fall) and runs it through the `run_job` callable it was given.

The policy, chosen so that a robot never waters twice and never floods a bed after an
outage:

- Each schedule keeps a cursor, the last occurrence already dealt with. It moves in the same
  transaction that journals the start of a run (or a skip), and the journal refuses a second
  row for one occurrence, so a finished run is never repeated, restart or not.
- An execution that started and never finished (power loss, crash) is marked `interrupted`
  when the next scheduler for the robot starts, keeping the progress the job reported, and
  is not run again: half a watering plus a whole one is worse than half. `make_safe` runs
  and `alert` says so, for a person to decide.
- Missed occurrences: the latest one still runs if it is late by at most the schedule's
  `grace_s`; every other missed occurrence gets its own `skipped_late` record (so a
  dashboard shows which days went unwatered), at most one run per schedule per catch-up,
  never a burst. Past `MAX_SKIP_RECORDS` in one catch-up, the oldest are summarised in one
  record, so a minutely schedule after a month off does not write forty thousand rows.
- One job at a time per robot: jobs run in this thread, one after the other. Run one
  scheduler per robot.
- An emergency stop pauses the scheduler until `resume()` (call it after the gantry's
  `unlock()`); a job raising `EmergencyStopError` is journalled `interrupted` and pauses it.
  `make_safe` is not called then: the firmware has already released every output and
  refuses commands until unlocked.
  Occurrences falling during the pause follow the missed-run policy on resume.
  The pause is stored: a restarted scheduler stays paused; `watch(gantry)` hears the button.
- A job raising anything else is journalled `failed`, `make_safe()` closes valves and parks
  the tool, and `alert` tells someone.

Wall time is `epoch + clock.now_s()`: a `VirtualClock` lets a simulation jump straight from
one due instant to the next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import TypeAdapter
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from controller.gantry import EmergencyStopError, Gantry
from controller.protocol import ControllerError
from controller.schedule_rules import EventRule, Occurrence, RegimenRule, Rule, next_occurrence
from controller.schedule_rules import occurrences as rule_occurrences
from potager.clock import Clock
from potager.db import Base, UTCDateTime, run_in_transaction, utc_now

log = logging.getLogger(__name__)

Outcome = Literal["done", "failed", "interrupted", "skipped_late"]
OUTCOMES: tuple[Outcome, ...] = ("done", "failed", "interrupted", "skipped_late")
MAX_SKIP_RECORDS = 500
_NAME = 120
_RULE = TypeAdapter[EventRule | RegimenRule](Rule)


class SchedulerError(ControllerError):
    """A schedule or a scheduler call that cannot be honoured."""


# --- tables -----------------------------------------------------------------------------


class Schedule(Base):
    """A robot's schedule: its rule (JSON), grace and cursor (last occurrence handled)."""

    __tablename__ = "schedules"
    __table_args__ = (
        UniqueConstraint("robot_id", "name"),
        CheckConstraint("grace_s >= 0", name="grace_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    robot_id: Mapped[str] = mapped_column(String(_NAME), index=True)
    name: Mapped[str] = mapped_column(String(_NAME))
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    grace_s: Mapped[float] = mapped_column(Float)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    cursor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cursor_item: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class Execution(Base):
    """One journal entry: an occurrence run, running (no outcome yet) or skipped."""

    __tablename__ = "schedule_executions"
    __table_args__ = (
        # One row per occurrence: the database itself refuses a second run.
        UniqueConstraint("schedule_id", "scheduled_at", "item"),
        CheckConstraint(
            "outcome IN ('done', 'failed', 'interrupted', 'skipped_late')", name="outcome"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id"), index=True)
    robot_id: Mapped[str] = mapped_column(String(_NAME), index=True)
    item: Mapped[int] = mapped_column(Integer)
    job: Mapped[str] = mapped_column(String(_NAME))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RobotPause(Base):
    """A robot's scheduler is paused (e-stop, operator) until resumed; one row per robot."""

    __tablename__ = "robot_pauses"

    robot_id: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime] = mapped_column(UTCDateTime)


# --- repository -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleView:
    """A schedule as the runner sees it."""

    id: int
    name: str
    rule: EventRule | RegimenRule
    grace_s: float
    cursor: tuple[datetime, int] | None
    enabled: bool = True


@dataclass(frozen=True)
class ExecutionView:
    """A journal entry; `outcome` is None while the job runs."""

    id: int
    schedule_id: int
    item: int
    job: str
    params: dict[str, Any]
    scheduled_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    outcome: Outcome | None
    detail: str
    progress: dict[str, Any]


class ScheduleStore:
    """Schedules and their journal; every method is one transaction, retried on contention."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, robot_id: str, name: str, rule: EventRule | RegimenRule, grace_s: float) -> int:
        """A new schedule for `robot_id`; its past occurrences count as missed."""
        if grace_s < 0:
            raise SchedulerError(f"grace_s must be 0 or more seconds, got {grace_s}")

        def work(session: Session) -> int:
            taken = select(Schedule.id).where(Schedule.robot_id == robot_id, Schedule.name == name)
            if session.scalar(taken) is not None:
                raise SchedulerError(f"robot {robot_id!r} already has a schedule named {name!r}")
            row = Schedule(
                robot_id=robot_id, name=name, rule=rule.model_dump(mode="json"), grace_s=grace_s
            )
            session.add(row)
            session.flush()
            return row.id

        return run_in_transaction(self._sessions, work)

    def put(self, robot_id: str, name: str, rule: EventRule | RegimenRule, grace_s: float) -> int:
        """Add the schedule, or change its rule and grace keeping its cursor (so what already
        ran or was skipped stays done), and enable it; its id."""
        if grace_s < 0:
            raise SchedulerError(f"grace_s must be 0 or more seconds, got {grace_s}")

        def work(session: Session) -> int:
            taken = select(Schedule).where(Schedule.robot_id == robot_id, Schedule.name == name)
            row = session.scalars(taken.with_for_update()).first()
            if row is None:
                row = Schedule(robot_id=robot_id, name=name)
                session.add(row)
            row.rule, row.grace_s, row.enabled = rule.model_dump(mode="json"), grace_s, True
            session.flush()
            return row.id

        return run_in_transaction(self._sessions, work)

    def retire_except(self, robot_id: str, names: Sequence[str]) -> list[str]:
        """Disable the robot's schedules not named in `names` (kept, with their journal, for
        the record); the names disabled."""

        def work(session: Session) -> list[str]:
            rows = session.scalars(
                select(Schedule).where(
                    Schedule.robot_id == robot_id, Schedule.enabled, Schedule.name.not_in(names)
                )
            ).all()
            for row in rows:
                row.enabled = False
            return sorted(row.name for row in rows)

        return run_in_transaction(self._sessions, work)

    def schedules(self, robot_id: str, *, disabled_too: bool = False) -> list[ScheduleView]:
        """The robot's enabled schedules (and the disabled ones, if asked)."""

        def work(session: Session) -> list[ScheduleView]:
            query = select(Schedule).where(Schedule.robot_id == robot_id).order_by(Schedule.id)
            if not disabled_too:
                query = query.where(Schedule.enabled)
            return [_schedule_view(row) for row in session.scalars(query)]

        return run_in_transaction(self._sessions, work, read_only=True)

    def robot_ids(self) -> list[str]:
        """Every robot that has schedules."""

        def work(session: Session) -> list[str]:
            return list(
                session.scalars(select(Schedule.robot_id).distinct().order_by(Schedule.robot_id))
            )

        return run_in_transaction(self._sessions, work, read_only=True)

    def set_enabled(self, robot_id: str, schedule_id: int, enabled: bool) -> None:
        """Switch one schedule on or off; switched back on, what fell meanwhile follows the
        missed-run policy."""

        def work(session: Session) -> None:
            row = session.get(Schedule, schedule_id)
            if row is None or row.robot_id != robot_id:
                raise SchedulerError(f"robot {robot_id!r} has no schedule {schedule_id}")
            row.enabled = enabled

        run_in_transaction(self._sessions, work)

    def journal(self, robot_id: str) -> list[ExecutionView]:
        """Every execution of the robot, oldest occurrence first."""

        def work(session: Session) -> list[ExecutionView]:
            rows = session.scalars(
                select(Execution)
                .where(Execution.robot_id == robot_id)
                .order_by(Execution.scheduled_at, Execution.item, Execution.id)
            )
            return [_execution_view(row) for row in rows]

        return run_in_transaction(self._sessions, work, read_only=True)

    def interrupt_unfinished(self, robot_id: str, now: datetime) -> list[ExecutionView]:
        """Mark the robot's runs that never finished `interrupted`; they are not run again."""

        def work(session: Session) -> list[ExecutionView]:
            rows = session.scalars(
                select(Execution).where(Execution.robot_id == robot_id, Execution.outcome.is_(None))
            ).all()
            for row in rows:
                row.outcome, row.finished_at = "interrupted", now
                row.detail = "the scheduler stopped before the job finished (power loss or crash)"
            return [_execution_view(row) for row in rows]

        return run_in_transaction(self._sessions, work)

    def start(self, schedule_id: int, occurrence: Occurrence, now: datetime) -> int:
        """Journal the start of `occurrence` and move the cursor past it, atomically."""

        def work(session: Session) -> int:
            schedule = _locked_schedule(session, schedule_id, occurrence)
            row = _execution(schedule, occurrence, started_at=now)
            session.add(row)
            session.flush()
            return row.id

        return run_in_transaction(self._sessions, work)

    def skip(self, schedule_id: int, missed: Sequence[Occurrence], now: datetime) -> None:
        """Journal `missed` as skipped_late (the oldest summarised past MAX_SKIP_RECORDS)."""
        if not missed:
            return

        def work(session: Session) -> None:
            schedule = _locked_schedule(session, schedule_id, missed[-1])
            for occurrence, detail in _skip_details(missed):
                row = _execution(schedule, occurrence, started_at=None)
                row.outcome, row.finished_at, row.detail = "skipped_late", now, detail
                session.add(row)

        run_in_transaction(self._sessions, work)

    def report_progress(self, execution_id: int, values: Mapping[str, Any]) -> None:
        """Merge `values` into the execution's progress, committed at once."""

        def work(session: Session) -> None:
            row = session.get_one(Execution, execution_id, with_for_update=True)
            row.progress = {**row.progress, **values}

        run_in_transaction(self._sessions, work)

    def set_pause(self, robot_id: str, reason: str, now: datetime) -> None:
        """Pause the robot's scheduler, restarts included, until `clear_pause`."""

        def work(session: Session) -> None:
            row = session.get(RobotPause, robot_id, with_for_update=True)
            if row is None:
                session.add(RobotPause(robot_id=robot_id, reason=reason, since=now))
            else:
                row.reason, row.since = reason, now

        try:
            run_in_transaction(self._sessions, work)
        except IntegrityError:  # a pause from another thread inserted the row first
            run_in_transaction(self._sessions, work)

    def clear_pause(self, robot_id: str) -> None:
        """Lift the robot's pause (nothing happens if it was not paused)."""

        def work(session: Session) -> None:
            row = session.get(RobotPause, robot_id, with_for_update=True)
            if row is not None:
                session.delete(row)

        run_in_transaction(self._sessions, work)

    def pause_reason(self, robot_id: str) -> str | None:
        """Why the robot's scheduler is paused, or None when it is not."""

        def work(session: Session) -> str | None:
            return session.scalar(select(RobotPause.reason).where(RobotPause.robot_id == robot_id))

        return run_in_transaction(self._sessions, work, read_only=True)

    def finish(
        self,
        execution_id: int,
        outcome: Outcome,
        now: datetime,
        detail: str = "",
        result: Mapping[str, Any] | None = None,
    ) -> None:
        """Close a running execution with its outcome; `result` joins its progress."""

        def work(session: Session) -> None:
            row = session.get_one(Execution, execution_id, with_for_update=True)
            row.outcome, row.finished_at, row.detail = outcome, now, detail
            row.progress = {**row.progress, **(result or {})}

        run_in_transaction(self._sessions, work)


def _locked_schedule(session: Session, schedule_id: int, last: Occurrence) -> Schedule:
    schedule = session.get_one(Schedule, schedule_id, with_for_update=True)
    cursor = None if schedule.cursor_at is None else (schedule.cursor_at, schedule.cursor_item)
    if cursor is not None and last.position <= cursor:
        raise SchedulerError(
            f"schedule {schedule.name!r}: the occurrence at {last.at.isoformat()} is already "
            "handled; a second scheduler is probably running for this robot"
        )
    schedule.cursor_at, schedule.cursor_item = last.at, last.item
    return schedule


def _execution(
    schedule: Schedule, occurrence: Occurrence, started_at: datetime | None
) -> Execution:
    return Execution(
        schedule_id=schedule.id,
        robot_id=schedule.robot_id,
        item=occurrence.item,
        job=occurrence.job,
        params=occurrence.params,
        scheduled_at=occurrence.at,
        started_at=started_at,
        detail="",
        progress={},
    )


def _skip_details(missed: Sequence[Occurrence]) -> list[tuple[Occurrence, str]]:
    kept = list(missed[-(MAX_SKIP_RECORDS - 1) :]) if len(missed) > MAX_SKIP_RECORDS else []
    if not kept:
        return [(occurrence, "late beyond the grace period") for occurrence in missed]
    summarised = missed[: len(missed) - len(kept)]
    summary = (
        f"{len(summarised)} occurrences from {summarised[0].at.isoformat()} to "
        f"{summarised[-1].at.isoformat()} were missed; only this first one is recorded"
    )
    return [(summarised[0], summary)] + [(o, "late beyond the grace period") for o in kept]


def _schedule_view(row: Schedule) -> ScheduleView:
    cursor = None
    if row.cursor_at is not None and row.cursor_item is not None:
        cursor = (row.cursor_at, row.cursor_item)
    return ScheduleView(
        id=row.id,
        name=row.name,
        rule=_RULE.validate_python(row.rule),
        grace_s=row.grace_s,
        cursor=cursor,
        enabled=row.enabled,
    )


def _execution_view(row: Execution) -> ExecutionView:
    outcome = next((known for known in OUTCOMES if known == row.outcome), None)
    return ExecutionView(
        id=row.id,
        schedule_id=row.schedule_id,
        item=row.item,
        job=row.job,
        params=row.params,
        scheduled_at=row.scheduled_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        outcome=outcome,
        detail=row.detail,
        progress=row.progress,
    )


# --- runner -----------------------------------------------------------------------------


@dataclass(frozen=True)
class JobContext:
    """What a running job may know and do: report progress before each risky step."""

    execution_id: int
    schedule_name: str
    scheduled_at: datetime
    clock: Clock
    _store: ScheduleStore

    def report_progress(self, **values: Any) -> None:
        """Write progress (e.g. `given_ml=120`) to the journal now, so it survives a crash."""
        self._store.report_progress(self.execution_id, values)


class RunJob(Protocol):
    """Runs one job; returns result values for the journal (or None), raises on failure."""

    def __call__(
        self, name: str, params: Mapping[str, Any], context: JobContext
    ) -> Mapping[str, Any] | None: ...


class Scheduler:
    """The one runner of a robot's schedules; see the module docstring for the policy."""

    def __init__(
        self,
        store: ScheduleStore,
        clock: Clock,
        run_job: RunJob,
        robot_id: str,
        make_safe: Callable[[], None],
        alert: Callable[[str], None],
        epoch: datetime | None = None,
    ) -> None:
        """`epoch` is the UTC instant at which `clock.now_s()` reads 0 (default: now)."""
        self._store, self._clock, self._run_job = store, clock, run_job
        self.robot_id, self._make_safe, self._alert = robot_id, make_safe, alert
        self._epoch = epoch if epoch is not None else utc_now() - timedelta(seconds=clock.now_s())
        self._pause_reason = store.pause_reason(robot_id)
        self._recovered = False
        if self._pause_reason is not None:
            log.warning("scheduler of %s starts paused: %s", robot_id, self._pause_reason)

    @property
    def paused(self) -> bool:
        return self._pause_reason is not None

    @property
    def pause_reason(self) -> str | None:
        return self._pause_reason

    def pause(self, reason: str) -> None:
        """Run nothing until `resume()`, restarts included: call on emergency stop."""
        self._store.set_pause(self.robot_id, reason, self.now())
        self._pause_reason = reason
        log.warning("scheduler of %s paused: %s", self.robot_id, reason)

    def resume(self) -> None:
        """Run again; what fell during the pause follows the missed-run policy."""
        self._store.clear_pause(self.robot_id)
        self._pause_reason = None

    def watch(self, gantry: Gantry) -> None:
        """Pause whenever the robot's e-stop is pressed, between jobs as well as during one."""
        gantry.add_estop_listener(lambda: self.pause("emergency stop pressed on the robot"))

    def now(self) -> datetime:
        """Wall time in UTC, as the clock sees it."""
        return self._epoch + timedelta(seconds=self._clock.now_s())

    def next_due_at(self) -> datetime | None:
        """The earliest occurrence not yet handled, over all schedules (None: all ended)."""
        upcoming = [self._next(schedule) for schedule in self._store.schedules(self.robot_id)]
        return min((o.at for o in upcoming if o is not None), default=None)

    def run_pending(self) -> int:
        """One pass: handle every occurrence due now; how many jobs ran."""
        self._recover_once()
        ran = 0
        for schedule in self._by_next_due():
            if self.paused:
                break
            ran += self._catch_up(schedule)
        return ran

    def run_until(self, until: datetime) -> int:
        """Run everything due up to `until`, sleeping on the clock between due instants.

        With a `VirtualClock` the sleeps are jumps, so a season simulates in moments.
        """
        ran = self.run_pending()
        while not self.paused:
            due = self.next_due_at()
            if due is None or due > until:
                break
            self._sleep_until(due)
            ran += self.run_pending()
        self._sleep_until(until)
        return ran

    # -- internals -------------------------------------------------------------------

    def _next(self, schedule: ScheduleView) -> Occurrence | None:
        return next_occurrence(schedule.rule, schedule.cursor)

    def _by_next_due(self) -> list[ScheduleView]:
        due = [(o, s) for s in self._store.schedules(self.robot_id) if (o := self._next(s))]
        return [s for _, s in sorted(due, key=lambda pair: pair[0].position)]

    def _sleep_until(self, instant: datetime) -> None:
        wait_s = (instant - self.now()).total_seconds()
        if wait_s > 0:
            self._clock.sleep(wait_s)

    def _recover_once(self) -> None:
        if self._recovered:
            return
        self._recovered = True
        interrupted = self._store.interrupt_unfinished(self.robot_id, self.now())
        if interrupted:
            self._safe()
        for execution in interrupted:
            self._alert(
                f"robot {self.robot_id}: job {execution.job!r} scheduled at "
                f"{execution.scheduled_at.isoformat()} was interrupted (progress "
                f"{execution.progress}); it will not be repeated, check the bed"
            )

    def _catch_up(self, schedule: ScheduleView) -> int:
        """Skip what is too late, run the latest due occurrence if within grace."""
        now = self.now()
        due = list(rule_occurrences(schedule.rule, schedule.cursor, now))
        if not due:
            return 0
        latest = due[-1]
        on_time = (now - latest.at).total_seconds() <= schedule.grace_s
        missed = due[:-1] if on_time else due
        self._store.skip(schedule.id, missed, now)
        if not on_time:
            return 0
        self._execute(schedule, latest)
        return 1

    def _execute(self, schedule: ScheduleView, occurrence: Occurrence) -> None:
        execution_id = self._store.start(schedule.id, occurrence, self.now())
        context = JobContext(execution_id, schedule.name, occurrence.at, self._clock, self._store)
        try:
            result = self._run_job(occurrence.job, occurrence.params, context)
        except EmergencyStopError as error:
            self.pause(f"emergency stop during {occurrence.job!r}")
            self._store.finish(execution_id, "interrupted", self.now(), f"emergency stop: {error}")
            self._alert(
                f"robot {self.robot_id}: emergency stop during {occurrence.job!r}; "
                "the scheduler is paused until resumed after unlock"
            )
        except Exception as error:  # any job failure must leave the robot safe and say so
            self._store.finish(
                execution_id, "failed", self.now(), f"{type(error).__name__}: {error}"
            )
            self._safe()
            self._alert(
                f"robot {self.robot_id}: job {occurrence.job!r} of schedule "
                f"{schedule.name!r} failed: {error}"
            )
        else:
            self._store.finish(execution_id, "done", self.now(), result=result)

    def _safe(self) -> None:
        try:
            self._make_safe()
        except Exception as error:  # the alert must still go out
            log.exception("make_safe failed on robot %s", self.robot_id)
            self._alert(f"robot {self.robot_id}: making the robot safe failed: {error}")
