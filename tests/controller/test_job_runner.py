"""Schedules bound to student sequences: the scheduler runs a sequence with its parameters,
every gardening act lands in the action journal, and a tool left on the UTM is parked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.action_journal import ActionJournal
from controller.gantry import Gantry
from controller.job_runner import JobRunner
from controller.jobs import Action, ActionListener, JobError
from controller.link import LoopbackLink
from controller.schedule_rules import EventRule
from controller.scheduler import Scheduler, ScheduleStore
from controller.sequences import load_sequence
from planner.jobs import ToolBay
from potager.clock import VirtualClock
from potager.db import make_engine, session_factory, upgrade_database
from potager.robots import get_profile
from sim.serve import firmware_for

PROFILE = get_profile("genesis")
EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "water-lettuces.yaml"
START = datetime(2026, 6, 1, 5, 0, tzinfo=UTC)  # 07:00 in Paris


class Bench:
    """A robot on the loopback simulator with its journals on one database."""

    def __init__(self, url: str) -> None:
        upgrade_database(url)
        self.engine = make_engine(url)
        sessions = session_factory(self.engine)
        self.journal, self.schedules = ActionJournal(sessions), ScheduleStore(sessions)
        self.clock = VirtualClock()
        self.gantry = Gantry(LoopbackLink(firmware_for(PROFILE), self.clock), PROFILE).connect()
        self.alerts: list[str] = []

    def now(self) -> datetime:
        return START + timedelta(seconds=self.clock.now_s())

    def runner(self, on_action: ActionListener | None = None) -> JobRunner:
        checked = load_sequence(EXAMPLE, PROFILE)
        bay = ToolBay(slots=tuple(checked.farm.tool_slots))
        return JobRunner(
            self.gantry, self.clock, bay, self.journal, "bot", self.now,
            sequences={"water lettuces": checked}, on_action=on_action,
        )  # fmt: skip

    def scheduler(self, runner: JobRunner) -> Scheduler:
        return Scheduler(
            self.schedules, self.clock, runner, "bot", runner.make_safe, self.alerts.append,
            epoch=START,
        )  # fmt: skip


@pytest.fixture
def bench(database_url: str) -> Iterator[Bench]:
    made = Bench(database_url)
    yield made
    made.gantry.close()
    made.engine.dispose()


def test_a_daily_schedule_runs_the_sequence_with_its_parameters(bench: Bench) -> None:
    rule = EventRule(
        zone="Europe/Paris",
        start_local=datetime(2026, 6, 1, 7, 0),
        every=1,
        unit="days",
        end_local=datetime(2026, 6, 4, 0, 0),
        job="water lettuces",
        params={"amount_ml": 30},
    )
    bench.schedules.add("bot", "morning water", rule, grace_s=600)
    ran = bench.scheduler(bench.runner()).run_until(START + timedelta(days=4))
    assert ran == 3
    executions = bench.schedules.journal("bot")
    assert [e.outcome for e in executions] == ["done"] * 3
    assert all(e.progress["given_ml"] == 60 for e in executions)  # two lettuces x 30 ml
    runs = bench.journal.runs("bot")
    assert [(r.job, r.outcome, r.water_ml) for r in runs] == [("water lettuces", "done", 60)] * 3
    kinds = [a.kind for a in bench.journal.actions(run_id=runs[0].id)]
    assert kinds == ["tool_change", "water", "mark", "water", "mark", "tool_change"]
    marks = [a for a in bench.journal.actions(run_id=runs[0].id) if a.kind == "mark"]
    assert {(m.task, m.detail) for m in marks} == {
        ("lettuce 1", "planted"),
        ("lettuce 2", "planted"),
    }


def test_an_unknown_job_is_refused_with_the_robots_jobs(bench: Bench) -> None:
    with pytest.raises(
        JobError, match=r"no job 'water' on robot bot; its jobs are: water lettuces"
    ):
        bench.runner()("water", {}, None)


def test_a_tool_left_on_the_utm_by_a_crash_is_parked_after_the_restart(bench: Bench) -> None:
    class Crash(BaseException):
        """The controller's process dies."""

    def crash_after_first_water(action: Action) -> None:
        if action.kind == "water":
            raise Crash

    with pytest.raises(Crash):
        bench.runner(crash_after_first_water)("water lettuces", {"amount_ml": 20}, None)
    restarted = bench.runner()
    assert [r.job for r in restarted.interrupted] == ["water lettuces"]
    assert restarted.mounted is not None and restarted.mounted.value == "watering_nozzle"
    restarted.make_safe()
    assert restarted.mounted is None
    last = bench.journal.last_action("bot")
    assert last is not None and last.kind == "tool_change" and last.tool is None
    assert bench.gantry.read_pin(PROFILE.water_valve_pin) == 0
