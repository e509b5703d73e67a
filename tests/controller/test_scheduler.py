"""The persistent runner on SQLite and PostgreSQL: restarts, missed runs, e-stop, failures.

A power loss is simulated by a job raising `PowerLoss` (a BaseException, as a crash would
bypass every handler) and then building a new Scheduler on the same database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from controller import scheduler as scheduler_module
from controller.gantry import EmergencyStopError, Gantry
from controller.link import LoopbackLink
from controller.schedule_rules import EventRule, Occurrence, RegimenItem, RegimenRule
from controller.scheduler import (
    Execution,
    JobContext,
    RobotPause,
    Schedule,
    Scheduler,
    SchedulerError,
    ScheduleStore,
)
from potager.clock import VirtualClock
from potager.db import Base, make_engine, session_factory, upgrade_database
from potager.robots import get_profile
from sim.serve import firmware_for

EPOCH = datetime(2026, 6, 1, tzinfo=UTC)  # Europe/Paris is UTC+2: 07:00 local is 05:00 UTC
HOUR_S = 3600.0


class PowerLoss(BaseException):
    """The process dies: nothing after this line of the job runs, no handler sees it."""


Job = Callable[[str, Mapping[str, Any], JobContext], Mapping[str, Any] | None]


class Robot:
    """One robot's database, virtual clock and the side effects the scheduler causes."""

    def __init__(self, store: ScheduleStore) -> None:
        self.store, self.clock = store, VirtualClock()
        self.calls: list[tuple[str, datetime]] = []
        self.alerts: list[str] = []
        self.made_safe = 0

    def scheduler(self, job: Job | None = None) -> Scheduler:
        def run_job(
            name: str, params: Mapping[str, Any], context: JobContext
        ) -> Mapping[str, Any] | None:
            self.calls.append((name, context.scheduled_at))
            return (job or _water)(name, params, context)

        return Scheduler(
            self.store,
            self.clock,
            run_job,
            "bot-1",
            self._make_safe,
            self.alerts.append,
            epoch=EPOCH,
        )

    def at(self, day: int, hour: float) -> datetime:
        return EPOCH + timedelta(days=day, hours=hour)

    def jump_to(self, instant: datetime) -> None:
        self.clock.advance_to((instant - EPOCH).total_seconds())

    def outcomes(self) -> list[tuple[str | None, datetime]]:
        return [(e.outcome, e.scheduled_at) for e in self.store.journal("bot-1")]

    def _make_safe(self) -> None:
        self.made_safe += 1


def _water(name: str, params: Mapping[str, Any], context: JobContext) -> Mapping[str, Any]:
    context.clock.sleep(60)
    return {"given_ml": params["ml"]}


@pytest.fixture
def store(database_url: str) -> Iterator[ScheduleStore]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    yield ScheduleStore(session_factory(engine))
    engine.dispose()


@pytest.fixture
def robot(store: ScheduleStore) -> Robot:
    return Robot(store)


def add_daily_watering(store: ScheduleStore, grace_s: float = HOUR_S) -> int:
    rule = EventRule(
        zone="Europe/Paris",
        start_local=datetime(2026, 6, 1, 7),
        every=1,
        unit="days",
        job="water",
        params={"ml": 250},
    )
    return store.add("bot-1", "morning watering", rule, grace_s=grace_s)


def test_daily_watering_runs_at_each_due_instant_and_journals_the_result(robot: Robot) -> None:
    add_daily_watering(robot.store)
    assert robot.scheduler().run_until(robot.at(2, 12)) == 3
    journal = robot.store.journal("bot-1")
    assert [(e.outcome, e.scheduled_at) for e in journal] == [
        ("done", robot.at(day, 5)) for day in range(3)
    ]
    assert journal[0].started_at == robot.at(0, 5)
    assert journal[0].finished_at == robot.at(0, 5) + timedelta(seconds=60)
    assert journal[0].progress == {"given_ml": 250}


def test_regimen_items_run_their_own_jobs_in_order(robot: Robot) -> None:
    rule = RegimenRule(
        zone="Europe/Paris",
        start_date=date(2026, 6, 1),
        items=[
            RegimenItem(day_offset_days=0, time_of_day=time(9), job="sow"),
            RegimenItem(day_offset_days=2, time_of_day=time(7), job="water", params={"ml": 90}),
        ],
    )
    robot.store.add("bot-1", "lettuce", rule, grace_s=600)
    runner = robot.scheduler(lambda *_: None)
    assert runner.run_until(robot.at(5, 0)) == 2
    assert robot.calls == [("sow", robot.at(0, 7)), ("water", robot.at(2, 5))]
    assert runner.next_due_at() is None


def test_power_loss_mid_job_is_journalled_interrupted_with_progress_and_not_rerun(
    robot: Robot,
) -> None:
    add_daily_watering(robot.store)

    def dies_midway(name: str, params: Mapping[str, Any], context: JobContext) -> None:
        context.report_progress(given_ml=80)
        raise PowerLoss

    with pytest.raises(PowerLoss):
        robot.scheduler(dies_midway).run_until(robot.at(0, 12))
    robot.jump_to(robot.at(0, 5.2))  # rebooted 12 minutes later, well within the grace
    assert robot.scheduler().run_pending() == 0
    [execution] = robot.store.journal("bot-1")
    assert (execution.outcome, execution.progress) == ("interrupted", {"given_ml": 80})
    assert robot.made_safe == 1 and "interrupted" in robot.alerts[0]
    assert len(robot.calls) == 1


def test_restart_after_three_missed_days_skips_each_without_burst_then_runs_on_time(
    robot: Robot,
) -> None:
    add_daily_watering(robot.store, grace_s=HOUR_S)
    robot.scheduler().run_until(robot.at(0, 12))
    robot.jump_to(robot.at(3, 9))  # power back on day 3 at 11:00 local, 2 h late
    restarted = robot.scheduler()
    assert restarted.run_pending() == 0
    assert robot.outcomes() == [("done", robot.at(0, 5))] + [
        ("skipped_late", robot.at(day, 5)) for day in (1, 2, 3)
    ]
    assert restarted.run_until(robot.at(4, 12)) == 1
    assert robot.outcomes()[-1] == ("done", robot.at(4, 5))
    assert robot.calls == [("water", robot.at(0, 5)), ("water", robot.at(4, 5))]


def test_latest_missed_occurrence_within_grace_runs_once_after_a_clock_jump(
    robot: Robot,
) -> None:
    rule = EventRule(
        zone="Europe/Paris",
        start_local=datetime(2026, 6, 1, 2),
        every=10,
        unit="minutes",
        job="photo",
    )
    robot.store.add("bot-1", "photos", rule, grace_s=60)
    robot.jump_to(robot.at(2, 0) + timedelta(seconds=30))
    assert robot.scheduler(lambda *_: None).run_pending() == 1
    outcomes = robot.outcomes()
    assert outcomes[-1] == ("done", robot.at(2, 0))
    assert [o for o, _ in outcomes[:-1]] == ["skipped_late"] * (2 * 144)


def test_long_catch_up_is_summarised_past_the_record_cap(
    robot: Robot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scheduler_module, "MAX_SKIP_RECORDS", 4)
    add_daily_watering(robot.store, grace_s=0)
    robot.jump_to(robot.at(9, 12))
    robot.scheduler().run_pending()
    journal = robot.store.journal("bot-1")
    assert [e.scheduled_at for e in journal] == [robot.at(day, 5) for day in (0, 7, 8, 9)]
    assert journal[0].detail.startswith("7 occurrences")
    assert robot.calls == []


def test_finished_runs_never_repeat_across_restarts(robot: Robot) -> None:
    schedule_id = add_daily_watering(robot.store)
    robot.scheduler().run_until(robot.at(1, 6))
    for _ in range(3):
        assert robot.scheduler().run_pending() == 0
    assert robot.outcomes() == [("done", robot.at(0, 5)), ("done", robot.at(1, 5))]
    with pytest.raises(SchedulerError, match="already handled"):
        robot.store.start(schedule_id, Occurrence(robot.at(1, 5), 0, "water", {}), robot.at(1, 6))


def test_emergency_stop_pauses_until_resumed_after_unlock(robot: Robot) -> None:
    add_daily_watering(robot.store, grace_s=2 * HOUR_S)

    def estopped(name: str, params: Mapping[str, Any], context: JobContext) -> None:
        raise EmergencyStopError("emergency stop during the command")

    runner = robot.scheduler(estopped)
    runner.run_until(robot.at(1, 6))
    assert runner.paused and robot.outcomes() == [("interrupted", robot.at(0, 5))]
    assert len(robot.calls) == 1 and "emergency stop" in robot.alerts[0]
    runner.resume()
    runner.pause("operator pressed the e-stop")
    assert runner.run_pending() == 0 and len(robot.calls) == 1
    runner.resume()  # day 1's 05:00 UTC run is 1 h late: within the 2 h grace
    assert runner.run_pending() == 1
    assert robot.outcomes()[-1] == ("interrupted", robot.at(1, 5))


def test_a_pause_survives_restarts_until_resumed(robot: Robot) -> None:
    add_daily_watering(robot.store, grace_s=2 * HOUR_S)

    def estopped(name: str, params: Mapping[str, Any], context: JobContext) -> None:
        raise EmergencyStopError("emergency stop during the command")

    robot.scheduler(estopped).run_until(robot.at(0, 12))
    assert robot.store.pause_reason("bot-1") == "emergency stop during 'water'"
    robot.jump_to(robot.at(1, 5.5))  # the controller reboots; the e-stop is still engaged
    restarted = robot.scheduler()
    assert restarted.paused and restarted.pause_reason == "emergency stop during 'water'"
    assert restarted.run_pending() == 0 and len(robot.calls) == 1
    restarted.resume()
    assert robot.store.pause_reason("bot-1") is None and not robot.scheduler().paused
    assert restarted.run_pending() == 1
    assert robot.outcomes()[-1] == ("done", robot.at(1, 5))


def test_pausing_again_keeps_one_pause_with_the_latest_reason(robot: Robot) -> None:
    runner = robot.scheduler()
    runner.pause("operator pressed the e-stop")
    runner.pause("emergency stop during 'water'")
    assert robot.store.pause_reason("bot-1") == "emergency stop during 'water'"
    assert robot.store.pause_reason("bot-2") is None
    runner.resume()
    runner.resume()
    assert robot.store.pause_reason("bot-1") is None


def test_the_estop_button_between_jobs_pauses_the_watching_scheduler(robot: Robot) -> None:
    add_daily_watering(robot.store)
    profile = get_profile("genesis")
    firmware, clock = firmware_for(profile), VirtualClock()
    link = LoopbackLink(firmware, clock)
    gantry = Gantry(link, profile).connect()
    heard: list[bool] = []
    gantry.add_estop_listener(lambda: heard.append(gantry.estopped))
    runner = robot.scheduler()
    runner.watch(gantry)
    assert not runner.paused

    firmware.press_estop(clock.now_s())
    link.run_until(clock.now_s() + 5)  # idle reports now say R87: locked
    assert gantry.estopped and runner.paused and heard == [True]
    assert robot.store.pause_reason("bot-1") == "emergency stop pressed on the robot"
    firmware.press_estop(clock.now_s())
    gantry.emergency_stop()
    link.run_until(clock.now_s() + 5)
    assert heard == [True]  # once per e-stop, however often the firmware repeats it
    restarted = robot.scheduler()
    assert restarted.paused and restarted.run_until(robot.at(2, 12)) == 0
    assert robot.calls == []

    gantry.unlock()
    restarted.resume()
    gantry.emergency_stop()  # a new e-stop after the unlock is heard again
    assert heard == [True, True]
    assert robot.store.pause_reason("bot-1") == "emergency stop pressed on the robot"


def test_failing_job_is_journalled_made_safe_alerted_and_the_schedule_goes_on(
    robot: Robot,
) -> None:
    add_daily_watering(robot.store)

    def valve_stuck(name: str, params: Mapping[str, Any], context: JobContext) -> None:
        if len(robot.calls) == 1:
            raise RuntimeError("flow meter reads 0 ml")

    robot.scheduler(valve_stuck).run_until(robot.at(1, 12))
    journal = robot.store.journal("bot-1")
    assert [e.outcome for e in journal] == ["failed", "done"]
    assert journal[0].detail == "RuntimeError: flow meter reads 0 ml"
    assert robot.made_safe == 1 and "flow meter" in robot.alerts[0]


def test_duplicate_names_and_negative_grace_are_refused(robot: Robot) -> None:
    add_daily_watering(robot.store)
    with pytest.raises(SchedulerError, match="already has"):
        add_daily_watering(robot.store)
    with pytest.raises(SchedulerError, match="grace_s"):
        add_daily_watering(robot.store, grace_s=-1)


def test_migration_matches_the_models(store: ScheduleStore, database_url: str) -> None:
    ours = {Schedule.__tablename__, Execution.__tablename__, RobotPause.__tablename__}

    def only_ours(item: Any, name: str | None, kind: str, reflected: bool, other: Any) -> bool:
        return kind != "table" or name in ours

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            options = {"compare_type": True, "include_object": only_ours}
            context = MigrationContext.configure(connection, opts=options)
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
