"""`potager serve` and `potager user`: the web application and who may use it.

potager serve [--host 127.0.0.1] [--port 8000] [--database URL]
potager serve --database postgresql://... --broker mqtt.example.org   # a network's server
potager user add NAME --role researcher [--site NAME]   # password read from stdin
potager user add NAME --role student --teacher NAME    # in that teacher's class
potager user token NAME --label "robot greenhouse-1"      # an API token, shown once
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from potager.cli_network import add_broker_options, broker_settings

ROLES = ("admin", "researcher", "operator", "teacher", "student", "viewer")
GRACEFUL_SHUTDOWN_S = 3
"""On Ctrl-C, open pages (a robots page's event stream never ends) get this long to go."""
SIM_NOZZLE_FLOW_ML_S = 25.0
"""The simulated robots' watering nozzle (the simulated season's)."""


def add_web(commands: Any) -> None:
    serve = commands.add_parser("serve", help="the web application: dashboards, API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--sim-robots", type=int, default=0, help="simulated robots to show and drive"
    )
    serve.add_argument("--sim-site", help="the site the simulated robots belong to")
    serve.add_argument(
        "--sim-farm", help="a farm map (YAML/JSON: plants, tool slots) for the simulated robots"
    )
    serve.add_argument("--time-scale", type=float, default=10.0, help="their clock speed-up")
    add_broker_options(serve, username_help="the server's broker account (potager-server)")
    _database_option(serve)
    serve.set_defaults(handler=_run_serve)
    user = commands.add_parser("user", help="web accounts: add a user, issue an API token")
    actions = user.add_subparsers(title="actions", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="a new user; the password is read from stdin")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--site", help="the site an operator's robots belong to")
    add.add_argument("--teacher", help="a student's teacher: puts the student in their class")
    _database_option(add)
    add.set_defaults(handler=_run_user_add)
    token = actions.add_parser("token", help="an API token for scripts and robots")
    token.add_argument("name")
    token.add_argument("--label", required=True, help="what the token is for")
    _database_option(token)
    token.set_defaults(handler=_run_user_token)


def database_url(given: str | None) -> str:
    from potager.settings import load_settings

    url = given or load_settings().effective_database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return url


def serve(url: str, host: str, port: int, hub: Any = None) -> None:
    import uvicorn

    from web.app import create_app

    uvicorn.run(
        create_app(url, hub),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


def _database_option(parser: Any) -> None:
    parser.add_argument("--database", help="SQLAlchemy URL (default: the settings' database)")


def _run_serve(args: argparse.Namespace) -> int:
    url = database_url(args.database)
    from potager.cli_sequence import _read_farm

    farm = _read_farm(args.sim_farm) if args.sim_farm else None
    with (
        simulated_hub(url, args.sim_robots, args.sim_site, args.time_scale, farm) as hub,
        _network(args, url, hub),
    ):
        print(f"Potager on http://{args.host}:{args.port}/ (Ctrl-C stops)", flush=True)
        serve(url, args.host, args.port, hub)
    return 0


def _network(
    args: argparse.Namespace, url: str, hub: Any
) -> contextlib.AbstractContextManager[Any]:
    """With --broker, the server ingests from the network's robots and commands them."""
    if not args.broker:
        return contextlib.nullcontext()
    from potager.db import make_engine, session_factory, upgrade_database
    from trials.photos import photo_dir_for
    from web.network_server import SERVER_ACCOUNT, ServerNetwork

    upgrade_database(url)
    broker = broker_settings(args, SERVER_ACCOUNT)
    print(f"ingesting from the broker at {broker.host}:{broker.port} as {broker.username}")
    return ServerNetwork(session_factory(make_engine(url)), broker, hub, photo_dir_for(url))


@contextlib.contextmanager
def simulated_hub(
    url: str, count: int, site: str | None, time_scale: float, farm: Any = None
) -> Iterator[Any]:
    """A robot hub with `count` simulated Genesis robots on pseudo-terminals.

    Each tends `farm` (a `potager.farm.Farm`); without one, a garden with no plants and
    FarmBot's seeded tool bay, so that watering at a position works out of the box.
    """
    from controller.gantry import Gantry
    from controller.link import SerialLink
    from planner.jobs import ToolBay
    from potager.clock import ScaledClock
    from potager.db import make_engine, session_factory, upgrade_database
    from potager.farm import Farm
    from potager.robots import get_profile
    from sim.serve import simulated_robots
    from trials.store import TrialStore
    from web.robots import RobotHub

    hub = RobotHub()
    site_id = None
    if site is not None:
        upgrade_database(url)
        site_id = TrialStore(session_factory(make_engine(url))).site_id(site)
    profile, clock = get_profile("genesis"), ScaledClock(time_scale)
    bay = ToolBay.seeded(nozzle_flow_rate_ml_s=SIM_NOZZLE_FLOW_ML_S)
    garden = farm or Farm(tool_slots=list(bay.slots))
    with simulated_robots(profile, count, clock) as ports, contextlib.ExitStack() as stack:
        for number, robot in enumerate(ports, start=1):
            gantry = stack.enter_context(Gantry(SerialLink(robot.port, clock=clock), profile))
            hub.add(f"sim-{number}", f"Simulated robot {number}", site_id, gantry, garden)
        yield hub


def _accounts(given: str | None) -> Any:
    from potager.db import make_engine, session_factory, upgrade_database
    from web.accounts import Accounts

    url = database_url(given)
    upgrade_database(url)
    return Accounts(session_factory(make_engine(url)))


def _run_user_add(args: argparse.Namespace) -> int:
    from potager.db import make_engine, session_factory
    from trials.store import TrialStore
    from web.accounts import Role
    from web.classroom import Classroom

    accounts = _accounts(args.database)
    site_id = None
    if args.site:
        store = TrialStore(session_factory(make_engine(database_url(args.database))))
        site_id = store.site_id(args.site)
        if site_id is None:
            from web.accounts import AccessError

            raise AccessError(f"there is no site {args.site!r}; create its trial first")
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
    classroom = Classroom(session_factory(make_engine(database_url(args.database))))
    teacher_id = _teacher_id(classroom, args) if args.teacher else None
    user_id = accounts.create_user(args.name, password.rstrip("\n"), Role(args.role), site_id)
    if teacher_id is not None:
        classroom.enrol(user_id, teacher_id)
    print(f"user {args.name!r} ({args.role}) created, id {user_id}")
    return 0


def _teacher_id(classroom: Any, args: argparse.Namespace) -> int:
    """The teacher a new student joins; checked before the student is created."""
    from web.classroom import ClassroomError

    if args.role != "student":
        raise ClassroomError("--teacher is for students: only a student joins a class")
    teacher_id: int = classroom.teacher_id(args.teacher)
    return teacher_id


def _run_user_token(args: argparse.Namespace) -> int:
    from web.accounts import AccessError

    accounts = _accounts(args.database)
    user_id = accounts.user_id(args.name)
    if user_id is None:
        raise AccessError(f"there is no user {args.name!r}")
    print(accounts.issue_api_token(user_id, args.label))
    return 0
