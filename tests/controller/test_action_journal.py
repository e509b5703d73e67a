"""The action journal on SQLite and PostgreSQL: no action lost, none doubled, crashes closed.

A crash is simulated by dropping the journal (and its engine) with a run still open and
opening a new one on the same database, as a restarted controller would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from controller.action_journal import RUNNING, ActionJournal, ActionJournalError
from controller.gantry import Gantry
from controller.jobs import Action, run_plan
from controller.link import LoopbackLink
from planner.jobs import ToolBay, WaterTask, plan_job
from potager.clock import VirtualClock
from potager.db import make_engine, session_factory, upgrade_database
from potager.robots import get_profile
from sim.serve import firmware_for

T0 = datetime(2026, 6, 1, 5, tzinfo=UTC)
PROFILE = get_profile("genesis")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def travel(step: int, x_mm: float = 100.0) -> Action:
    return Action(step, "travel", None, None, x_mm, 200.0, 0.0)


def water(step: int, point: int, ml: float = 50.0, task: str = "plot 101") -> Action:
    return Action(step, "water", task, point, 100.0 * point, 300.0, -200.0, ml)


@pytest.fixture
def journal(database_url: str) -> Iterator[ActionJournal]:
    upgrade_database(database_url)
    engine = make_engine(database_url)
    yield ActionJournal(session_factory(engine))
    engine.dispose()


def test_recorded_actions_come_back_in_step_order_with_their_run(journal: ActionJournal) -> None:
    run_id = journal.start_run("bot-1", "water", {"plot": 101}, at(0))
    done = [travel(1), water(2, 1), Action(3, "weed", "weeds", 4, 5.0, 6.0, -80.0)]
    done[2] = replace(done[2], detail="stage 3")
    for second, action in enumerate(done, start=1):
        journal.record(run_id, action, at(second))
    journal.finish_run(run_id, "done", at(10), "all plots watered")
    recorded = journal.actions(run_id=run_id)
    assert [view.action() for view in recorded] == done
    assert [view.at for view in recorded] == [at(1), at(2), at(3)]
    assert recorded[2].detail == "stage 3" and recorded[0].robot_id == "bot-1"
    assert journal.actions(robot_id="bot-1") == recorded and journal.actions(robot_id="x") == []
    [run] = journal.runs("bot-1")
    assert (run.id, run.job, run.params, run.outcome) == (run_id, "water", {"plot": 101}, "done")
    assert (run.started_at, run.finished_at, run.detail) == (at(0), at(10), "all plots watered")
    assert (run.action_count, run.water_ml, run.execution_id) == (3, 50.0, None)


def test_the_same_step_again_is_a_no_op_and_a_different_one_is_refused(
    journal: ActionJournal,
) -> None:
    run_id = journal.start_run("bot-1", "water", {}, at(0))
    journal.record(run_id, water(1, 1), at(1))
    journal.record(run_id, water(1, 1), at(2))  # a retry after a lost reply
    assert [(v.step, v.at) for v in journal.actions(run_id=run_id)] == [(1, at(1))]
    with pytest.raises(ActionJournalError, match=rf"run {run_id} step 1 is already recorded"):
        journal.record(run_id, water(1, 1, ml=80.0), at(3))
    with pytest.raises(ActionJournalError, match="step 1"):
        journal.record(run_id, replace(water(1, 1), detail="another photo"), at(3))
    assert [v.volume_ml for v in journal.actions(run_id=run_id)] == [50.0]


def test_a_finished_run_takes_no_more_actions_and_finishes_once(journal: ActionJournal) -> None:
    run_id = journal.start_run("bot-1", "weed", {}, at(0))
    journal.record(run_id, travel(1), at(1))
    journal.finish_run(run_id, "failed", at(2), "stall on X")
    with pytest.raises(ActionJournalError, match=rf"run {run_id} .* already failed: step 2"):
        journal.record(run_id, travel(2), at(3))
    with pytest.raises(ActionJournalError, match="already failed"):
        journal.finish_run(run_id, "done", at(4))
    with pytest.raises(ActionJournalError, match="no job run 999"):
        journal.record(999, travel(1), at(5))
    assert len(journal.actions(run_id=run_id)) == 1


def test_runs_a_crash_left_open_are_closed_interrupted_with_the_water_given(
    database_url: str, journal: ActionJournal
) -> None:
    run_id = journal.start_run("bot-1", "water", {"ml": 50}, at(0))
    other = journal.start_run("bot-2", "water", {}, at(0))
    for step in (1, 2, 3):
        journal.record(run_id, water(step, step), at(step))
    # the power goes: a new controller opens the same database
    engine = make_engine(database_url)
    try:
        restarted = ActionJournal(session_factory(engine))
        [interrupted] = restarted.interrupt_unfinished("bot-1", at(600))
        assert (interrupted.id, interrupted.outcome, interrupted.finished_at) == (
            run_id,
            "interrupted",
            at(600),
        )
        assert (interrupted.action_count, interrupted.water_ml) == (3, 150.0)
        assert "3 recorded actions" in interrupted.detail and "150 ml" in interrupted.detail
        assert restarted.interrupt_unfinished("bot-1", at(700)) == []
        assert [r.outcome for r in restarted.runs("bot-2")] == [None]
        with pytest.raises(ActionJournalError, match="already interrupted"):
            restarted.record(run_id, water(4, 4), at(601))
        assert [v.step for v in restarted.actions(run_id=run_id)] == [1, 2, 3]
        assert restarted.runs("bot-2")[0].id == other
    finally:
        engine.dispose()


def test_two_threads_recording_into_two_runs_lose_nothing(journal: ActionJournal) -> None:
    steps = 60
    runs = [journal.start_run(f"bot-{n}", "water", {}, at(0)) for n in (1, 2)]
    errors: list[BaseException] = []

    def record_all(run_id: int) -> None:
        try:
            for step in range(1, steps + 1):
                journal.record(run_id, water(step, step, ml=1.5), at(step))
                journal.record(run_id, water(step, step, ml=1.5), at(step))  # and its retry
        except BaseException as error:  # reported to the test thread below
            errors.append(error)

    threads = [threading.Thread(target=record_all, args=(run_id,)) for run_id in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for n, run_id in enumerate(runs, start=1):
        assert [v.step for v in journal.actions(run_id=run_id)] == list(range(1, steps + 1))
        assert journal.summary(f"bot-{n}").water_ml == pytest.approx(steps * 1.5)


def test_summary_counts_actions_water_per_stop_weeds_photos_and_runs(
    journal: ActionJournal,
) -> None:
    first = journal.start_run("bot-1", "water", {}, at(0))
    for step, action in enumerate([travel(1), water(2, 0), water(3, 1, 30.0), water(4, 0)], 1):
        assert action.step == step
        journal.record(first, action, at(step))
    journal.finish_run(first, "done", at(10))
    second = journal.start_run("bot-1", "weed and look", {}, at(100))
    later = [
        Action(1, "weed", "weeds", 0, 10.0, 10.0, -80.0),
        Action(2, "weed", "weeds", 1, 20.0, 10.0, -80.0),
        Action(3, "photograph", "grid", 0, 500.0, 500.0, 0.0),
        water(4, 2, 20.0, task="plot 102"),
    ]
    for action in later:
        journal.record(second, action, at(100 + action.step))
    journal.start_run("bot-2", "water", {}, at(0))

    summary = journal.summary("bot-1")
    assert summary.actions_by_kind == {"travel": 1, "water": 4, "weed": 2, "photograph": 1}
    assert summary.water_ml == pytest.approx(150.0)
    assert summary.ml_by_point == {
        ("plot 101", 0): 100.0,
        ("plot 101", 1): 30.0,
        ("plot 102", 2): 20.0,
    }
    assert (summary.weeds_struck, summary.photos) == (2, 1)
    assert summary.runs_by_outcome == {"done": 1, RUNNING: 1}
    recent = journal.summary("bot-1", since=at(50))
    assert recent.actions_by_kind == {"weed": 2, "photograph": 1, "water": 1}
    assert (recent.water_ml, recent.runs_by_outcome) == (20.0, {RUNNING: 1})


def test_the_listener_journals_a_real_run_of_the_simulated_robot(journal: ActionJournal) -> None:
    tasks = [
        WaterTask(name="plot 101", points_mm=((400.0, 300.0), (800.0, 300.0)), z_mm=-200.0, ml=40.0)
    ]
    plan = plan_job(tasks, PROFILE, ToolBay.seeded(nozzle_flow_rate_ml_s=10.0), end_parked=True)
    clock = VirtualClock()
    run_id = journal.start_run("bot-1", "water", {"ml": 40}, at(0))
    on_action = journal.listener(run_id, lambda: at(clock.now_s()))
    with Gantry(LoopbackLink(firmware_for(PROFILE), clock), PROFILE) as gantry:
        done = run_plan(gantry, plan, tasks, clock, on_action=on_action)
    journal.finish_run(run_id, "done", at(clock.now_s()))
    recorded = journal.actions(run_id=run_id)
    assert [view.action() for view in recorded] == done
    assert [view.at for view in recorded] == sorted(view.at for view in recorded)
    assert journal.runs("bot-1")[0].water_ml == pytest.approx(80.0)
