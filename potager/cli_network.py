"""`potager agent` and the broker options it shares with `potager serve`.

    potager agent robot.yaml --port /dev/ttyACM0 --site school-a --broker mqtt.example.org
    POTAGER_BROKER_PASSWORD=... potager agent robot.yaml --port ... --site ... --broker ...

The agent is `potager run` that also reports to the network's MQTT broker (state,
journal, observations, photos) and takes the server's commands. The robot signs in as its
own robot id; its password comes from a file (`--password-file`) or the environment
(`POTAGER_BROKER_PASSWORD`), never from the command line, where `ps` would show it.
"""

from __future__ import annotations

import argparse
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from potager.cli_run import (
    add_duty_options,
    keep_on_duty,
    robot_database,
    robot_on_duty,
)
from potager.errors import PotagerError

PASSWORD_VARIABLE = "POTAGER_BROKER_PASSWORD"
AGENT_STRETCH = timedelta(minutes=1)
"""The scheduler runs a minute (robot time) at a time, so a resume from the server takes
effect within a minute."""


def add_broker_options(parser: argparse.ArgumentParser, *, username_help: str) -> None:
    parser.add_argument(
        "--broker", metavar="HOST[:PORT]", help="the network's MQTT broker (port 1883 unless given)"
    )
    parser.add_argument("--broker-user", metavar="NAME", help=username_help)
    parser.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help=f"the broker password's file (default: ${PASSWORD_VARIABLE}, if set)",
    )


def broker_settings(args: argparse.Namespace, username: str | None) -> Any:
    """The broker to reach from `--broker`, `--broker-user` (else `username`) and the
    password's file or variable."""
    from agent.broker_client import BrokerSettings

    host, _, port = (
        str(args.broker).rpartition(":") if ":" in args.broker else (args.broker, "", "")
    )
    try:
        port_number = int(port) if port else 1883
    except ValueError:
        raise PotagerError(f"--broker {args.broker!r}: the port must be a number") from None
    return BrokerSettings(
        host=host,
        port=port_number,
        username=args.broker_user or username,
        password=_password(args.password_file),
    )


def _password(path: Path | None) -> str | None:
    if path is None:
        return os.environ.get(PASSWORD_VARIABLE) or None
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError as error:
        raise PotagerError(f"--password-file {path}: {error.strerror}") from None


def add_agent(commands: Any) -> None:
    agent = commands.add_parser(
        "agent",
        help="run a robot's schedules and report to the network's server over MQTT",
        description=(
            "Runs the robot's schedules from its own database (as `potager run`), keeping "
            "on when the network is down, and forwards its state, journal, observations "
            "and photos to the broker once it is up; takes the server's commands (e-stop, "
            "pause, resume, unlock, run one of its sequences)."
        ),
    )
    agent.add_argument("file", type=Path, metavar="ROBOT.yaml", help="the robot's schedule file")
    agent.add_argument("--port", help="the robot's serial port")
    agent.add_argument("--site", required=True, help="the site the robot belongs to")
    add_broker_options(agent, username_help="the robot's broker account (default: its id)")
    add_duty_options(agent)
    agent.add_argument("--photos", type=Path, help="the robot's photo folder (default: beside)")
    agent.add_argument(
        "--outbox", action="store_true", help="say what waits for the broker, and stop"
    )
    agent.set_defaults(handler=_run_agent)


def add_broker_files(commands: Any) -> None:
    files = commands.add_parser(
        "broker-files",
        help="the network broker's configuration, accounts and access rules, from its robots",
        description=(
            "Reads a network file (its robots, each with its site) and writes Mosquitto's "
            "configuration, password and access files into --out, with one generated "
            "password per account under credentials/ (kept when it exists already)."
        ),
    )
    files.add_argument("file", type=Path, metavar="NETWORK.yaml")
    files.add_argument("--out", type=Path, required=True, help="the folder to write into")
    files.set_defaults(handler=_run_broker_files)


def _run_broker_files(args: argparse.Namespace) -> int:
    from agent.broker_files import read_network_file, write_broker_files

    network = read_network_file(args.file)
    written = write_broker_files(network, args.out)
    print(f"broker files for {len(network.robots)} robot(s) in {written.folder}:")
    print(f"  mosquitto -c {written.folder / 'mosquitto.conf'}")
    for name in written.created:
        print(f"  new password for {name}: {written.folder / 'credentials' / f'{name}.password'}")
    print("copy each robot's credentials file to it (potager agent --password-file FILE)")
    return 0


def _run_agent(args: argparse.Namespace) -> int:
    from agent.messages import robot_topics
    from agent.outbox import Outbox
    from agent.runtime import RobotAgent
    from controller.schedule_file import load_robot_schedules
    from trials.photos import photo_dir_for

    plan = load_robot_schedules(args.file)
    robot_topics(args.site, plan.robot_id)  # names fit for topics, before the robot moves
    url, sessions = robot_database(args)
    if args.outbox:
        return _print_outbox(Outbox(sessions, args.site, plan.robot_id))
    if not args.broker or not args.port:
        raise PotagerError(
            "give the robot's serial port (--port) and the network's broker (--broker HOST), "
            "or --outbox to see what waits"
        )
    broker = broker_settings(args, plan.robot_id)
    with robot_on_duty(args, plan, sessions) as duty:
        agent = RobotAgent(duty, sessions, args.site, broker, args.photos or photo_dir_for(url))
        with agent:
            print(
                f"robot {plan.robot_id} at {args.site} on {args.port}, reporting to "
                f"{broker.host}:{broker.port}: {len(plan.schedules)} schedules",
                flush=True,
            )
            stopped = "stopping; what is not yet delivered stays in the outbox"
            keep_on_duty(duty, args.until, AGENT_STRETCH, stopped)
        waiting = agent.outbox.waiting()
        print(f"{waiting} envelope(s) wait for the broker" if waiting else "outbox delivered")
    return 0


def _print_outbox(outbox: Any) -> int:
    waiting = outbox.waiting()
    oldest = outbox.pending(1)
    since = f", the oldest recorded {oldest[0].recorded_at:%Y-%m-%d %H:%M}Z" if oldest else ""
    print(f"robot {outbox.robot_id} at {outbox.site}: {waiting} envelope(s) wait{since}")
    return 0
