"""`potager sequence ...`: check, dry-run, run a student sequence, or print its schema.

FILE is our YAML/JSON sequence or a FarmBot CeleryScript export (recognised by its shape).
Handlers import the controller only when they run, so `potager --help` stays instant.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from potager.robots import PROFILES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from controller.sequence_check import CheckedSequence
    from controller.sequence_models import Detector
    from potager.farm import Farm
    from potager.robots import RobotProfile


def add_sequence(commands: Any) -> None:
    sequence = commands.add_parser(
        "sequence", help="student sequences: check, dry-run on the simulator, run, schema"
    )
    actions = sequence.add_subparsers(title="actions", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate a sequence file; list every problem")
    _file_options(check)
    check.set_defaults(handler=_run_check)
    dry = actions.add_parser("dry-run", help="run on the simulator: time, path, commands")
    _file_options(dry)
    dry.add_argument("--json", action="store_true", help="machine-readable output")
    dry.add_argument("--plot", metavar="PNG", help="draw the path over the bed into PNG")
    dry.set_defaults(handler=_run_dry_run)
    run = actions.add_parser("run", help="run on a robot on a serial port")
    _file_options(run)
    run.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyACM0")
    run.set_defaults(handler=_run_on_robot)
    schema = actions.add_parser("schema", help="print the JSON Schema of sequence files")
    schema.set_defaults(handler=_run_schema)


def _file_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="sequence YAML/JSON or FarmBot export")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="genesis")
    parser.add_argument("--farm", metavar="FARM", help="farm map YAML/JSON (default: in FILE)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE",
        help="give a parameter of the sequence a value; repeat for several",
    )  # fmt: skip


def _checked(
    args: argparse.Namespace, detectors: Mapping[str, Detector]
) -> tuple[CheckedSequence, RobotProfile]:
    from controller.sequences import load_sequence
    from potager.robots import get_profile

    profile = get_profile(args.profile)
    farm = _read_farm(args.farm) if args.farm else None
    return load_sequence(args.file, profile, farm, detectors), profile


def _arguments(settings: list[str], checked: CheckedSequence) -> dict[str, Any]:
    """`--set NAME=VALUE` options as parameter values of the type each parameter declares."""
    from controller.sequence_load import SequenceError

    parameters = checked.document.parameters
    values: dict[str, Any] = {}
    for setting in settings:
        name, _, text = setting.partition("=")
        if name not in parameters:
            valid = ", ".join(parameters) or "(the sequence has no parameters)"
            raise SequenceError([f"--set {setting}: no parameter {name!r}; valid: {valid}"])
        if parameters[name].type != "number":
            values[name] = text
            continue
        try:
            values[name] = float(text)
        except ValueError:
            raise SequenceError([f"--set {setting}: {name} is a number, got {text!r}"]) from None
    return values


def _read_farm(path: str) -> Farm:
    from pydantic import ValidationError

    from controller.sequence_load import SequenceError, load_file
    from potager.farm import Farm

    try:
        return Farm.model_validate(load_file(path).data)
    except ValidationError as error:
        raise SequenceError([f"{path}: {error}"]) from None


def _run_check(args: argparse.Namespace) -> int:
    from potager.robots import get_profile
    from sim.detection import simulator_detectors

    detectors, _ = simulator_detectors(get_profile(args.profile))
    checked, profile = _checked(args, detectors)
    steps = len(checked.document.steps)
    print(f"{checked.source}: OK, {steps} steps, ready for a {profile.name}")
    return 0


def _run_dry_run(args: argparse.Namespace) -> int:
    from controller.sequences import dry_run, plot_dry_run
    from potager.robots import get_profile
    from sim.detection import simulator_detectors
    from sim.serve import firmware_for

    detectors, eyes = simulator_detectors(get_profile(args.profile))
    checked, profile = _checked(args, detectors)
    eyes.farm = checked.farm
    arguments = _arguments(args.set, checked)
    run = dry_run(checked, profile, firmware_for(profile), arguments=arguments, detectors=detectors)
    if args.plot:
        plot_dry_run(run, profile, args.plot)
    summary = run.summary()
    if args.json:
        print(json.dumps(summary, default=str))
        return 0
    print(f"{checked.source} on a simulated {profile.name}:")
    print(f"  duration  {run.duration_s:.1f} s ({run.duration_s / 60:.1f} min)")
    print(f"  path      {run.path_length_mm:.0f} mm")
    print(f"  commands  {run.command_count}")
    for message in summary["messages"]:
        print(f"  message   {message}")
    for name, found in run.record.detections.items():
        if isinstance(found, dict) and "weeds" in found:
            print(
                f"  {name}: {found['photos']} photos, {len(found['weeds'])} weeds to strike, "
                f"{len(found['review'])} left for review"
            )
    if args.plot:
        print(f"  picture   {args.plot}")
    return 0


def _run_on_robot(args: argparse.Namespace) -> int:
    from controller.gantry import Gantry
    from controller.link import SerialLink
    from controller.robot import Robot
    from controller.sequences import run_sequence

    # the robot's own camera is not wired to this command yet: no `detect` on a real robot
    checked, profile = _checked(args, {})
    with Gantry(SerialLink(args.port), profile) as gantry:
        robot = Robot(gantry, checked.farm, tool=checked.document.starts_with_tool)
        record = run_sequence(checked, robot, _arguments(args.set, checked))
    print(f"{checked.source}: done; readings {record.readings}, watered {record.watered_ml} ml")
    return 0


def _run_schema(args: argparse.Namespace) -> int:
    from controller.sequence_models import sequence_json_schema

    print(json.dumps(sequence_json_schema(), indent=2))
    return 0
