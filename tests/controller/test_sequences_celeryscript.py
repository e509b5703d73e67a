"""Importing FarmBot sequences exported as CeleryScript JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from controller.sequence_load import SequenceError, load_text
from controller.sequences import dry_run, load_sequence
from potager.farm import Farm, Plant, ToolSlot
from potager.robots import get_profile
from sim.serve import firmware_for

PROFILE = get_profile("genesis")


def _coordinate(x: float, y: float, z: float) -> dict[str, Any]:
    return {"kind": "coordinate", "args": {"x": x, "y": y, "z": z}}


def _numeric(axis: str, number: float, kind: str = "axis_overwrite") -> dict[str, Any]:
    operand = {"kind": "numeric", "args": {"number": number}}
    return {"kind": kind, "args": {"axis": axis, "axis_operand": operand}}


WATER_EXPORT: dict[str, Any] = {
    "kind": "sequence",
    "name": "Water the bean",
    "color": "blue",
    "folder_id": None,
    "args": {
        "version": 20180209,
        "locals": {"kind": "scope_declaration", "args": {}, "body": []},
    },
    "body": [
        {"kind": "find_home", "args": {"axis": "all", "speed": 100}},
        {
            "kind": "move_absolute",
            "args": {
                "location": {"kind": "point", "args": {"pointer_type": "Plant", "pointer_id": 41}},
                "offset": _coordinate(0, 0, 0),
                "speed": 100,
            },
        },
        {
            "kind": "move",
            "args": {},
            "body": [_numeric("z", -150), _numeric("x", 10), {"kind": "safe_z", "args": {}}],
        },
        {"kind": "move", "args": {}, "body": [_numeric("y", 25, "axis_addition")]},
        {"kind": "write_pin", "args": {"pin_number": 8, "pin_value": 1, "pin_mode": 0}},
        {"kind": "wait", "args": {"milliseconds": 3000}},
        {"kind": "write_pin", "args": {"pin_number": 8, "pin_value": 0, "pin_mode": 0}},
        {"kind": "read_pin", "args": {"pin_number": 59, "label": "soil", "pin_mode": 1}},
        {
            "kind": "_if",
            "args": {
                "lhs": "pin59",
                "op": "<",
                "rhs": 300,
                "_then": {"kind": "execute", "args": {"sequence_id": 7}},
                "_else": {"kind": "nothing", "args": {}},
            },
            "body": [],
        },
        {"kind": "take_photo", "args": {}},
        {
            "kind": "send_message",
            "args": {"message": "bean watered", "message_type": "success"},
            "body": [{"kind": "channel", "args": {"channel_name": "toast"}}],
        },
        {
            "kind": "update_resource",
            "args": {
                "resource": {
                    "kind": "resource",
                    "args": {"resource_type": "Plant", "resource_id": 41},
                }
            },
            "body": [{"kind": "pair", "args": {"label": "plant_stage", "value": "planted"}}],
        },
        {"kind": "home", "args": {"axis": "all", "speed": 100}},
    ],
}
HELPER = {
    "kind": "sequence",
    "id": 7,
    "name": "Blink",
    "args": {"locals": {"kind": "scope_declaration", "args": {}, "body": []}},
    "body": [{"kind": "write_pin", "args": {"pin_number": 7, "pin_value": 1, "pin_mode": 0}}],
}
FARM = Farm(
    plants=[Plant(name="bean", x_mm=400, y_mm=500, z_mm=-100, farmbot_id=41)],
    tool_slots=[ToolSlot(tool="watering_nozzle", x_mm=6, y_mm=100, z_mm=-340, farmbot_id=3)],
)


def test_a_realistic_export_with_its_called_sequence_imports_and_dry_runs() -> None:
    text = json.dumps([{**WATER_EXPORT, "id": 6}, HELPER], indent=2)
    checked = load_sequence(load_text(text), PROFILE, FARM)
    document = checked.document
    assert document.name == "Water the bean"
    assert [step.kind for step in document.steps] == [
        "find_home",
        "move",
        "move",
        "move",
        "write_pin",
        "wait",
        "write_pin",
        "read_pin",
        "if",
        "take_photo",
        "message",
        "mark",
        "move",
        "move",
    ]
    assert list(document.sequences) == ["Blink"]
    run = dry_run(checked, PROFILE, firmware_for(PROFILE))
    lines = [re.sub(r" Q\d+$", "", line) for line in run.lines]
    assert lines[:9] == [
        "F11",
        "F12",
        "F13",  # find home, X then Y then Z
        "G00 X400.00 Y500.00 Z-100.00",  # plant #41
        "G00 X400.00 Y500.00 Z0.00",  # safe Z
        "G00 X10.00 Y500.00 Z0.00",
        "G00 X10.00 Y500.00 Z-150.00",
        "G00 X10.00 Y525.00 Z-150.00",  # axis_addition: relative
        "F41 P8 V1 M0",
    ]
    assert "F41 P7 V1 M0" in lines  # the simulator's pin 59 reads 0 < 300: Blink ran
    assert lines[-2:] == ["G00 X10.00 Y525.00 Z0.00", "G00 X0.00 Y0.00 Z0.00"]
    assert run.record.stages == {"bean": "planted"}
    assert run.record.messages == [("success", "bean watered")]


def test_validation_messages_point_into_the_exported_file() -> None:
    text = json.dumps(WATER_EXPORT, indent=1)
    with pytest.raises(SequenceError) as caught:
        load_sequence(load_text(text), PROFILE, Farm())
    problems = caught.value.problems
    lines = text.splitlines()
    kind_index = next(i for i, line in enumerate(lines) if '"kind": "move_absolute"' in line)
    assert lines[kind_index - 1].strip() == "{"  # the node starts on the line before its kind
    assert problems[0].startswith(f"<text>:{kind_index}:3: ")
    assert "step 2 move: '#41' is not in the farm map" in problems[0]
    assert any("no sequence is called 'sequence 7'" in problem for problem in problems)


def test_steps_we_cannot_honour_are_listed_in_one_error() -> None:
    export = {
        **WATER_EXPORT,
        "body": [
            {"kind": "lua", "args": {"lua": "toast('hi')"}},
            {"kind": "wait", "args": {"milliseconds": 10}},
            {"kind": "assertion", "args": {"lua": "return true", "assertion_type": "abort"}},
            {"kind": "execute_script", "args": {"label": "Measure Soil Height"}},
            {"kind": "factory_reset", "args": {"package": "farmbot_os"}},
            {
                "kind": "move",
                "args": {},
                "body": [
                    {
                        "kind": "axis_overwrite",
                        "args": {
                            "axis": "z",
                            "axis_operand": {
                                "kind": "special_value",
                                "args": {"label": "soil_height"},
                            },
                        },
                    }
                ],
            },
        ],
    }
    text = json.dumps(export, indent=1)
    with pytest.raises(SequenceError) as caught:
        load_sequence(load_text(text, "export.json"), PROFILE, FARM)
    problems = caught.value.problems
    assert len(problems) == 5
    expected = [
        ("body.0 `lua`", "Lua code cannot be checked"),
        ("body.2 `assertion`", "use an `if` step instead"),
        ("body.3 `execute_script 'Measure Soil Height'`", "the scripts Potager knows are"),
        ("body.4 `factory_reset`", "not a sequence step Potager can run"),
        ("body.5.body.0 `special_value soil_height`", "give a number"),
    ]
    for problem, (where, why) in zip(problems, expected, strict=True):
        assert re.match(r"export\.json:\d+:\d+: ", problem)
        assert where in problem and why in problem
    assert str(caught.value).startswith("export.json: 5 problems to fix:")
