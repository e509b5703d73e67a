"""`potager run`: a robot running its schedules unattended, and what it did.

    potager run robot.yaml --port /dev/ttyACM0          # until stopped (Ctrl-C)
    potager run robot.yaml --journal                    # the executions and their outcomes

The schedule file (`controller.schedule_file`; `docs/examples/robots/greenhouse.yaml`)
names the robot, its sequences and its schedules; they are stored in the database (a
changed schedule keeps what already ran, a removed one is disabled) and run by the
scheduler, one at a time, each journalled.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

WATCH_STRETCH = timedelta(hours=1)
"""Without --until, the scheduler is run an hour at a time, for ever."""


def add_run(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="run a robot's schedules unattended (sequences at set times), or show its journal",
    )
    run.add_argument("file", type=Path, metavar="ROBOT.yaml", help="the robot's schedule file")
    run.add_argument("--port", help="the robot's serial port, e.g. /dev/ttyACM0")
    add_duty_options(run)
    run.add_argument("--journal", action="store_true", help="print the journal and stop")
    run.set_defaults(handler=_run)


def add_duty_options(parser: argparse.ArgumentParser) -> None:
    """The options of a robot on duty (`potager run`, `potager agent`)."""
    parser.add_argument("--database", help="SQLAlchemy URL (default: the settings' database)")
    parser.add_argument(
        "--until",
        type=datetime.fromisoformat,
        metavar="ISO-TIME",
        help="stop at this time (with its UTC offset, e.g. 2026-06-02T00:00+02:00)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="for a simulated robot only: its clock's speed-up (as `potager sim firmware`)",
    )


def robot_database(args: argparse.Namespace) -> tuple[str, Any]:
    """The robot's database (`--database`), migrated: its URL and sessions."""
    from potager.cli_web import database_url
    from potager.db import make_engine, session_factory, upgrade_database

    url = database_url(args.database)
    upgrade_database(url)
    return url, session_factory(make_engine(url))


def _run(args: argparse.Namespace) -> int:
    from controller.schedule_file import load_robot_schedules
    from controller.scheduler import ScheduleStore
    from potager.errors import PotagerError

    plan = load_robot_schedules(args.file)
    _, sessions = robot_database(args)
    if args.journal:
        _print_journal(ScheduleStore(sessions), plan.robot_id)
        return 0
    if not args.port:
        raise PotagerError("give the robot's serial port with --port (or --journal to read)")
    with robot_on_duty(args, plan, sessions) as duty:
        print(f"robot {plan.robot_id} on {args.port}: {len(plan.schedules)} schedules", flush=True)
        keep_on_duty(duty, args.until, WATCH_STRETCH, "stopped; the journal keeps what was done")
    return 0


@contextlib.contextmanager
def robot_on_duty(args: argparse.Namespace, plan: Any, sessions: Any) -> Iterator[Any]:
    """The file's schedules stored, the robot on `--port` connected and on duty; what it
    does and what goes wrong printed as it happens."""
    from controller.action_journal import ActionJournal
    from controller.duty import RobotDuty, install_schedules
    from controller.gantry import Gantry
    from controller.link import SerialLink
    from controller.scheduler import ScheduleStore
    from potager.clock import ScaledClock, SystemClock
    from potager.robots import get_profile

    store = ScheduleStore(sessions)
    for name in install_schedules(store, plan):
        print(f"schedule {name!r} is no longer in {args.file}: disabled")
    clock = ScaledClock(args.time_scale) if args.time_scale != 1 else SystemClock()
    with Gantry(SerialLink(args.port, clock=clock), get_profile(plan.profile)) as gantry:
        duty = RobotDuty(
            plan, gantry, clock, store, ActionJournal(sessions),
            alert=lambda message: print(f"ALERT {message}", file=sys.stderr, flush=True),
            done=lambda name, result: print(
                f"{duty.now():%Y-%m-%d %H:%M} {name}: done {result}", flush=True
            ),
        )  # fmt: skip
        for run in duty.runner.interrupted:
            print(f"run {run.id} ({run.job}) was interrupted: {run.detail}")
        yield duty


def keep_on_duty(duty: Any, until: datetime | None, stretch: timedelta, stopped: str) -> None:
    """Run the schedules a stretch at a time up to `until` (None: until Ctrl-C); a pause or
    resume from elsewhere is seen at the end of a stretch."""
    try:
        while until is None or duty.now() < until:
            end = duty.now() + stretch
            duty.run_until(end if until is None else min(end, until))
    except KeyboardInterrupt:
        print(stopped)


def _print_journal(store: Any, robot_id: str) -> None:
    executions = store.journal(robot_id)
    if not executions:
        print(f"robot {robot_id}: nothing in the journal yet")
    for e in executions:
        given = f" {e.progress['given_ml']:g} ml" if "given_ml" in e.progress else ""
        print(
            f"{e.scheduled_at:%Y-%m-%d %H:%M}Z {e.job:<24} {e.outcome or 'running':<13}"
            f"{given} {e.detail}".rstrip()
        )
