"""Reading sequence files while remembering where every value was written.

Error messages must send a student to the exact line and column, so the file is composed
into YAML nodes (JSON is read the same way: it is valid YAML) and each value's start mark
is kept in a map from its path, e.g. ("steps", 2, "x"), to its 1-based line and column.
A mapping's entries are placed at their key, where a reader looks for `x:`; list items at
their first character.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from controller.protocol import ControllerError

DataPath = tuple[str | int, ...]


class SequenceError(ControllerError):
    """A sequence that cannot run; the message lists every problem found, one per line."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        heading = f"{source}: " if source else ""
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{heading}{count} to fix:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass
class Loaded:
    """A document's plain data and where each part of it starts in the file."""

    data: Any
    source: str
    positions: dict[DataPath, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: DataPath) -> tuple[int, int]:
        """The line and column of `path`, or of its nearest enclosing value."""
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, (1, 1))

    def at(self, path: DataPath) -> str:
        """`file:line:column` of `path`, the way every message starts."""
        line, column = self.where(path)
        return f"{self.source}:{line}:{column}"


def load_text(text: str, source: str = "<text>") -> Loaded:
    """Parse YAML or JSON text, keeping the start of every node."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise SequenceError([f"{where}: this is not valid YAML or JSON: {error.problem}"]) from None
    except yaml.reader.ReaderError as error:  # a character YAML refuses, before any parsing
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        raise SequenceError(
            [f"{source}:{line}:{column}: the invisible character U+{error.character:04X} is "
             "not allowed in a sequence: "
             "delete it (it often comes with a copy-paste)"]
        ) from None  # fmt: skip
    loaded = Loaded(None, source)
    if node is not None:
        loaded.data = _build(node, (), loaded.positions, yaml.SafeLoader(""))
    return loaded


def load_file(path: str | Path) -> Loaded:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise SequenceError([f"cannot read {path}: {error.strerror}"]) from None
    return load_text(text, str(path))


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(
    node: yaml.Node,
    path: DataPath,
    positions: dict[DataPath, tuple[int, int]],
    constructor: yaml.SafeLoader,
) -> Any:
    positions.setdefault(path, _mark(node))
    if isinstance(node, yaml.MappingNode):
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node)
            positions[(*path, key)] = _mark(key_node)
            mapping[key] = _build(value_node, (*path, key), positions, constructor)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, index), positions, constructor)
            for index, item in enumerate(node.value)
        ]
    return constructor.construct_object(node)
