"""The published JSON Schema against real documents, with a validator for what it uses.

No JSON Schema package is installed (and we add no dependency), so `schema_errors` below
implements the subset of JSON Schema that pydantic's schema of a sequence file uses. It
refuses any keyword it does not know, so a model change that brings a new one fails here
rather than being silently accepted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from controller.bed_jobs import Eyes
from controller.celeryscript import import_celeryscript
from controller.detectors import vision_detectors
from controller.sequence_load import load_text
from controller.sequence_models import Detector, Order, sequence_json_schema
from controller.sequences import check_text
from planner.jobs import PLAN_ORDERS
from potager.robots import get_profile
from tests.controller.test_sequences_celeryscript import HELPER, WATER_EXPORT
from tests.controller.test_sequences_run import GOOD, SOW

EXAMPLES = sorted((Path(__file__).parents[2] / "docs" / "examples").glob("*.yaml"))
SCHEMA = sequence_json_schema()
PROFILE = get_profile("genesis")


class _Radius(BaseModel):
    min_radius_mm: float


def _no_eyes() -> Eyes:
    raise AssertionError("only checked here, never run")


DETECTORS = {"weeds": Detector(_Radius, lambda robot, arguments: []), **vision_detectors(_no_eyes)}

Json = Any
_ANNOTATIONS = {"title", "description", "default", "discriminator", "examples"}
_CHECKED = {
    "$ref",
    "$defs",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
}


def schema_errors(value: Json, schema: Json, root: Json, where: str = "$") -> list[str]:
    """What makes `value` (decoded JSON) invalid against `schema`; empty when it is valid.

    Handles type, properties, required, additionalProperties, items, enum, const,
    anyOf, oneOf, $ref into `#/$defs/`, the numeric bounds, minLength, maxLength and
    pattern. `discriminator` is ignored: `oneOf` alone decides.
    """
    unknown = set(schema) - _CHECKED - _ANNOTATIONS
    assert not unknown, f"the test validator does not implement {sorted(unknown)}"
    errors: list[str] = []
    if "$ref" in schema:
        errors += schema_errors(value, _resolve(schema["$ref"], root), root, where)
    if "type" in schema and not _is_type(value, schema["type"]):
        return [*errors, f"{where}: {value!r} is not of type {schema['type']}"]
    if "const" in schema and not _same(value, schema["const"]):
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        errors.append(f"{where}: {value!r} is not one of {schema['enum']}")
    errors += _choice_errors(value, schema, root, where)
    if _is_type(value, "number"):
        errors += _number_errors(value, schema, where)
    if isinstance(value, str):
        errors += _string_errors(value, schema, where)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            errors += schema_errors(item, schema["items"], root, f"{where}[{index}]")
    if isinstance(value, dict):
        errors += _object_errors(value, schema, root, where)
    return errors


def _resolve(ref: str, root: Json) -> Json:
    prefix = "#/$defs/"
    assert ref.startswith(prefix), f"only local $defs references are implemented, got {ref}"
    return root["$defs"][ref.removeprefix(prefix)]


def _is_type(value: Json, kind: str) -> bool:
    if kind == "integer":
        is_whole = isinstance(value, float) and value.is_integer()
        return (isinstance(value, int) and not isinstance(value, bool)) or is_whole
    checks: dict[str, Any] = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    return bool(checks[kind](value))


def _same(value: Json, expected: Json) -> bool:
    """JSON equality: `true` is not `1`, as Python's `True == 1` would have it."""
    return isinstance(value, bool) == isinstance(expected, bool) and value == expected


def _choice_errors(value: Json, schema: Json, root: Json, where: str) -> list[str]:
    errors = []
    if "anyOf" in schema:
        branches = [schema_errors(value, branch, root, where) for branch in schema["anyOf"]]
        if all(branches):
            every = " or ".join("; ".join(branch) for branch in branches)
            errors.append(f"{where}: {value!r} matches none of anyOf ({every})")
    if "oneOf" in schema:
        branches = [schema_errors(value, branch, root, where) for branch in schema["oneOf"]]
        matches = sum(not branch for branch in branches)
        if matches == 0:
            closest = "; ".join(_closest(value, schema, branches))
            errors.append(f"{where}: {value!r} matches none of oneOf ({closest})")
        elif matches > 1:
            errors.append(f"{where}: {value!r} matches {matches} branches of oneOf")
    return errors


def _closest(value: Json, schema: Json, branches: list[list[str]]) -> list[str]:
    """The errors of the branch the discriminator names (only for the message), or the fewest."""
    discriminator = schema.get("discriminator", {})
    tag = value.get(discriminator.get("propertyName")) if isinstance(value, dict) else None
    target = discriminator.get("mapping", {}).get(tag)
    refs = [branch.get("$ref") for branch in schema["oneOf"]]
    return branches[refs.index(target)] if target in refs else min(branches, key=len)


def _number_errors(value: float, schema: Json, where: str) -> list[str]:
    bounds = {
        "minimum": lambda limit: value >= limit,
        "maximum": lambda limit: value <= limit,
        "exclusiveMinimum": lambda limit: value > limit,
        "exclusiveMaximum": lambda limit: value < limit,
    }
    return [
        f"{where}: {value!r} breaks {name} {schema[name]!r}"
        for name, holds in bounds.items()
        if name in schema and not holds(schema[name])
    ]


def _string_errors(value: str, schema: Json, where: str) -> list[str]:
    errors = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        errors.append(f"{where}: {value!r} is shorter than {schema['minLength']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{where}: {value!r} is longer than {schema['maxLength']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']!r}")
    return errors


def _object_errors(value: dict[str, Json], schema: Json, root: Json, where: str) -> list[str]:
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    errors = [
        f"{where}: {key!r} is required" for key in schema.get("required", []) if key not in value
    ]
    for key, item in value.items():
        if key in properties:
            errors += schema_errors(item, properties[key], root, f"{where}.{key}")
        elif extra is False:
            errors.append(f"{where}: {key!r} is not allowed")
        elif isinstance(extra, dict):
            errors += schema_errors(item, extra, root, f"{where}.{key}")
    return errors


def as_json(value: Json) -> Json:
    """What an editor validates: the document as JSON would carry it."""
    return json.loads(json.dumps(value))


# ----------------------------------------------------------- the validator itself


def test_the_validator_knows_the_keywords_it_implements() -> None:
    number = {"type": "number", "minimum": 0, "maximum": 10}
    assert schema_errors(5, number, {}) == []
    assert schema_errors(11, number, {}) == ["$: 11 breaks maximum 10"]
    assert schema_errors(True, number, {}) == ["$: True is not of type number"]
    assert schema_errors(3.0, {"type": "integer"}, {}) == []
    assert schema_errors(True, {"const": 1}, {}) == ["$: True is not 1"]
    twice = {"oneOf": [{"type": "number"}, {"type": "integer"}]}
    assert schema_errors(2, twice, {}) == ["$: 2 matches 2 branches of oneOf"]
    with pytest.raises(AssertionError, match=r"does not implement \['uniqueItems'\]"):
        schema_errors([], {"uniqueItems": True}, {})


# -------------------------------------------------------- documents that are valid

VALID = {
    **{f"docs/examples/{path.name}": path.read_text(encoding="utf-8") for path in EXAMPLES},
    "the dry-run test's document": GOOD,
    "the sowing test's document": SOW,
    "a call with parameters": (
        "steps:\n  - {kind: call, sequence: go, with: {x_mm: 120}}\n"
        "sequences:\n  go:\n"
        "    parameters: {x_mm: {type: number}, y_mm: {type: number, default: 7}}\n"
        "    steps: [{kind: move, x: $x_mm, y: $y_mm}]\n"
    ),
}


def test_there_is_an_example_to_validate() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_documents_the_checker_accepts_fit_the_schema(text: str) -> None:
    check_text(text, PROFILE, detectors=DETECTORS)  # our own checker accepts it...
    assert schema_errors(as_json(yaml.safe_load(text)), SCHEMA, SCHEMA) == []  # ...so does this


def test_an_imported_farmbot_export_fits_the_schema() -> None:
    exported = load_text(json.dumps([{**WATER_EXPORT, "id": 6}, HELPER]))
    document = import_celeryscript(exported).data
    assert schema_errors(as_json(document), SCHEMA, SCHEMA) == []


def test_the_schemas_stop_orders_are_the_planners() -> None:
    assert Order.__args__ == PLAN_ORDERS  # type: ignore[attr-defined]


# ------------------------------------------------------ documents that are invalid

INVALID = {
    "unknown step kind": (
        "steps:\n  - {kind: fly, x: 10}\n",
        "$.steps[0]: {'kind': 'fly', 'x': 10} matches none of oneOf",
    ),
    "missing required field": (
        "steps:\n  - {kind: wait}\n",
        "$.steps[0]: {'kind': 'wait'} matches none of oneOf ($.steps[0]: 'seconds' is required)",
    ),
    "number given as text": (
        "steps:\n  - {kind: wait, seconds: soon}\n",
        "$.steps[0].seconds: 'soon' does not match",
    ),
    "pin out of range": (
        "steps:\n  - {kind: write_pin, pin: 80, value: 1}\n",
        "$.steps[0].pin: 80 breaks maximum 69",
    ),
    "unknown tool": (
        "steps:\n  - {kind: mount_tool, tool: hammer}\n",
        "$.steps[0].tool: 'hammer' is not one of",
    ),
    "unknown field": (
        "steps:\n  - {kind: move, x: 1, colour: red}\n",
        "$.steps[0]: 'colour' is not allowed",
    ),
    "nested step of the wrong type": (
        "steps:\n  - kind: if\n    condition: {pin: 59, op: '<', value: 3}\n"
        "    then: [{kind: message, text: 42}]\n",
        "$.steps[0].then[0].text: 42 is not of type string",
    ),
    "steps not a list": ("steps: {kind: move}\n", "$.steps: {'kind': 'move'} is not of type array"),
    "no steps": ("name: nothing\n", "$: 'steps' is required"),
}


@pytest.mark.parametrize(("text", "expected"), INVALID.values(), ids=INVALID.keys())
def test_invalid_documents_do_not_fit_the_schema_nor_pass_the_checker(
    text: str, expected: str
) -> None:
    errors = schema_errors(as_json(yaml.safe_load(text)), SCHEMA, SCHEMA)
    assert any(expected in error for error in errors), errors
    with pytest.raises(Exception, match="to fix"):
        check_text(text, PROFILE)
