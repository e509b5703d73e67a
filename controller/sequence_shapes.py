"""Pass 1 of validation: the shape of every step, checked one step at a time.

Each step is validated against its own model (nested step lists separately), so a typo in
step 2 does not hide a missing field in step 7. Pydantic's error locations are turned back
into paths in the file's data, which the position map turns into lines and columns, and
its messages into ones that say what would be valid.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from controller.sequence_load import DataPath, Loaded
from controller.sequence_models import STEP_MODELS, SequenceDocument, SubSequence
from potager.farm import Farm

Problem = tuple[DataPath, str, str]
"""Where (a data path), which step (a label), what is wrong and how to fix it."""
NESTED = {"if": ("then", "else"), "for_each": ("steps",)}


def check_shapes(data: dict[str, Any], problems: list[Problem]) -> None:
    top = {key: value for key, value in data.items() if key not in ("steps", "sequences")}
    _model_problems(SequenceDocument, {**top, "steps": []}, (), "the file", problems)
    if not _misspelt_steps(data, SequenceDocument):
        _steps_shapes(data.get("steps"), ("steps",), "", problems, required=True)
    sequences = data.get("sequences", {})
    if isinstance(sequences, dict):
        for name, sub in sequences.items():
            where = ("sequences", name)
            if not isinstance(sub, dict):
                problems.append((where, f"sequence {name!r}", "must be a mapping with `steps:`"))
                continue
            rest = {key: value for key, value in sub.items() if key != "steps"}
            _model_problems(
                SubSequence, {**rest, "steps": []}, where, f"sequence {name!r}", problems
            )
            if not _misspelt_steps(sub, SubSequence):
                _steps_shapes(
                    sub.get("steps"), (*where, "steps"), f"{name}: ", problems, required=True
                )


def _misspelt_steps(data: dict[str, Any], model: type[BaseModel]) -> bool:
    """Whether `steps` is absent because a key already reported as unknown meant it."""
    if "steps" in data:
        return False
    fields = [info.alias or name for name, info in model.model_fields.items()]
    return any(
        key not in fields
        and difflib.get_close_matches(str(key), fields, n=1, cutoff=0.5) == ["steps"]
        for key in data
    )


def _steps_shapes(
    steps: Any,
    path: DataPath,
    label: str,
    problems: list[Problem],
    required: bool = False,
) -> None:
    if steps is None and not required:
        return
    if not isinstance(steps, list):
        problems.append((path, label.rstrip(": ") or "the file", "`steps` must be a list of steps"))
        return
    for index, raw in enumerate(steps):
        _step_shape(raw, (*path, index), f"{label}step {index + 1}", problems)


def _step_shape(raw: Any, path: DataPath, label: str, problems: list[Problem]) -> None:
    if not isinstance(raw, dict):
        problems.append((path, label, "a step must be a mapping such as `kind: move`"))
        return
    if raw.get("name"):
        label = f"{label} ({raw['name']!r})"
    kind = raw.get("kind")
    if kind is None:
        problems.append((path, label, f"the step has no `kind`; use one of: {_kinds()}"))
        return
    if kind not in STEP_MODELS:
        problems.append(
            ((*path, "kind"), label, unknown(f"there is no step kind {kind!r}", kind, STEP_MODELS))
        )
        return
    label = f"{label} {kind}"
    flat = dict(raw)
    for key in NESTED.get(kind, ()):
        if key in raw:
            _steps_shapes(raw[key], (*path, key), f"{label} > {key} > ", problems, required=True)
            flat[key] = []
    _model_problems(STEP_MODELS[kind], flat, path, label, problems)


def _model_problems(
    model: type[BaseModel],
    data: dict[str, Any],
    path: DataPath,
    label: str,
    problems: list[Problem],
) -> None:
    try:
        model.model_validate(data)
    except ValidationError as error:
        seen: set[DataPath] = set()
        for detail in error.errors():
            where = _data_path(data, detail["loc"])
            if where in seen:
                continue
            seen.add(where)
            problems.append(((*path, *where), label, _explain(model, detail, where, data)))


def _data_path(data: Any, loc: Sequence[int | str]) -> DataPath:
    """The part of a pydantic location that indexes the data (the rest names union members)."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(data, dict):
            path.append(part)
            if part not in data:
                break  # a missing field: its name is the last useful part
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            path.append(part)
            data = data[part]
        else:
            break
    return tuple(path)


def _explain(model: type[BaseModel], detail: Any, where: DataPath, data: Any) -> str:
    field_name = str(where[-1]) if where else ""
    kind = detail["type"]
    if kind == "missing":
        return f"`{field_name}` is missing: add `{field_name}: ...`"
    if kind == "extra_forbidden":
        allowed = [f.alias or name for name, f in model.model_fields.items()]
        return unknown(f"`{field_name}` is not a field here", field_name, allowed)
    value = _value_at(data, where)
    number_kinds = ("float_parsing", "float_type", "string_pattern_mismatch", "string_type")
    if kind in number_kinds and _is_number_field(model, field_name):
        return f"`{field_name}` must be a number or a $parameter, got {value!r}"
    if kind == "value_error":
        return f"`{field_name}`: {detail['ctx']['error']}"
    if kind in ("literal_error", "enum"):
        return f"`{field_name}` is {value!r}; valid: {detail['ctx']['expected']}"
    return f"`{field_name}`: {detail['msg']}, got {value!r}"


def _is_number_field(model: type[BaseModel], field_name: str) -> bool:
    info = model.model_fields.get(field_name)
    return info is not None and "float" in str(info.annotation)


def _value_at(data: Any, path: DataPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def unknown(what: str, given: str, valid: Any) -> str:
    close = difflib.get_close_matches(str(given), list(valid), n=1, cutoff=0.5)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    return f"{what}.{hint} Valid: {', '.join(valid)}"


def _kinds() -> str:
    return ", ".join(STEP_MODELS)


def inline_farm(data: dict[str, Any], problems: list[Problem]) -> Farm:
    raw = data.get("farm")
    if not isinstance(raw, dict):
        return Farm()
    try:
        return Farm.model_validate(raw)
    except ValidationError as error:
        for detail in error.errors():
            where = _data_path(raw, detail["loc"])
            problems.append((("farm", *where), "the farm map", detail["msg"]))
        return Farm()


def format_problems(problems: list[Problem], loaded: Loaded) -> list[str]:
    lines = []
    for path, label, message in problems:
        line, column = loaded.where(path)
        lines.append(f"{loaded.source}:{line}:{column}: {label}: {message}")
    return lines
