"""Validation before anything moves: every problem, where it is, and what would be valid.

Two passes. The first (`sequence_shapes`) checks the shapes: each step against its model
one step at a time (unknown kinds, missing fields, wrong types), so a typo in step 2 does
not hide a missing field in step 7, and the farm map written in the file. The second, here,
checks the meaning: it walks the steps with what the robot will know at that point
(parameters, loop variables, sensor labels read so far, the mounted tool, the calls in
progress) against the farm map and the bed. It runs only once the shapes are right, so a
student is never shown a message that merely follows from an earlier typo. Each pass
gathers all its problems into one `SequenceError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from controller.sequence_load import DataPath, Loaded, SequenceError
from controller.sequence_models import (
    CallStep,
    Condition,
    Detector,
    DetectStep,
    DismountToolStep,
    ForEachStep,
    IfStep,
    MarkStep,
    MountToolStep,
    MoveStep,
    Number,
    ReadPinStep,
    SequenceDocument,
    SowStep,
    Step,
    SubSequence,
    TakePhotoStep,
    WaitStep,
    WaterStep,
    WeedStep,
)
from controller.sequence_shapes import Problem, check_shapes, format_problems, inline_farm, unknown
from potager.farm import Farm, Plant
from potager.robots import AXES, RobotProfile

MAX_WAIT_S = 600.0
UNKNOWN_TOOL = "?"
"""The mounted tool after branches that disagree: later tool checks are skipped."""


@dataclass
class CheckedSequence:
    document: SequenceDocument
    farm: Farm
    source: str


def check_document(
    loaded: Loaded,
    profile: RobotProfile,
    farm: Farm | None = None,
    detectors: Mapping[str, Detector] | None = None,
) -> CheckedSequence:
    """The validated sequence, or a `SequenceError` listing the problems in the file.

    Shape problems, if there are any, are all listed; meaning problems are looked for only
    in a file whose shapes are right.
    """
    problems: list[Problem] = []
    data = loaded.data
    if not isinstance(data, dict):
        raise SequenceError(
            [f"{loaded.source}:1:1: a sequence file is a mapping with a `steps:` list"]
        )
    check_shapes(data, problems)
    farm = farm or inline_farm(data, problems)
    if problems:
        raise SequenceError(format_problems(problems, loaded))
    document = SequenceDocument.model_validate(data)
    _Semantics(document, farm, profile, detectors or {}, problems).check()
    if problems:
        raise SequenceError(format_problems(problems, loaded))
    return CheckedSequence(document, farm, loaded.source)


# --------------------------------------------------------------- pass 2: meaning


@dataclass
class _Scope:
    """What is known at one point of the walk."""

    path: DataPath
    label: str
    variables: dict[str, str]
    readings: set[str]
    tool: str | None
    calls: tuple[str, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)


class _Semantics:
    def __init__(
        self,
        document: SequenceDocument,
        farm: Farm,
        profile: RobotProfile,
        detectors: Mapping[str, Detector],
        problems: list[Problem],
    ) -> None:
        self.document, self.farm, self.profile = document, farm, profile
        self.detectors, self.problems = detectors, problems
        self.loops: set[frozenset[str]] = set()

    def check(self) -> None:
        doc = self.document
        variables: dict[str, str] = {name: p.type for name, p in doc.parameters.items()}
        scope = _Scope(("steps",), "", variables, set(), doc.starts_with_tool, (doc.name,))
        for name, parameter in doc.parameters.items():
            if parameter.default is None:
                at = _Scope(("parameters", name), f"parameter {name!r}", {}, set(), None)
                self.problem(at, "nothing calls the main sequence: give it a `default:`")
        self.steps(doc.steps, scope)
        for name, sub in doc.sequences.items():
            variables = {key: str(p.type) for key, p in sub.parameters.items()}
            where = ("sequences", name, "steps")
            self.steps(
                sub.steps, _Scope(where, f"{name}: ", variables, set(), UNKNOWN_TOOL, (name,))
            )

    def problem(self, scope: _Scope, message: str, *field_path: str | int) -> None:
        self.problems.append(((*scope.path, *field_path), scope.label, message))

    def steps(self, steps: Sequence[Step], scope: _Scope) -> str | None:
        """Checks each step in order; returns the tool mounted at the end."""
        for index, step in enumerate(steps):
            label = f"{scope.label}step {index + 1}"
            if step.name:
                label = f"{label} ({step.name!r})"
            inner = _Scope(
                (*scope.path, index),
                f"{label} {step.kind}",
                scope.variables,
                scope.readings,
                scope.tool,
                scope.calls,
            )
            scope.tool = self.step(step, inner)
        return scope.tool

    def step(self, step: Step, scope: _Scope) -> str | None:
        match step:
            case MoveStep():
                self.move(step, scope)
            case WaterStep():
                self.needs_tool(scope, "watering_nozzle")
                self.number(scope, step.ml, "ml", low=0.0)
                self.optional_place(scope, step.to, "to")
                slot = self.farm.slot("watering_nozzle")
                if slot is not None and slot.flow_rate_ml_s is None:
                    self.problem(
                        scope,
                        "the watering nozzle's slot has no `flow_rate_ml_s`: "
                        "measure it and add it to the farm map",
                    )
            case SowStep():
                self.needs_tool(scope, "seeder")
                self.place(scope, step.tray, "tray")
                self.place(scope, step.to, "to")
                self.number(scope, step.depth, "depth", low=0.0)
            case WeedStep():
                self.needs_tool(scope, "weeder")
                self.place(scope, step.to, "to")
                self.number(scope, step.depth, "depth", low=0.0)
            case TakePhotoStep():
                self.optional_place(scope, step.to, "to")
            case WaitStep():
                self.number(scope, step.seconds, "seconds", low=0.0, high=MAX_WAIT_S)
            case ReadPinStep():
                scope.readings.add(step.label)
            case DetectStep():
                self.detect(step, scope)
            case MountToolStep():
                return self.mount(step.tool, scope)
            case DismountToolStep():
                return self.dismount(step.tool, scope)
            case IfStep():
                return self.branches(step, scope)
            case ForEachStep():
                self.for_each(step, scope)
            case CallStep():
                return self.call(step, scope)
            case MarkStep():
                self.mark(step, scope)
        return scope.tool

    # -- places and numbers ---------------------------------------------------------

    def number(
        self,
        scope: _Scope,
        value: Number,
        key: str,
        low: float | None = None,
        high: float | None = None,
    ) -> None:
        if isinstance(value, str):
            kind = scope.variables.get(value[1:])
            if kind is None:
                self.problem(scope, self.unknown_variable(value, scope), key)
            elif kind != "number":
                self.problem(scope, f"{value} is a {kind}, but `{key}` needs a number", key)
            return
        if low is not None and value <= low:
            self.problem(scope, f"`{key}` must be more than {low:g}, got {value:g}", key)
        if high is not None and value > high:
            self.problem(scope, f"`{key}` must be at most {high:g}, got {value:g}", key)

    def unknown_variable(self, ref: str, scope: _Scope) -> str:
        known = [f"${name}" for name in scope.variables]
        return unknown(
            f"{ref} is not a parameter here",
            ref,
            known or ["(no parameters: add them under `parameters:`)"],
        )

    def optional_place(self, scope: _Scope, name: str | None, key: str) -> None:
        if name is not None:
            self.place(scope, name, key)

    def place(self, scope: _Scope, name: str, key: str, tools: bool = False) -> None:
        if name.startswith("$"):
            kind = scope.variables.get(name[1:])
            if kind is None:
                self.problem(scope, self.unknown_variable(name, scope), key)
            elif kind != "place":
                self.problem(scope, f"{name} is a {kind}, but `{key}` needs a place", key)
            return
        found = self.farm.place(name) or (self.farm.slot(name) if tools else None)
        if found is None:
            names = self.farm.place_names() + (
                [s.tool for s in self.farm.tool_slots] if tools else []
            )
            self.problem(
                scope,
                unknown(f"{name!r} is not in the farm map", name, names or ["(empty map)"]),
                key,
            )
            return
        self.on_bed(scope, (found.x_mm, found.y_mm, found.z_mm), key, f"{name!r} at ")

    def on_bed(self, scope: _Scope, xyz_mm: tuple[float | None, ...], key: str, what: str) -> None:
        for axis, value in zip(AXES, xyz_mm, strict=True):
            if value is None:
                continue
            low, high = self.profile.allowed_range_mm(axis)
            if not low <= value <= high:
                self.problem(
                    scope,
                    f"{what}{axis.upper()} = {value:g} mm is outside the {self.profile.name} "
                    f"bed: {axis.upper()} must be between {low:g} and {high:g} mm",
                    key if key != "x" else axis.value,
                )

    # -- kinds ----------------------------------------------------------------------

    def move(self, step: MoveStep, scope: _Scope) -> None:
        for key in ("x", "y", "z", "speed_percent"):
            value = getattr(step, key)
            if value is not None:
                self.number(scope, value, key)
        if isinstance(step.speed_percent, float) and not 1 <= step.speed_percent <= 100:
            self.problem(scope, "`speed_percent` must be between 1 and 100", "speed_percent")
        if step.to is not None:
            if step.relative:
                self.problem(scope, "use either `to` or `relative: true`, not both", "relative")
            self.place(scope, step.to, "to", tools=True)
            return
        if step.x is None and step.y is None and step.z is None:
            self.problem(scope, "say where to go: `to: <name>`, or some of `x`, `y`, `z`")
        if not step.relative:
            xyz = tuple(v if isinstance(v, float) else None for v in (step.x, step.y, step.z))
            self.on_bed(scope, xyz, "x", "")

    def needs_tool(self, scope: _Scope, tool: str) -> None:
        if self.farm.slot(tool) is None:
            self.problem(
                scope,
                f"the farm map has no tool slot for the {tool}: add one under `farm: tool_slots:`",
            )
        elif scope.tool not in (tool, UNKNOWN_TOOL):
            holding = f"the {scope.tool} is mounted" if scope.tool else "no tool is mounted"
            self.problem(scope, f"{holding}; add `kind: mount_tool, tool: {tool}` before this step")

    def mount(self, tool: str, scope: _Scope) -> str | None:
        if self.farm.slot(tool) is None:
            slots: list[str] = [slot.tool for slot in self.farm.tool_slots] or [
                "(no slots in the farm map)"
            ]
            self.problem(
                scope, unknown(f"the farm map has no slot for the {tool}", tool, slots), "tool"
            )
        elif scope.tool not in (None, UNKNOWN_TOOL):
            self.problem(scope, f"the {scope.tool} is still mounted: dismount it first")
        return tool

    def dismount(self, tool: str | None, scope: _Scope) -> str | None:
        if scope.tool is None:
            self.problem(scope, "no tool is mounted here, so there is nothing to dismount")
        elif tool is not None and scope.tool not in (tool, UNKNOWN_TOOL):
            self.problem(scope, f"the {scope.tool} is mounted, not the {tool}", "tool")
        return None

    def detect(self, step: DetectStep, scope: _Scope) -> None:
        detector = self.detectors.get(step.function)
        if detector is None:
            names = list(self.detectors) or ["(none plugged in)"]
            self.problem(
                scope,
                unknown(f"no detector is called {step.function!r}", step.function, names),
                "function",
            )
            return
        try:
            detector.arguments.model_validate(step.arguments)
        except ValidationError as error:
            for detail in error.errors():
                where = ".".join(str(part) for part in detail["loc"])
                self.problem(scope, f"argument `{where}`: {detail['msg']}", "arguments")

    def condition(self, condition: Condition, scope: _Scope) -> None:
        sources = [condition.reading, condition.pin, condition.position]
        if sum(source is not None for source in sources) != 1:
            self.problem(
                scope,
                "a condition compares exactly one of `reading`, `pin` or `position` with `value`",
                "condition",
            )
        if condition.reading is not None and condition.reading not in scope.readings:
            known = sorted(scope.readings) or ["(no read_pin step before this one)"]
            self.problem(
                scope,
                unknown(f"no reading is labelled {condition.reading!r}", condition.reading, known)
                + "; read it first with `kind: read_pin`",
                "condition",
            )
        self.number(scope, condition.value, "value")

    def branches(self, step: IfStep, scope: _Scope) -> str | None:
        self.condition(step.condition, scope)
        ends = []
        for key, steps in (("then", step.then), ("else", step.else_)):
            branch = _Scope(
                (*scope.path, key),
                f"{scope.label} > {key} > ",
                scope.variables,
                set(scope.readings),
                scope.tool,
                scope.calls,
            )
            ends.append(self.steps(steps, branch))
        return ends[0] if ends[0] == ends[1] else UNKNOWN_TOOL

    def for_each(self, step: ForEachStep, scope: _Scope) -> None:
        group = self.farm.group(step.group)
        if group is None:
            names = [g.name for g in self.farm.groups] or ["(no groups in the farm map)"]
            self.problem(
                scope,
                unknown(f"the farm map has no group {step.group!r}", step.group, names),
                "group",
            )
        else:
            for member in group.members:
                self.place(scope, member, "group")
        variables = {**scope.variables, step.as_: "place"}
        body = _Scope(
            (*scope.path, "steps"),
            f"{scope.label} > ",
            variables,
            set(scope.readings),
            scope.tool,
            scope.calls,
        )
        end = self.steps(step.steps, body)
        if end != scope.tool:
            self.problem(
                scope,
                "the steps of a for_each must end with the tool they started "
                "with, or the second round starts with the wrong one",
            )

    def call(self, step: CallStep, scope: _Scope) -> str | None:
        target = self.document.sequences.get(step.sequence)
        if target is None:
            names = list(self.document.sequences) or ["(none: add them under `sequences:`)"]
            self.problem(
                scope,
                unknown(f"no sequence is called {step.sequence!r}", step.sequence, names),
                "sequence",
            )
            return UNKNOWN_TOOL
        if step.sequence in scope.calls:
            loop = scope.calls[scope.calls.index(step.sequence) :]
            if frozenset(loop) in self.loops:
                return UNKNOWN_TOOL  # already reported where it is first reached
            self.loops.add(frozenset(loop))
            chain = " -> ".join((*scope.calls, step.sequence))
            self.problem(
                scope,
                f"{chain} calls itself forever; a call must not lead back to a "
                "sequence already running",
                "sequence",
            )
            return UNKNOWN_TOOL
        self.call_arguments(step, target, scope)
        inner = _Scope(
            scope.path, scope.label, {}, set(), UNKNOWN_TOOL, (*scope.calls, step.sequence)
        )
        self._nested_calls(target.steps, inner)
        return UNKNOWN_TOOL

    def _nested_calls(self, steps: Sequence[Step], scope: _Scope) -> None:
        """Follows calls only, to find cycles; the callee's own steps are checked once."""
        for step in steps:
            if isinstance(step, CallStep):
                self.call(step, scope)
            elif isinstance(step, IfStep):
                self._nested_calls([*step.then, *step.else_], scope)
            elif isinstance(step, ForEachStep):
                self._nested_calls(step.steps, scope)

    def call_arguments(self, step: CallStep, target: SubSequence, scope: _Scope) -> None:
        for name in step.with_:
            if name not in target.parameters:
                valid = list(target.parameters) or ["(it takes no parameters)"]
                self.problem(
                    scope,
                    unknown(f"{step.sequence!r} has no parameter {name!r}", name, valid),
                    "with",
                )
        for name, parameter in target.parameters.items():
            if parameter.default is None and name not in step.with_:
                self.problem(scope, f"{step.sequence!r} needs `{name}`: add it under `with:`")
            value = step.with_.get(name)
            if parameter.type == "number" and not _is_number_or_ref(value):
                self.problem(scope, f"`{name}` must be a number, got {value!r}", "with")

    def mark(self, step: MarkStep, scope: _Scope) -> None:
        if step.target.startswith("$"):
            self.place(scope, step.target, "target")
        elif not isinstance(self.farm.place(step.target), Plant):
            names = [p.name for p in self.farm.plants] or ["(no plants in the farm map)"]
            self.problem(
                scope, unknown(f"no plant is called {step.target!r}", step.target, names), "target"
            )


def _is_number_or_ref(value: Any) -> bool:
    if value is None or isinstance(value, int | float):
        return True
    return isinstance(value, str) and value.startswith("$")
