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
import sys
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
    run.add_argument("--database", help="SQLAlchemy URL (default: the settings' database)")
    run.add_argument(
        "--until",
        type=datetime.fromisoformat,
        metavar="ISO-TIME",
        help="stop at this time (with its UTC offset, e.g. 2026-06-02T00:00+02:00)",
    )
    run.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="for a simulated robot only: its clock's speed-up (as `potager sim firmware`)",
    )
    run.add_argument("--journal", action="store_true", help="print the journal and stop")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from controller.action_journal import ActionJournal
    from controller.schedule_file import load_robot_schedules
    from controller.scheduler import ScheduleStore
    from potager.db import make_engine, session_factory, upgrade_database
    from potager.errors import PotagerError
    from potager.settings import load_settings

    plan = load_robot_schedules(args.file)
    url = args.database or load_settings().effective_database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    upgrade_database(url)
    sessions = session_factory(make_engine(url))
    store, journal = ScheduleStore(sessions), ActionJournal(sessions)
    if args.journal:
        _print_journal(store, plan.robot_id)
        return 0
    if not args.port:
        raise PotagerError("give the robot's serial port with --port (or --journal to read)")
    from controller.duty import install_schedules

    for name in install_schedules(store, plan):
        print(f"schedule {name!r} is no longer in {args.file}: disabled")
    return _run_robot(args, plan, store, journal)


def robot_clock(time_scale: float) -> Any:
    """The robot's clock: real time, or a simulated robot's sped-up one."""
    from potager.clock import ScaledClock, SystemClock

    return ScaledClock(time_scale) if time_scale != 1 else SystemClock()


def _run_robot(args: argparse.Namespace, plan: Any, store: Any, journal: Any) -> int:
    from controller.duty import RobotDuty
    from controller.gantry import Gantry
    from controller.link import SerialLink
    from potager.robots import get_profile

    clock = robot_clock(args.time_scale)
    with Gantry(SerialLink(args.port, clock=clock), get_profile(plan.profile)) as gantry:
        duty = RobotDuty(
            plan, gantry, clock, store, journal,
            alert=lambda message: print(f"ALERT {message}", file=sys.stderr, flush=True),
            done=lambda name, result: print(
                f"{duty.now():%Y-%m-%d %H:%M} {name}: done {result}", flush=True
            ),
        )  # fmt: skip
        for run in duty.runner.interrupted:
            print(f"run {run.id} ({run.job}) was interrupted: {run.detail}")
        print(f"robot {plan.robot_id} on {args.port}: {len(plan.schedules)} schedules", flush=True)
        try:
            if args.until is not None:
                duty.run_until(args.until)
            else:
                while True:
                    duty.run_until(duty.now() + WATCH_STRETCH)
        except KeyboardInterrupt:
            print("stopped; the journal keeps what was done")
    return 0


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
