"""The `potager` command: one entry point for every kind of user.

Each sub-command parses its arguments here and hands over to the package that does the
work; heavy imports happen inside the handlers so `potager --help` stays instant. Any
`PotagerError` ends the program with its message and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from potager.cli_network import add_agent, add_broker_files
from potager.cli_run import add_run
from potager.cli_sequence import add_sequence
from potager.cli_sim import add_sim_research
from potager.cli_trial import add_trial
from potager.cli_web import add_web
from potager.errors import PotagerError
from potager.robots import PROFILES, Axis, RobotProfile

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from planner.motion import TravelMetric
    from planner.tour import TourPlan

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except PotagerError as error:
        if getattr(args, "json", False):
            print(json.dumps({"ok": False, "error": str(error), "kind": type(error).__name__}))
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader left early (`potager ... | head`): nothing went wrong on our side.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="potager", description="Run FarmBot-style gantry robots and their field trials."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_demo(commands)
    _add_plan(commands)
    _add_robot(commands)
    _add_sim(commands)
    _add_vision(commands)
    add_trial(commands)
    add_sequence(commands)
    add_run(commands)
    add_agent(commands)
    add_broker_files(commands)
    add_web(commands)
    return parser


def _add_demo(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help="a month of a watering trial on a simulated robot, analysed at the end"
    )
    demo.add_argument("--profile", choices=sorted(PROFILES), default="genesis-xl")
    demo.add_argument("--time-scale", type=float, default=600.0, help="simulated clock speed-up")
    demo.add_argument("--days", type=int, default=30, help="how long the season lasts")
    demo.add_argument("--out", type=Path, default=Path("var/demo"), help="folder for the results")
    demo.add_argument(
        "--no-serve", action="store_true", help="exit at the end instead of serving the dashboard"
    )
    demo.add_argument("--port", type=int, default=8000, help="where the dashboard is served")
    demo.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from potager.cli_web import serve
    from sim.demo import run_demo

    report = run_demo(args.out, args.profile, args.time_scale, args.days, out=sys.stdout)
    if args.no_serve:
        return 0
    url = f"sqlite:///{report.out_dir / 'potager.sqlite3'}"
    base = f"http://127.0.0.1:{args.port}"
    trial_id, password, token = _demo_access(url)
    print(
        f"\nDashboard: {base}/trials/{trial_id} (sign in as demo, password {password})\n"
        f"Read-only link for a school or a farmer: {base}/shared/{token}\n"
        "Serving until Ctrl-C (potager demo --no-serve exits instead).",
        flush=True,
    )
    serve(url, "127.0.0.1", args.port)
    return 0


def _demo_access(url: str) -> tuple[int, str, str]:
    """A researcher account for the demo (a fresh password each run) and a share link."""
    import secrets

    from potager.db import make_engine, session_factory
    from trials.store import TrialStore
    from web.accounts import Accounts, Role

    sessions = session_factory(make_engine(url))
    trial_id = TrialStore(sessions).trials()[0].id
    accounts, password = Accounts(sessions), secrets.token_urlsafe(9)
    user_id = accounts.create_user("demo", password, Role.RESEARCHER)
    _, token = accounts.share(trial_id, user_id, "demo")
    return trial_id, password, token


# ----------------------------------------------------------------------------- plan


def _add_plan(commands: Any) -> None:
    plan = commands.add_parser("plan", help="plan the robot's work without a robot")
    actions = plan.add_subparsers(title="actions", metavar="ACTION", required=True)
    tour = actions.add_parser(
        "tour",
        help="the fastest order to visit the points of a CSV file",
        description=(
            "Read points from a CSV file (a header row naming x_mm and y_mm; other columns "
            "are ignored) and print the order to visit them in, as 0-based indices of the "
            "data rows, with the predicted travel time, the path length and the planning "
            "time. Errors name the file's row, counting the header as row 1."
        ),
    )
    tour.add_argument("points", metavar="POINTS.csv", help="CSV file with x_mm, y_mm columns")
    tour.add_argument("--profile", choices=sorted(PROFILES), default="genesis-xl")
    tour.add_argument(
        "--start", type=_xy_mm, default=(0.0, 0.0), metavar="X,Y", help="start, mm (0,0)"
    )
    ending = tour.add_mutually_exclusive_group()
    ending.add_argument("--end", type=_xy_mm, metavar="X,Y", help="finish here (default: anywhere)")
    ending.add_argument("--closed", action="store_true", help="come back to the start")
    method = tour.add_mutually_exclusive_group()
    method.add_argument("--budget-s", type=float, help="seconds the optimiser may improve for")
    method.add_argument(
        "--order",
        metavar="NAME",
        help="a FarmBot sort instead of the optimiser, e.g. xy_ascending or nn "
        "(an unknown name lists them all)",
    )
    tour.add_argument("--seed", type=int, default=0, help="for the optimiser and 'random'")
    tour.add_argument("--json", action="store_true", help="machine-readable output")
    tour.set_defaults(handler=_run_plan_tour)


def _xy_mm(text: str) -> tuple[float, float]:
    """An `X,Y` option in millimetres."""
    try:
        x_mm, y_mm = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X,Y in millimetres, got {text!r}") from None
    return x_mm, y_mm


def _run_plan_tour(args: argparse.Namespace) -> int:
    from planner.motion import TravelMetric
    from planner.points_csv import read_points_csv
    from planner.tour import plan_tour
    from potager.robots import get_profile

    profile = get_profile(args.profile)
    table = read_points_csv(args.points)
    table.check_on_bed(profile)
    for option, xy_mm in (("--start", args.start), ("--end", args.end)):
        if xy_mm is not None:
            _check_position_on_bed(option, xy_mm, profile)
    metric = TravelMetric.for_profile(profile)
    ends = {"start_mm": args.start, "end_mm": args.end, "closed": args.closed}
    if args.order:
        tour = _farmbot_tour(table.points_mm, args.order, metric, args.seed, ends)
    else:
        tour = plan_tour(table.points_mm, metric, budget_s=args.budget_s, seed=args.seed, **ends)
    outcome = {
        "ok": True,
        "profile": profile.name,
        "points": len(table.points_mm),
        "order_name": args.order or "optimised",
        "order": tour.order.tolist(),
        "duration_s": tour.duration_s,
        "length_mm": tour.length_mm,
        "planning_s": tour.planning_s,
        "compile_s": tour.compile_s,
    }
    _print_tour(outcome, table.source, args.json)
    return 0


def _check_position_on_bed(option: str, xy_mm: tuple[float, float], profile: RobotProfile) -> None:
    for axis, value_mm in zip((Axis.X, Axis.Y), xy_mm, strict=True):
        low, high = profile.allowed_range_mm(axis)
        if not low <= value_mm <= high:
            raise PotagerError(
                f"{option}: {axis.upper()} {value_mm:g} mm is outside the {profile.name} bed "
                f"({axis.upper()} {low:g}-{high:g} mm)"
            )


def _farmbot_tour(
    points_mm: NDArray[Any], sort: str, metric: TravelMetric, seed: int, ends: dict[str, Any]
) -> TourPlan:
    """FarmBot's order, priced like the optimiser's so the two compare."""
    from planner.sorts import farmbot_order
    from planner.tour import TourPlan, evaluate_order

    began = time.perf_counter()
    order = farmbot_order(points_mm, sort, seed=seed)
    planning_s = time.perf_counter() - began
    duration_s, length_mm = evaluate_order(points_mm, order, metric, **ends)
    return TourPlan(order, duration_s, length_mm, planning_s)


def _print_tour(outcome: dict[str, Any], source: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(outcome))
        return
    order = " ".join(str(index) for index in outcome["order"])
    print(f"{outcome['points']} points from {source} on a {outcome['profile']}")
    print(f"{outcome['order_name']} order (0-based data rows):")
    print(textwrap.fill(order, width=100, initial_indent="  ", subsequent_indent="  "))
    print(f"  duration  {outcome['duration_s']:.1f} s ({outcome['duration_s'] / 60:.1f} min)")
    print(f"  length    {outcome['length_mm']:.0f} mm ({outcome['length_mm'] / 1000:.2f} m)")
    kernels = outcome["compile_s"]
    loading = f" (+ {kernels:.2f} s to load or compile the planner)" if kernels else ""
    print(f"  planning  {outcome['planning_s']:.3g} s{loading}")


# ---------------------------------------------------------------------------- robot


def _add_robot(commands: Any) -> None:
    robot = commands.add_parser(
        "robot",
        help="manual control of a robot on a serial port (real or simulated)",
        description="Connect, upload the profile's configuration, do one thing, print it.",
    )
    robot.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyACM0")
    robot.add_argument("--profile", choices=sorted(PROFILES), default="genesis")
    robot.add_argument("--json", action="store_true", help="machine-readable output")
    actions = robot.add_subparsers(title="actions", metavar="ACTION", required=True)
    actions.add_parser("info", help="firmware version, position, state").set_defaults(action="info")
    move = actions.add_parser("move", help="move to X Y Z millimetres")
    for axis in "xyz":
        move.add_argument(f"{axis}_mm", type=float, metavar=axis.upper())
    move.add_argument("--speed", type=float, default=100.0, help="percent of maximum speed")
    move.set_defaults(action="move")
    actions.add_parser("go-home", help="move to 0, 0, 0").set_defaults(action="go-home")
    find_home = actions.add_parser("find-home", help="search the home end-stop of an axis")
    find_home.add_argument("axis", type=Axis, choices=list(Axis))
    find_home.set_defaults(action="find-home")
    pin_write = actions.add_parser("pin-write", help="set a digital pin")
    pin_write.add_argument("pin", type=int)
    pin_write.add_argument("value", type=int)
    pin_write.set_defaults(action="pin-write")
    pin_read = actions.add_parser("pin-read", help="read a digital pin")
    pin_read.add_argument("pin", type=int)
    pin_read.set_defaults(action="pin-read")
    actions.add_parser("estop", help="emergency stop").set_defaults(action="estop")
    actions.add_parser("unlock", help="release the emergency stop").set_defaults(action="unlock")
    robot.set_defaults(handler=_run_robot)


def _run_robot(args: argparse.Namespace) -> int:
    from controller.gantry import Gantry
    from controller.link import SerialLink
    from potager.robots import get_profile

    with Gantry(SerialLink(args.port), get_profile(args.profile)) as gantry:
        outcome: dict[str, Any] = {"ok": True, "action": args.action}
        match args.action:
            case "move":
                gantry.move_to(args.x_mm, args.y_mm, args.z_mm, speed_percent=args.speed)
            case "go-home":
                gantry.go_home()
            case "find-home":
                gantry.find_home(args.axis)
            case "pin-write":
                gantry.write_pin(args.pin, args.value)
            case "pin-read":
                outcome["value"] = gantry.read_pin(args.pin)
            case "estop":
                gantry.emergency_stop()
            case "unlock":
                gantry.unlock()
        if args.action != "estop":
            gantry.read_position()
        outcome |= {
            "firmware_version": gantry.firmware_version,
            "position_mm": gantry.position._asdict(),
            "estopped": gantry.estopped,
        }
    _print_outcome(outcome, args.json)
    return 0


def _print_outcome(outcome: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(outcome))
        return
    position = outcome["position_mm"]
    print(f"{outcome['action']}: done")
    if "value" in outcome:
        print(f"  value     {outcome['value']}")
    print(f"  firmware  {outcome['firmware_version']}")
    print(
        f"  position  X {position['x_mm']:.2f}  Y {position['y_mm']:.2f}  "
        f"Z {position['z_mm']:.2f} mm"
    )
    print(f"  state     {'E-STOPPED' if outcome['estopped'] else 'ready'}")


# ------------------------------------------------------------------------------ sim


def _add_sim(commands: Any) -> None:
    sim = commands.add_parser("sim", help="simulators")
    parts = sim.add_subparsers(title="simulators", metavar="WHAT", required=True)
    firmware = parts.add_parser(
        "firmware", help="virtual Farmduino(s) on pseudo-terminals; prints each port"
    )
    firmware.add_argument("--profile", choices=sorted(PROFILES), default="genesis")
    firmware.add_argument("--count", type=int, default=1, help="how many robots")
    firmware.add_argument("--time-scale", type=float, default=1.0, help="clock speed-up")
    firmware.set_defaults(handler=_run_sim_firmware)
    add_sim_research(parts)


def _run_sim_firmware(args: argparse.Namespace) -> int:
    from sim.serve import serve_firmwares

    serve_firmwares(
        profile_name=args.profile, count=args.count, time_scale=args.time_scale, out=sys.stdout
    )
    return 0


def _add_vision(commands: Any) -> None:
    vision = commands.add_parser("vision", help="plant and weed detection in photos")
    actions = vision.add_subparsers(title="actions", metavar="ACTION", required=True)
    evaluate = actions.add_parser(
        "evaluate",
        help="score our detector and FarmBot's on an annotated dataset folder",
        description="Recognises a CWFID or Carrot-Weed layout; prints a per-image table.",
    )
    evaluate.add_argument("dataset_dir", metavar="DATASET_DIR")
    evaluate.add_argument("--scale", type=float, default=0.5, help="photo size factor, (0, 1]")
    evaluate.add_argument("--folds", type=int, default=4, help="cross-validation blocks")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.set_defaults(handler=_run_vision_evaluate)


def _run_vision_evaluate(args: argparse.Namespace) -> int:
    from vision.datasets import open_dataset
    from vision.evaluate import evaluate, report_text

    report = evaluate(open_dataset(args.dataset_dir), scale=args.scale, folds=args.folds)
    print(report.model_dump_json(indent=2) if args.json else report_text(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
