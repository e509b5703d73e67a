"""A robot's schedule file: which sequences it knows, and when it runs them.

Operators write one YAML (or JSON) file per robot; `potager run` loads it, stores its
schedules (changing one keeps what already ran) and runs them. Every problem in the file,
the sequences it names included, is reported at once with its line and column, before the
robot moves:

    robot: greenhouse-1
    profile: genesis
    zone: Europe/Paris
    sequences:
      water lettuces: water-lettuces.yaml     # relative to this file
    schedules:
      - name: morning water
        job: water lettuces
        start_local: 2026-06-01T07:00
        every: 1
        unit: days
        params: {amount_ml: 30}
        grace_s: 1800
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from controller.schedule_rules import EventRule, RegimenRule, Rule
from controller.sequence_check import CheckedSequence
from controller.sequence_load import DataPath, Loaded, SequenceError, load_file
from controller.sequences import load_sequence
from potager.robots import get_profile

DEFAULT_GRACE_S = 1800.0
"""Half an hour: a watering may start late after a long job, not the next morning."""
_RULE: TypeAdapter[EventRule | RegimenRule] = TypeAdapter(Rule)


class _FileHead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    robot: str = Field(min_length=1, max_length=120)
    profile: str = "genesis"
    zone: str
    sequences: dict[str, str] = Field(default_factory=dict)
    schedules: list[dict[str, Any]] = Field(default_factory=list)


@dataclass(frozen=True)
class ScheduleEntry:
    name: str
    rule: EventRule | RegimenRule
    grace_s: float


@dataclass(frozen=True)
class RobotSchedules:
    """A loaded and checked schedule file."""

    robot_id: str
    profile: str
    sequences: dict[str, CheckedSequence]
    schedules: list[ScheduleEntry]


def load_robot_schedules(path: str | Path) -> RobotSchedules:
    """Read and check a schedule file and every sequence it names; SequenceError lists all
    problems found, each with file, line and column."""
    loaded = load_file(path)
    problems: list[str] = []
    head = _head(loaded, problems)
    if head is None:
        raise SequenceError(problems, loaded.source)
    try:
        profile = get_profile(head.profile)
    except Exception as error:  # UnknownProfileError names the known ones
        raise SequenceError([f"{_at(loaded, ('profile',))}: {error}"], loaded.source) from None
    sequences: dict[str, CheckedSequence] = {}
    for name, relative in head.sequences.items():
        try:
            sequences[name] = load_sequence(Path(path).parent / relative, profile)
        except SequenceError as error:
            problems += [f"{_at(loaded, ('sequences', name))}: sequence {name!r}:"]
            problems += [f"  {problem}" for problem in error.problems]
    entries = [
        entry
        for index, raw in enumerate(head.schedules)
        if (entry := _entry(loaded, index, raw, head.zone, problems)) is not None
    ]
    names = [entry.name for entry in entries]
    for index, entry in enumerate(entries):
        if names.index(entry.name) != index:
            where = _at(loaded, ("schedules", index))
            problems.append(f"{where}: the name {entry.name!r} is used twice")
        for job in _jobs(entry.rule):
            if job not in head.sequences:
                known = ", ".join(repr(n) for n in head.sequences) or "none"
                problems.append(
                    f"{_at(loaded, ('schedules', index, 'job'))}: schedule {entry.name!r} runs "
                    f"{job!r}, which is not one of the file's sequences ({known})"
                )
    if problems:
        raise SequenceError(problems, loaded.source)
    return RobotSchedules(head.robot, head.profile, sequences, entries)


def _head(loaded: Loaded, problems: list[str]) -> _FileHead | None:
    try:
        return _FileHead.model_validate(loaded.data)
    except ValidationError as error:
        for detail in error.errors():
            problems.append(f"{_at(loaded, tuple(detail['loc']))}: {_message(detail)}")
        return None


def _entry(
    loaded: Loaded, index: int, raw: dict[str, Any], zone: str, problems: list[str]
) -> ScheduleEntry | None:
    fields = dict(raw)
    name = fields.pop("name", None)
    grace_s = fields.pop("grace_s", DEFAULT_GRACE_S)
    fields.setdefault("zone", zone)
    fields.setdefault("kind", "event")
    where = ("schedules", index)
    if not isinstance(name, str) or not name:
        problems.append(f"{_at(loaded, where)}: every schedule needs a `name`")
        return None
    if not isinstance(grace_s, int | float) or grace_s < 0:
        problems.append(f"{_at(loaded, (*where, 'grace_s'))}: grace_s must be 0 or more seconds")
        return None
    try:
        rule = _RULE.validate_python(fields)
    except ValidationError as error:
        for detail in error.errors():
            location = (*where, *(part for part in detail["loc"][1:]))
            problems.append(
                f"{_at(loaded, location)}: schedule {name!r}: {_message(detail, skip=1)}"
            )
        return None
    return ScheduleEntry(name, rule, float(grace_s))


def _jobs(rule: EventRule | RegimenRule) -> list[str]:
    return [rule.job] if isinstance(rule, EventRule) else [item.job for item in rule.items]


def _at(loaded: Loaded, path: DataPath) -> str:
    return loaded.at(tuple(part for part in path if isinstance(part, str | int)))


def _message(detail: Any, skip: int = 0) -> str:
    """pydantic's message after the field it is about (`skip` drops a union's tag)."""
    field = ".".join(str(part) for part in detail["loc"][skip:] if isinstance(part, str))
    return f"{field}: {detail['msg']}" if field else str(detail["msg"])
