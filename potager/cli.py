"""The `potager` command: one entry point for every kind of user.

Each sub-command parses its arguments here and hands over to the package that does the
work; heavy imports happen inside the handlers so `potager --help` stays instant. Any
`PotagerError` ends the program with its message and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from potager.errors import PotagerError
from potager.robots import PROFILES, Axis

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


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="potager", description="Run FarmBot-style gantry robots and their field trials."
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_demo(commands)
    _add_robot(commands)
    _add_sim(commands)
    return parser


def _add_demo(commands: Any) -> None:
    demo = commands.add_parser("demo", help="drive a simulated robot through the main job")
    demo.add_argument("--profile", choices=sorted(PROFILES), default="genesis-xl")
    demo.add_argument("--time-scale", type=float, default=50.0, help="simulated clock speed-up")
    demo.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from sim.demo import run_demo

    run_demo(profile_name=args.profile, time_scale=args.time_scale, out=sys.stdout)
    return 0


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


def _run_sim_firmware(args: argparse.Namespace) -> int:
    from sim.serve import serve_firmwares

    serve_firmwares(
        profile_name=args.profile, count=args.count, time_scale=args.time_scale, out=sys.stdout
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
