"""`potager agent` whole: a robot on duty on a simulated Farmduino (a real pty), its own
SQLite store, a real Mosquitto, and the server's side (`potager serve --broker`) on SQLite
and PostgreSQL: what the robot records reaches the trial store and the robots page once,
in order, however long the robot was offline; the server's commands steer the robot."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from agent.broker_client import BrokerSettings
from agent.outbox import OutboxRecord
from agent.runtime import RobotAgent
from controller.action_journal import ActionJournal, ActionRecord, JobRun
from controller.duty import RobotDuty, install_schedules
from controller.gantry import Gantry
from controller.link import SerialLink
from controller.schedule_file import load_robot_schedules
from controller.scheduler import ScheduleStore
from potager.clock import FastForwardClock
from potager.db import make_engine, session_factory, upgrade_database
from potager.robots import get_profile
from sim.serve import simulated_robots
from tests.agent.conftest import Broker
from tests.agent.test_store_and_forward import WAIT_S, eventually
from trials.design import Factor, rcbd
from trials.photos import PhotoFolder
from trials.plots import BedArea, lay_out
from trials.store import (
    Observation,
    ObservationIn,
    Photo,
    TrialStore,
    VariableIn,
    store_laid_out_trial,
)
from web.inbox import InboxRecord
from web.network_server import ServerNetwork
from web.robots import NetworkRobotError, RobotHub

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
TRIAL = "Laitues en réseau 2026"
ROBOT = "greenhouse-1"
PROFILE = get_profile("genesis")


def robot_file(folder: Path, start: datetime, every_hours: int) -> Path:
    shutil.copy(EXAMPLES / "water-lettuces.yaml", folder / "water-lettuces.yaml")
    path = folder / "robot.yaml"
    path.write_text(
        f"""\
robot: {ROBOT}
zone: UTC
sequences:
  water lettuces: water-lettuces.yaml
schedules:
  - name: water
    job: water lettuces
    start_local: {start:%Y-%m-%dT%H:%M:%S}
    every: {every_hours}
    unit: hours
    params: {{amount_ml: 20}}
    grace_s: 600
"""
    )
    return path


def laid_out_trial(store: TrialStore, name: str = TRIAL, bed: str = "A") -> int:
    book = rcbd(Factor("variety", ("Batavia", "Romaine")), 2, seed=7)
    rectangles = lay_out(book, BedArea(0, 0, 2400, 1200), 600, 300)
    return store_laid_out_trial(
        store, name=name, site="Lycée de Lyon", bed=bed, bed_size_mm=(2400, 1200),
        book=book, rectangles=rectangles,
    )  # fmt: skip


@dataclass
class OnDuty:
    agent: RobotAgent
    duty: RobotDuty
    sessions: sessionmaker[Session]
    trials: TrialStore
    photos: PhotoFolder

    def count(self, table: Any) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(table)) or 0


@contextmanager
def robot_on_duty(folder: Path, broker: BrokerSettings, every_hours: int = 12) -> Iterator[OnDuty]:
    """`potager agent` in-process: its parts as the command builds them."""
    url = f"sqlite:///{folder / 'robot.sqlite3'}"
    upgrade_database(url)
    sessions = session_factory(make_engine(url))
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    plan = load_robot_schedules(robot_file(folder, start, every_hours))
    store = ScheduleStore(sessions)
    install_schedules(store, plan)
    clock = FastForwardClock(scale=500.0)
    with (
        simulated_robots(PROFILE, 1, clock) as (firmware,),
        Gantry(SerialLink(firmware.port, clock=clock), PROFILE) as gantry,
    ):
        duty = RobotDuty(plan, gantry, clock, store, ActionJournal(sessions), alert=print)
        agent = RobotAgent(duty, sessions, "lyon", broker, folder / "photos")
        trials = TrialStore(sessions)
        with agent:
            yield OnDuty(agent, duty, sessions, trials, PhotoFolder(folder / "photos", trials))


def record_measurements(robot: OnDuty) -> None:
    """What a canopy job leaves in the robot's store: its observations, a plot's view, and
    a person's note-taking that is not the robot's to send."""
    trial_id = laid_out_trial(robot.trials)
    local_only = laid_out_trial(robot.trials, "Essai local", bed="B")
    robot.trials.ensure_variable(trial_id, _cover())
    robot.trials.ensure_variable(local_only, _cover())
    at = robot.duty.now()
    first, second, third = (plot.plot for plot in robot.trials.plots(trial_id)[:3])
    robot.trials.record_observations(
        [
            ObservationIn(
                trial_id=trial,
                plot=plot,
                variable="canopy_cover",
                value=plot / 10,
                observed_at=at,
                recorder_kind=kind,
                recorder=recorder,
                source="photo mosaic",
            )
            for trial, plot, kind, recorder in (
                (trial_id, first, "robot", ROBOT),
                (trial_id, second, "robot", ROBOT),
                (trial_id, third, "person", "alice"),
                (local_only, first, "robot", ROBOT),
            )
        ]
    )
    view = np.zeros((60, 80, 3), np.uint8)
    view[:, :40] = (40, 160, 60)
    robot.photos.add_image(trial_id, second, view, at)


def _cover() -> VariableIn:
    return VariableIn(name="canopy_cover", unit="%", minimum=0.0, maximum=100.0)


@contextmanager
def server(
    database_url: str, broker: Broker, folder: Path
) -> Iterator[tuple[ServerNetwork, RobotHub, TrialStore]]:
    upgrade_database(database_url)
    sessions = session_factory(make_engine(database_url))
    trials = TrialStore(sessions)
    hub = RobotHub()
    with ServerNetwork(sessions, broker.settings, hub, folder / "server-photos") as network:
        assert network.ingestor.wait_ready(WAIT_S)
        yield network, hub, trials


def test_a_week_offline_reaches_the_server_once_in_order_and_applied_once(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    with robot_on_duty(tmp_path, broker.settings) as robot:
        record_measurements(robot)
        robot.duty.run_until(robot.duty.now() + timedelta(days=7))
        robot.agent.pump_once()  # the broker is down: everything stays in the outbox
        runs, actions = robot.count(JobRun), robot.count(ActionRecord)
        recorded = robot.agent.outbox.waiting()
        assert runs >= 14 and actions > 5 * runs  # two waterings a day, a week long
        assert recorded == robot.count(OutboxRecord)  # nothing went anywhere

        broker.start()
        upgrade_database(database_url)
        server_trial = laid_out_trial(TrialStore(session_factory(make_engine(database_url))))
        with server(database_url, broker, tmp_path) as (network, hub, trials):
            assert eventually(lambda: robot.agent.outbox.waiting() == 0)
            total = robot.count(OutboxRecord)
            assert eventually(lambda: len(network.inbox.received(ROBOT)) == total)
            assert eventually(lambda: not network.inbox.unapplied(10))
            kept = network.inbox.received(ROBOT)
            status = hub.status(ROBOT)

    assert [envelope.seq for envelope in kept] == list(range(1, total + 1))
    journal = [e.body for e in kept if e.kind == "journal"]
    assert sum(entry["entry"] == "run" for entry in journal) == runs
    assert sum(entry["entry"] == "action" for entry in journal) == actions
    assert [e["run_id"] for e in journal if e["entry"] == "run"] == list(range(1, runs + 1))
    assert status.network and status.site == "lyon" and status.job is None
    assert status.sequences == ["water lettuces"] and "water lettuces" in "".join(status.log)

    first, second = (plot.plot for plot in trials.plots(server_trial)[:2])
    cover = trials.tidy_observations(server_trial)
    assert sorted((row.plot, row.value, row.recorder) for row in cover) == [
        (first, first / 10, ROBOT),
        (second, second / 10, ROBOT),
    ]  # the person's observation was not the robot's to send
    (problem,) = network.inbox.problems()
    assert problem[0].kind == "observation" and "no trial named 'Essai local'" in problem[1]
    photos = trials.plot_photos(server_trial)
    assert [(p.plot, len(p.photos)) for p in photos if p.photos] == [(second, 1)]


def test_applying_again_after_a_crash_stores_nothing_twice(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    with robot_on_duty(tmp_path, broker.settings) as robot:
        record_measurements(robot)
        broker.start()
        upgrade_database(database_url)
        laid_out_trial(TrialStore(session_factory(make_engine(database_url))))
        with server(database_url, broker, tmp_path) as (network, _, _):
            assert eventually(lambda: robot.agent.outbox.waiting() == 0)
            assert eventually(lambda: not network.inbox.unapplied(10))
            sessions = session_factory(make_engine(database_url))
            with sessions.begin() as session:  # the server died before marking them applied
                session.execute(update(InboxRecord).values(applied_at=None, problem=None))
            network.applier.apply_pending()
            with sessions() as session:
                observations = session.scalar(select(func.count()).select_from(Observation))
                photos = session.scalar(select(func.count()).select_from(Photo))
    assert (observations, photos) == (2, 1)


def test_the_servers_commands_steer_the_robot_and_are_answered(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    broker.start()
    with (
        robot_on_duty(tmp_path, broker.settings) as robot,
        server(database_url, broker, tmp_path) as (_, hub, _),
    ):
        assert robot.agent.forwarder.wait_ready(WAIT_S)
        assert eventually(lambda: ROBOT in hub.ids())
        gantry, scheduler = robot.duty.gantry, robot.duty.scheduler

        def answered(kind: str, outcome: str) -> bool:
            lines = hub.status(ROBOT).log
            return any(f"command {kind}: {outcome}" in line for line in lines)

        hub.pause(ROBOT, "paused by op-lyon")
        assert eventually(lambda: scheduler.pause_reason == "paused by op-lyon")
        assert eventually(lambda: hub.status(ROBOT).paused == "paused by op-lyon")
        hub.run_own_sequence(ROBOT, "water lettuces")
        assert eventually(lambda: answered("run_sequence", "done"))
        assert robot.count(JobRun) == 1  # ran while the schedules were paused, journalled

        hub.emergency_stop(ROBOT)
        assert eventually(lambda: gantry.estopped)
        assert eventually(lambda: hub.status(ROBOT).estopped)
        hub.resume(ROBOT)
        assert eventually(lambda: answered("resume", "failed"))
        assert "unlock it before resuming" in "".join(hub.status(ROBOT).log)
        hub.unlock(ROBOT)
        assert eventually(lambda: not gantry.estopped)
        hub.resume(ROBOT)
        assert eventually(lambda: answered("resume", "done"))
        assert not scheduler.paused

        try:
            hub.run_own_sequence(ROBOT, "weed everything")
        except NetworkRobotError as error:
            assert "its sequences: water lettuces" in str(error)
        else:
            raise AssertionError("a sequence the robot lacks must be refused on the server")


def test_an_estop_reaches_the_robot_while_the_server_is_still_ingesting(
    broker: Broker, tmp_path: Path
) -> None:
    backlog = 5_000
    broker.start()
    with robot_on_duty(tmp_path, broker.settings) as robot:
        with robot.sessions.begin() as session:  # months of records waiting to go
            for number in range(backlog):
                robot.agent.outbox.record(session, "journal", {"n": number}, robot.duty.now())
        url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
        with server(url, broker, tmp_path) as (network, hub, _):
            assert eventually(lambda: ROBOT in hub.ids())
            hub.emergency_stop(ROBOT)
            assert eventually(lambda: robot.duty.gantry.estopped)
            ingested_at_stop = len(network.inbox.received(ROBOT))
            assert eventually(lambda: robot.agent.outbox.waiting() == 0, 120.0)
    assert ingested_at_stop < backlog  # the server was still busy when the robot stopped
