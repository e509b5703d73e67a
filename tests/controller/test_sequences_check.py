"""Validation of student sequences: every problem, at its line and column, with a fix."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from controller.sequence_load import SequenceError
from controller.sequence_models import Detector
from controller.sequences import check_text
from potager.robots import get_profile

PROFILE = get_profile("genesis")
FARM = """\
farm:
  plants:
    - {name: lettuce, x_mm: 500, y_mm: 300, z_mm: -200}
  tool_slots:
    - {tool: watering_nozzle, x_mm: 6, y_mm: 100, z_mm: -340, flow_rate_ml_s: 10}
"""
KINDS = (
    "move, find_home, set_home, calibrate, write_pin, read_pin, wait, water, sow, weed, "
    "take_photo, detect, mount_tool, dismount_tool, if, for_each, call, message, log, mark"
)

BAD = [
    (
        "steps:\n  - kind: mvoe\n    x: 10\n",
        f"<text>:2:5: step 1: there is no step kind 'mvoe'. Did you mean `move`? Valid: {KINDS}",
    ),
    (
        "steps:\n  - kind: move\n    x: 3000\n",
        "<text>:3:5: step 1 move: X = 3000 mm is outside the genesis bed: "
        "X must be between 0 and 2900 mm",
    ),
    (
        "steps:\n  - {kind: move, z: 5}\n",
        "<text>:2:18: step 1 move: Z = 5 mm is outside the genesis bed: "
        "Z must be between -500 and 0 mm",
    ),
    (
        "steps:\n  - kind: move\n    x: ten\n",
        "<text>:3:5: step 1 move: `x` must be a number or a $parameter, got 'ten'",
    ),
    (
        "steps:\n  - kind: water\n    ml: 100\n",
        "<text>:2:5: step 1 water: the farm map has no tool slot for the watering_nozzle: "
        "add one under `farm: tool_slots:`",
    ),
    (
        FARM + "steps:\n  - kind: water\n    ml: 100\n",
        "<text>:7:5: step 1 water: no tool is mounted; "
        "add `kind: mount_tool, tool: watering_nozzle` before this step",
    ),
    (
        FARM + "steps:\n  - kind: mount_tool\n    tool: weeder\n",
        "<text>:8:5: step 1 mount_tool: the farm map has no slot for the weeder. "
        "Valid: watering_nozzle",
    ),
    (
        "steps:\n  - {kind: call, sequence: a}\nsequences:\n  a:\n    steps:\n"
        "      - {kind: call, sequence: b}\n  b:\n    steps:\n      - {kind: call, sequence: a}\n",
        "<text>:2:18: step 1 call: sequence -> a -> b -> a calls itself forever; "
        "a call must not lead back to a sequence already running",
    ),
    (
        "steps:\n  - kind: wait\n",
        "<text>:2:5: step 1 wait: `seconds` is missing: add `seconds: ...`",
    ),
    (
        "steps:\n  - kind: wait\n    seconds: 5\n    colour: red\n",
        "<text>:4:5: step 1 wait: `colour` is not a field here. Valid: name, kind, seconds",
    ),
    (
        "steps:\n  - kind: if\n    condition: {pin: 59, op: '<', value: 3}\n    then:\n"
        "      - {kind: mvoe}\n",
        f"<text>:5:10: step 1 if > then > step 1: there is no step kind 'mvoe'. "
        f"Did you mean `move`? Valid: {KINDS}",
    ),
    (
        FARM + "steps:\n  - {kind: move, to: letuce, name: go}\n",
        "<text>:7:18: step 1 ('go') move: 'letuce' is not in the farm map. "
        "Did you mean `lettuce`? Valid: lettuce, watering_nozzle",
    ),
    (
        "steps:\n  - {kind: wait, seconds: $pause}\n",
        "<text>:2:18: step 1 wait: $pause is not a parameter here. "
        "Valid: (no parameters: add them under `parameters:`)",
    ),
    (
        "steps:\n  - {kind: mark, target: lettuce, stage: grown}\n",
        "<text>:2:35: step 1 mark: `stage` is 'grown'; valid: 'planned', 'planted', "
        "'sprouted', 'active', 'harvested', 'removed' or 'pending'",
    ),
    (
        "steps:\n  - kind: if\n    condition: {reading: moisture, op: '<', value: 3}\n",
        "<text>:3:5: step 1 if: no reading is labelled 'moisture'. "
        "Valid: (no read_pin step before this one); read it first with `kind: read_pin`",
    ),
    (
        "steps:\n  - move\n",
        "<text>:2:5: step 1: a step must be a mapping such as `kind: move`",
    ),
    (
        "steps:\n  - {kind: move}\n",
        "<text>:2:5: step 1 move: say where to go: `to: <name>`, or some of `x`, `y`, `z`",
    ),
    (
        "steps:\n  - {kind: wait, seconds: 900}\n",
        "<text>:2:18: step 1 wait: `seconds` must be at most 600, got 900",
    ),
]


def test_meaning_is_checked_only_once_the_shapes_are_right() -> None:
    text = FARM + (
        "steps:\n"
        "  - {kind: mount_tool, tool: watering_nozle}\n"
        "  - {kind: water, ml: 20, to: letuce}\n"
    )
    with pytest.raises(SequenceError) as caught:
        check_text(text, PROFILE)
    assert caught.value.problems == [
        "<text>:7:24: step 1 mount_tool: `tool` is 'watering_nozle'; "
        "valid: 'seeder', 'watering_nozzle', 'weeder' or 'soil_sensor'"
    ]
    fixed = text.replace("watering_nozle", "watering_nozzle")
    with pytest.raises(SequenceError) as caught:
        check_text(fixed, PROFILE)
    assert caught.value.problems == [
        "<text>:8:27: step 2 water: 'letuce' is not in the farm map. "
        "Did you mean `lettuce`? Valid: lettuce"
    ]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_a_bad_sequence_is_refused_with_line_column_step_and_fix(text: str, message: str) -> None:
    with pytest.raises(SequenceError) as caught:
        check_text(text, PROFILE)
    assert caught.value.problems == [message]


def test_every_problem_of_a_file_is_listed_at_once() -> None:
    text = (
        "name: lots of mistakes\n"
        "steps:\n"
        "  - {kind: move, x: 10, y: 20}\n"
        "  - {kind: fly}\n"
        "  - {kind: write_pin, pin: 80, value: 1}\n"
        "  - {kind: message}\n"
    )
    with pytest.raises(SequenceError) as caught:
        check_text(text, PROFILE)
    problems = caught.value.problems
    assert [p.split(": ")[0] for p in problems] == ["<text>:4:6", "<text>:5:23", "<text>:6:5"]
    assert (
        "step 3 write_pin: `pin`: Input should be less than or equal to 69, got 80" in problems[1]
    )
    assert str(caught.value).startswith("3 problems to fix:\n")


def test_a_mounted_tool_must_match_and_unknown_parameters_of_a_call_are_named() -> None:
    text = FARM.replace(
        "flow_rate_ml_s: 10}",
        "flow_rate_ml_s: 10}\n    - {tool: weeder, x_mm: 6, y_mm: 200, z_mm: -340}",
    ) + (
        "starts_with_tool: weeder\n"
        "steps:\n"
        "  - {kind: water, ml: 20}\n"
        "  - {kind: call, sequence: rinse, with: {amout_ml: 5}}\n"
        "sequences:\n"
        "  rinse:\n"
        "    parameters: {amount_ml: {type: number}}\n"
        "    steps: [{kind: wait, seconds: $amount_ml}]\n"
    )
    with pytest.raises(SequenceError) as caught:
        check_text(text, PROFILE)
    assert caught.value.problems == [
        "<text>:9:5: step 1 water: the weeder is mounted; "
        "add `kind: mount_tool, tool: watering_nozzle` before this step",
        "<text>:10:35: step 2 call: 'rinse' has no parameter 'amout_ml'. "
        "Did you mean `amount_ml`? Valid: amount_ml",
        "<text>:10:5: step 2 call: 'rinse' needs `amount_ml`: add it under `with:`",
    ]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_radius_mm: float


def test_detect_arguments_are_checked_against_the_callers_detector() -> None:
    detectors = {"weeds": Detector(_Args, lambda robot, arguments: [])}
    text = "steps:\n  - {kind: detect, function: weeds, arguments: {min_radius_mm: big}}\n"
    with pytest.raises(SequenceError) as caught:
        check_text(text, PROFILE, detectors=detectors)
    assert caught.value.problems == [
        "<text>:2:37: step 1 detect: argument `min_radius_mm`: "
        "Input should be a valid number, unable to parse string as a number"
    ]
    good = "steps:\n  - {kind: detect, function: weeds, arguments: {min_radius_mm: 3}}\n"
    assert check_text(good, PROFILE, detectors=detectors).document.steps[0].kind == "detect"


def test_json_files_get_line_and_column_too() -> None:
    text = '{\n  "steps": [\n    {"kind": "move", "x": 10},\n    {"kind": "wiat"}\n  ]\n}\n'
    with pytest.raises(SequenceError) as caught:
        check_text(text, PROFILE)
    assert caught.value.problems[0].startswith(
        "<text>:4:6: step 2: there is no step kind 'wiat'. Did you mean `wait`?"
    )


def test_broken_yaml_names_its_line() -> None:
    with pytest.raises(SequenceError, match=r"<text>:3:\d+: this is not valid YAML or JSON"):
        check_text("steps:\n  - kind: move\n   x: [1,\n", PROFILE)


def test_an_invisible_character_is_named_at_its_line_and_column() -> None:
    with pytest.raises(SequenceError) as caught:
        check_text("steps:\n  - kind: wait\n    seconds: 1\x07\n", PROFILE)
    assert caught.value.problems == [
        "<text>:3:15: the invisible character U+0007 is not allowed in a sequence: delete it "
        "(it often comes with a copy-paste)"
    ]


def test_parameters_need_defaults_of_their_type_on_the_main_sequence() -> None:
    text = (
        "parameters:\n"
        "  amount_ml: {type: number, default: lots}\n"
        "  pause_s: {type: number}\n"
        "steps:\n  - {kind: wait, seconds: $pause_s}\n"
    )
    with pytest.raises(SequenceError) as caught:
        check_text(text, PROFILE)
    assert caught.value.problems == [
        "<text>:2:3: the file: `amount_ml`: the default 'lots' is not a number"
    ]
    with pytest.raises(SequenceError) as caught:
        check_text(text.replace(", default: lots", ", default: 5"), PROFILE)
    assert caught.value.problems == [
        "<text>:3:3: parameter 'pause_s': nothing calls the main sequence: give it a `default:`"
    ]


def test_a_misspelt_top_level_key_is_named_with_a_suggestion() -> None:
    with pytest.raises(SequenceError) as caught:
        check_text("name: x\nstep:\n  - {kind: move, x: 1}\n", PROFILE)
    assert caught.value.problems == [
        "<text>:2:1: the file: `step` is not a field here. Did you mean `steps`? "
        "Valid: parameters, steps, name, description, sequences, starts_with_tool, farm",
    ]
