"""Dry runs on the simulator, the Python `Robot` API, the command line and the schema."""

from __future__ import annotations

import argparse
import itertools
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from controller.gantry import Gantry
from controller.link import LoopbackLink
from controller.robot import Robot, RobotError, StageMark
from controller.sequence_load import SequenceError
from controller.sequence_models import Detector, sequence_json_schema
from controller.sequences import check_text, dry_run, load_sequence
from planner.motion import move_time_s
from potager.cli_sequence import add_sequence
from potager.clock import ScaledClock, VirtualClock
from potager.farm import Farm, Plant, PointGroup, ToolSlot
from potager.robots import Coordinate, get_profile
from sim.pty import PtyFirmware
from sim.serve import firmware_for

PROFILE = get_profile("genesis")
GOOD = """\
name: water the lettuces
parameters:
  amount_ml: {type: number, default: 50}
farm:
  plants:
    - {name: lettuce 2, x_mm: 800, y_mm: 300, z_mm: -200}
    - {name: lettuce 1, x_mm: 500, y_mm: 300, z_mm: -200}
  groups:
    - {name: lettuces, members: [lettuce 2, lettuce 1]}
  tool_slots:
    - {tool: watering_nozzle, x_mm: 6, y_mm: 100, z_mm: -340, flow_rate_ml_s: 10}
steps:
  - {kind: mount_tool, tool: watering_nozzle}
  - kind: for_each
    group: lettuces
    as: plant
    order: xy_ascending
    steps:
      - {kind: water, ml: $amount_ml, to: $plant}
      - {kind: mark, target: $plant, stage: planted}
  - {kind: read_pin, pin: 59, mode: analog, label: moisture}
  - kind: if
    condition: {reading: moisture, op: "<", value: 400}
    then:
      - {kind: message, text: dry soil}
    else:
      - {kind: message, text: wet soil}
  - {kind: dismount_tool}
  - {kind: wait, seconds: 2.5}
  - {kind: move, x: 0, y: 0, z: 0}
"""
EXPECTED_STREAM = [
    "G00 X0.00 Y0.00 Z0.00",  # safe-Z rise: already at the top
    "G00 X6.00 Y100.00 Z0.00",
    "G00 X6.00 Y100.00 Z-340.00",
    "G00 X106.00 Y100.00 Z-340.00",  # pull the nozzle out along +X
    "G00 X106.00 Y100.00 Z0.00",
    "G00 X106.00 Y100.00 Z0.00",
    "G00 X500.00 Y300.00 Z0.00",
    "G00 X500.00 Y300.00 Z-200.00",
    "F44 P8 V1 W0 T5000 M0",  # 50 ml at 10 ml/s
    "G00 X500.00 Y300.00 Z0.00",
    "G00 X800.00 Y300.00 Z0.00",
    "G00 X800.00 Y300.00 Z-200.00",
    "F44 P8 V1 W0 T5000 M0",
    "F42 P59 M1",
    "G00 X800.00 Y300.00 Z0.00",
    "G00 X106.00 Y100.00 Z0.00",
    "G00 X106.00 Y100.00 Z-340.00",
    "G00 X6.00 Y100.00 Z-340.00",
    "G00 X6.00 Y100.00 Z0.00",
    "G00 X0.00 Y0.00 Z0.00",
]


def _without_tags(lines: list[str]) -> list[str]:
    return [re.sub(r" Q\d+$", "", line) for line in lines]


def test_a_dry_run_sends_the_expected_command_stream() -> None:
    checked = check_text(GOOD, PROFILE)
    run = dry_run(checked, PROFILE, firmware_for(PROFILE))
    assert _without_tags(run.lines) == EXPECTED_STREAM
    assert run.command_count == 20
    assert run.record.watered_ml == 100.0
    assert run.record.messages == [("info", "dry soil")]  # the simulator reads 0
    assert run.record.stages == {"lettuce 1": "planted", "lettuce 2": "planted"}


def test_marks_are_typed_records_with_the_plant_stage_and_time() -> None:
    checked = check_text(GOOD, PROFILE)
    run = dry_run(checked, PROFILE, firmware_for(PROFILE))
    marks = run.record.marks
    assert all(isinstance(mark, StageMark) for mark in marks)
    assert [(mark.plant, mark.stage) for mark in marks] == [
        ("lettuce 1", "planted"),
        ("lettuce 2", "planted"),
    ]
    assert all(mark.at.tzinfo is UTC for mark in marks)
    assert 0 < marks[0].clock_s < marks[1].clock_s < run.duration_s
    assert run.summary()["marks"][0]["plant"] == "lettuce 1"


def test_a_mark_names_the_plant_even_when_given_its_farmbot_id(robot: Robot) -> None:
    noon = datetime(2025, 5, 1, 12, tzinfo=UTC)
    robot.wall_clock = lambda: noon
    mark = robot.mark("#12", "sprouted")
    assert mark == StageMark("bean", "sprouted", noon, robot.gantry.link.clock.now_s(), 12)
    assert robot.record.marks == [mark]
    assert robot.record.stages == {"bean": "sprouted"}
    with pytest.raises(RobotError, match="no plant is called 'pea'"):
        robot.mark("pea", "planted")


def test_a_dry_runs_duration_matches_the_motion_model_within_one_percent() -> None:
    run = dry_run(check_text(GOOD, PROFILE), PROFILE, firmware_for(PROFILE))
    moves = [Coordinate(0.0, 0.0, 0.0)]
    for line in _without_tags(run.lines):
        if line.startswith("G00"):
            x, y, z = (float(part[1:]) for part in line.split()[1:4])
            moves.append(Coordinate(x, y, z))
    motion_s = sum(move_time_s(PROFILE, a, b) for a, b in itertools.pairwise(moves))
    expected_s = motion_s + 2 * 5.0 + 2.5  # two 5 s waterings and the wait
    assert run.duration_s == pytest.approx(expected_s, rel=0.01)
    assert run.model_duration_s == pytest.approx(motion_s + 10.0, rel=1e-9)
    length_mm = sum(
        ((b.x_mm - a.x_mm) ** 2 + (b.y_mm - a.y_mm) ** 2 + (b.z_mm - a.z_mm) ** 2) ** 0.5
        for a, b in itertools.pairwise(moves)
    )
    assert run.path_length_mm == pytest.approx(length_mm)
    assert run.path_length_mm > 3000


def test_for_each_in_planner_order_starts_with_the_nearest_plant() -> None:
    text = GOOD.replace("    order: xy_ascending\n", "").replace("x_mm: 800", "x_mm: 80")
    run = dry_run(check_text(text, PROFILE), PROFILE, firmware_for(PROFILE))
    visited = [line for line in _without_tags(run.lines) if line.endswith("Z-200.00")]
    assert visited == ["G00 X80.00 Y300.00 Z-200.00", "G00 X500.00 Y300.00 Z-200.00"]


def test_a_call_passes_its_parameters() -> None:
    text = (
        "steps:\n  - {kind: call, sequence: go, with: {x_mm: 120}}\n"
        "sequences:\n  go:\n"
        "    parameters: {x_mm: {type: number}, y_mm: {type: number, default: 7}}\n"
        "    steps: [{kind: move, x: $x_mm, y: $y_mm}]\n"
    )
    run = dry_run(check_text(text, PROFILE), PROFILE, firmware_for(PROFILE))
    assert _without_tags(run.lines) == ["G00 X120.00 Y7.00 Z0.00"]


@pytest.fixture
def robot() -> Robot:
    farm = Farm(
        plants=[Plant(name="bean", x_mm=300, y_mm=400, z_mm=-100, farmbot_id=12)],
        groups=[PointGroup(name="beans", members=["bean"])],
        tool_slots=[
            ToolSlot(tool="watering_nozzle", x_mm=6, y_mm=100, z_mm=-340, flow_rate_ml_s=4),
            ToolSlot(tool="weeder", x_mm=6, y_mm=200, z_mm=-340),
        ],
    )
    gantry = Gantry(LoopbackLink(firmware_for(PROFILE), VirtualClock()), PROFILE).connect()
    return Robot(gantry, farm)


def test_the_python_api_acts_at_once_on_the_simulator(robot: Robot) -> None:
    robot.move(x=100, y=50, z=-20)
    assert robot.position == Coordinate(100.0, 50.0, -20.0)
    robot.move(x=10, relative=True)
    assert robot.position.x_mm == 110.0
    with pytest.raises(RobotError, match="needs the watering_nozzle, but mounted is: nothing"):
        robot.water(ml=10)
    robot.mount_tool("watering_nozzle")
    clock = robot.gantry.link.clock
    began_s = clock.now_s()
    assert robot.water(ml=140, to="bean") == pytest.approx(35.0)  # 140 ml at 4 ml/s
    assert clock.now_s() - began_s >= 35.0
    assert robot.position == Coordinate(300.0, 400.0, -100.0)
    assert robot.read_pin(59, "moisture", mode="analog") == robot.record.readings["moisture"]
    robot.dismount_tool()
    robot.mount_tool("weeder")
    robot.weed("bean", depth=30)
    assert robot.position.z_mm == PROFILE.safe_z_mm
    assert robot.tool == "weeder"


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    add_sequence(parser.add_subparsers())
    args = parser.parse_args(argv)
    handler: Any = args.handler
    return int(handler(args))


def test_cli_dry_run_prints_json_and_draws_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "water.yaml"
    source.write_text(GOOD)
    picture = tmp_path / "path.png"
    assert _cli(["sequence", "dry-run", str(source), "--json", "--plot", str(picture)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["command_count"] == 20
    assert summary["duration_s"] > 60
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _cli(["sequence", "dry-run", str(source), "--json", "--set", "amount_ml=20"]) == 0
    assert json.loads(capsys.readouterr().out)["watered_ml"] == 40.0
    with pytest.raises(SequenceError, match="no parameter 'amount'; valid: amount_ml"):
        _cli(["sequence", "dry-run", str(source), "--set", "amount=20"])


def test_cli_check_reports_ok_or_raises_with_the_messages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "water.yaml"
    source.write_text(GOOD)
    assert _cli(["sequence", "check", str(source)]) == 0
    assert "OK, 7 steps" in capsys.readouterr().out
    source.write_text("steps:\n  - {kind: wait, seconds: -1}\n")
    with pytest.raises(Exception, match=r"water.yaml:2:18: step 1 wait: `seconds` must be more"):
        _cli(["sequence", "check", str(source)])


def test_load_sequence_reads_a_file(tmp_path: Path) -> None:
    source = tmp_path / "s.json"
    source.write_text(json.dumps({"steps": [{"kind": "move", "x": 5}]}))
    assert load_sequence(source, PROFILE).document.steps[0].kind == "move"


SOW = """\
farm:
  points:
    - {name: tray, x_mm: 50, y_mm: 0, z_mm: -300}
  plants:
    - {name: radish, x_mm: 400, y_mm: 600, z_mm: -450}
  tool_slots:
    - {tool: seeder, x_mm: 6, y_mm: 100, z_mm: -340}
steps:
  - {kind: find_home, axis: x}
  - {kind: set_home, axis: y}
  - {kind: mount_tool, tool: seeder}
  - {kind: sow, tray: tray, to: radish, depth: 10}
  - {kind: dismount_tool, tool: seeder}
  - {kind: take_photo, to: radish}
  - {kind: detect, function: weeds, arguments: {min_radius_mm: 3}}
  - {kind: log, text: done, level: success}
"""


class _Radius(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_radius_mm: float


def test_sowing_carries_a_seed_from_the_tray_under_vacuum_and_detect_calls_the_hook() -> None:
    seen: list[tuple[Coordinate, float]] = []

    def find_weeds(robot: Any, arguments: Any) -> list[str]:
        seen.append((robot.position, arguments.min_radius_mm))
        return ["weed at 410, 600"]

    detectors = {"weeds": Detector(_Radius, find_weeds)}
    checked = check_text(SOW, PROFILE, detectors=detectors)
    run = dry_run(checked, PROFILE, firmware_for(PROFILE), detectors=detectors)
    lines = _without_tags(run.lines)
    assert lines[:2] == ["F11", "F84 X0 Y1 Z0"]
    vacuum_on, vacuum_off = lines.index("F41 P9 V1 M0"), lines.index("F41 P9 V0 M0")
    assert lines[vacuum_on - 1] == "G00 X50.00 Y0.00 Z-300.00"  # down on the tray
    assert lines[vacuum_off - 1] == "G00 X400.00 Y600.00 Z-460.00"  # 10 mm into the soil
    assert run.record.photos == [Coordinate(400.0, 600.0, -450.0)]
    assert seen == [(Coordinate(400.0, 600.0, -450.0), 3.0)]
    assert run.record.detections == {"weeds": ["weed at 410, 600"]}
    assert run.record.messages == [("success", "done")]


def test_cli_run_drives_a_robot_on_a_serial_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "short.yaml"
    source.write_text(
        "steps:\n  - {kind: move, x: 20, y: 10}\n  - {kind: read_pin, pin: 63, label: tool}\n"
    )
    with PtyFirmware(firmware_for(PROFILE), ScaledClock(500.0)) as sim:
        assert _cli(["sequence", "run", str(source), "--port", sim.port]) == 0
        with sim.locked() as firmware:
            assert firmware.position_mm[:2] == (20.0, 10.0)
    assert "done; readings {'tool': 0}" in capsys.readouterr().out


def test_cli_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(["sequence", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == sequence_json_schema()
    assert set(schema["$defs"]["IfStep"]["properties"]) == {
        "name",
        "kind",
        "condition",
        "then",
        "else",
    }
