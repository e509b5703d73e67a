"""Faults in the middle of a season: power loss, a stalled axis, a pulled cable, clocks that
jump. After each, the journals must hold every action that happened exactly once, nothing
half-done may be silently repeated, and the robot must be left safe."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from controller.gantry import Gantry
from controller.jobs import Action
from controller.link import LinkState, LoopbackLink, SerialLink
from controller.scheduler import JobContext
from potager.clock import FastForwardClock, VirtualClock
from potager.robots import AXES, Axis
from sim.firmware import VirtualFarmduino
from sim.season import ROBOT_ID, Season, SeasonConfig
from sim.serve import firmware_for, simulated_robots


class PowerCut(BaseException):
    """The controller's computer loses power: nothing after this line of code runs."""


def new_season(tmp_path: Path, models: Path, clock: Any, **config: Any) -> Season:
    url = f"sqlite:///{tmp_path / 'potager.sqlite3'}"
    return Season(SeasonConfig(**config), url, clock, models_dir=models)


def loopback_robot(season: Season) -> tuple[Gantry, VirtualFarmduino]:
    """A freshly powered robot on the season's clock, homed."""
    assert isinstance(season.clock, VirtualClock)
    firmware = firmware_for(season.profile, season.clock.now_s())
    gantry = Gantry(LoopbackLink(firmware, season.clock), season.profile).connect()
    for axis in AXES[::-1]:
        gantry.find_home(axis)
    return gantry, firmware


def assert_journal_is_clean(season: Season) -> None:
    """Every run's steps are 1..n with none missing or doubled, every run is finished."""
    steps: dict[int, list[int]] = {}
    for action in season.journal.actions(robot_id=ROBOT_ID):
        steps.setdefault(action.run_id, []).append(action.step)
    for run_id, numbers in steps.items():
        assert numbers == list(range(1, len(numbers) + 1)), f"run {run_id}: {numbers}"
    assert all(run.outcome is not None for run in season.journal.runs(ROBOT_ID))


def outcomes(season: Season, job: str) -> list[str | None]:
    return [e.outcome for e in season.schedule_store.journal(ROBOT_ID) if e.job == job]


def test_power_loss_mid_watering_keeps_the_millilitres_given_and_repeats_nothing(
    tmp_path: Path, sim_models_dir: Path
) -> None:
    season = new_season(tmp_path, sim_models_dir, VirtualClock(), days=6)
    gantry, _ = loopback_robot(season)
    season.scheduler(season.jobs(gantry)).run_until(season.start_utc + timedelta(days=1))
    poured: list[Action] = []

    def cut_after_five_plants(action: Action) -> None:
        if action.kind == "water":
            poured.append(action)
            if len(poured) == 5:
                raise PowerCut

    jobs = season.jobs(gantry, also=cut_after_five_plants)
    with pytest.raises(PowerCut):
        season.scheduler(jobs).run_until(season.end_utc)
    # power back: the firmware boots afresh, a new controller opens the same databases
    gantry, _ = loopback_robot(season)
    jobs = season.jobs(gantry)
    (cut,) = jobs.interrupted
    assert cut.job == "water" and cut.water_ml == pytest.approx(sum(a.volume_ml for a in poured))
    assert jobs.mounted is not None and jobs.mounted.value == "watering_nozzle"
    season.scheduler(jobs).run_until(season.end_utc)

    waterings = [e for e in season.schedule_store.journal(ROBOT_ID) if e.job == "water"]
    assert [e.outcome for e in waterings] == ["interrupted", "done", "done"]
    assert waterings[0].progress["given_ml"] == pytest.approx(cut.water_ml)
    assert any("interrupted" in alert for alert in season.alerts)
    # the nozzle left on the UTM by the cut went back to its slot before anything else
    runs = season.journal.runs(ROBOT_ID)
    assert [r.job for r in runs if r.started_at > cut.started_at][:2] == ["make_safe", "water"]
    assert jobs.mounted is None
    assert_journal_is_clean(season)
    gantry.close()


def test_a_stall_during_weeding_fails_the_job_parks_the_weeder_and_the_season_goes_on(
    tmp_path: Path, sim_models_dir: Path
) -> None:
    season = new_season(tmp_path, sim_models_dir, VirtualClock(), days=5, weed_every_days=2)
    gantry, firmware = loopback_robot(season)
    stalls = []

    def stall_once_the_weeder_is_on(action: Action) -> None:
        if action.tool == "weeder" and not stalls:
            stalls.append(gantry.position)
            firmware.inject_stall(Axis.X, gantry.position.x_mm + 150.0)

    jobs = season.jobs(gantry, also=stall_once_the_weeder_is_on)
    season.scheduler(jobs).run_until(season.end_utc)

    assert stalls, "the weeder was mounted"
    assert outcomes(season, "weed") == ["failed", "done"]
    failed = next(e for e in season.schedule_store.journal(ROBOT_ID) if e.outcome == "failed")
    assert "stall" in failed.detail.lower()
    assert any("failed" in alert and "weed" in alert for alert in season.alerts)
    assert outcomes(season, "water") == ["done", "done"]
    runs = season.journal.runs(ROBOT_ID)
    failed_run = next(r for r in runs if r.outcome == "failed")
    safe_run = runs[runs.index(failed_run) + 1]
    assert safe_run.job == "make_safe" and safe_run.outcome == "done"
    assert jobs.mounted is None  # the weeder is back in its slot
    assert gantry.read_pin(season.profile.water_valve_pin) == 0
    assert_journal_is_clean(season)
    gantry.close()


def test_a_cable_pulled_mid_watering_on_the_pty_fails_that_run_only(
    tmp_path: Path, sim_models_dir: Path
) -> None:
    clock = FastForwardClock(200.0)
    season = new_season(tmp_path, sim_models_dir, clock, days=4)
    with (
        simulated_robots(season.profile, 1, clock) as (sim,),
        Gantry(SerialLink(sim.port, clock=clock), season.profile) as gantry,
    ):
        for axis in AXES[::-1]:
            gantry.find_home(axis)
        poured: list[Action] = []

        def pull_after_three_plants(action: Action) -> None:
            if action.kind == "water":
                poured.append(action)
                if len(poured) == 3:
                    sim.unplug()
                    threading.Timer(0.3, sim.replug).start()

        jobs = season.jobs(gantry, also=pull_after_three_plants)

        def run_job(name: str, params: Mapping[str, Any], context: JobContext) -> Any:
            _wait_for(lambda: gantry.link.state is LinkState.READY)  # the cable is back
            return jobs(name, params, context)

        season.scheduler(jobs, run_job).run_until(season.end_utc)
        valve_closed = gantry.read_pin(season.profile.water_valve_pin) == 0

    assert outcomes(season, "water") == ["failed", "done"]
    failed = next(e for e in season.schedule_store.journal(ROBOT_ID) if e.outcome == "failed")
    assert failed.detail.startswith("LinkError") and ttyname(sim.port) in failed.detail
    assert failed.progress["given_ml"] == pytest.approx(sum(a.volume_ml for a in poured[:3]))
    water_runs = [r for r in season.journal.runs(ROBOT_ID) if r.job == "water"]
    assert [r.outcome for r in water_runs] == ["failed", "done"]
    assert water_runs[0].water_ml == pytest.approx(failed.progress["given_ml"])
    assert valve_closed
    assert_journal_is_clean(season)


def test_a_clock_jumping_forward_skips_the_missed_waterings_without_a_burst(
    tmp_path: Path, sim_models_dir: Path
) -> None:
    clock = VirtualClock()
    season = new_season(tmp_path, sim_models_dir, clock, days=8)
    gantry, _ = loopback_robot(season)
    season.scheduler(season.jobs(gantry)).run_until(season.start_utc + timedelta(days=1, hours=12))
    # the controller's computer sleeps through days 3 and 5 (a flat battery, a suspend)
    clock.advance_to(clock.now_s() + timedelta(days=4).total_seconds())
    season.scheduler(season.jobs(gantry)).run_until(season.end_utc)
    assert outcomes(season, "water") == ["done", "skipped_late", "skipped_late", "done"]
    started = [e.started_at for e in season.schedule_store.journal(ROBOT_ID) if e.outcome == "done"]
    assert all(b - a > timedelta(hours=1) for a, b in itertools.pairwise(started))
    assert_journal_is_clean(season)
    gantry.close()


def test_a_clock_set_back_after_a_restart_runs_nothing_twice(
    tmp_path: Path, sim_models_dir: Path
) -> None:
    season = new_season(tmp_path, sim_models_dir, VirtualClock(), days=6)
    gantry, _ = loopback_robot(season)
    season.scheduler(season.jobs(gantry)).run_until(season.start_utc + timedelta(days=3, hours=12))
    done_before = outcomes(season, "water")
    # restarted with its wall clock a day behind (a dead RTC battery, a wrong NTP answer)
    season.epoch -= timedelta(days=1)
    season.scheduler(season.jobs(gantry)).run_until(season.end_utc)
    executions = season.schedule_store.journal(ROBOT_ID)
    keys = [(e.schedule_id, e.item, e.scheduled_at) for e in executions]
    assert len(set(keys)) == len(keys)
    assert done_before == ["done", "done"]
    assert outcomes(season, "water") == ["done", "done", "done"]
    assert_journal_is_clean(season)
    gantry.close()


def ttyname(port: str) -> str:
    return Path(port).name


def _wait_for(condition: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        time.sleep(0.01)


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    yield
    time.sleep(0.35)  # let a pending replug timer fire before the pty goes away
