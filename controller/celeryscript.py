"""Importing FarmBot sequences exported as CeleryScript JSON (reference `farmbot.md` 3).

Each node becomes one or more of our steps, remembering which node it came from so that a
later validation message still points at the line of the exported file. Nodes we cannot
honour (Lua, assertions, unknown scripts, admin RPCs, soil height, named pins) are all
gathered into one `SequenceError` naming each node and its line, before anything runs.
References by FarmBot id become `#<id>` (points, plants) and `tool#<id>` (tools); a farm
map whose entries carry `farmbot_id` resolves them.
"""

from __future__ import annotations

from typing import Any

from controller.sequence_load import DataPath, Loaded, SequenceError

_LEVELS = ("success", "info", "warn", "error", "debug")
"""FarmBot message types we keep; the others (busy, fun, assertion) become info."""
_OPS = {"<": "<", ">": ">", "is": "==", "not": "!="}
_SCRIPTS = ("plant-detection",)
_WHY_NOT = {
    "lua": "Lua code cannot be checked before it runs; rewrite it with our steps",
    "assertion": "assertions are Lua expressions; use an `if` step instead",
    "toggle_pin": "toggling depends on the pin's unknown state; use write_pin with a value",
    "set_servo_angle": "servos are not a step kind yet",
    "emergency_lock": "an e-stop is not a sequence step; press the button",
    "emergency_unlock": "unlocking must be done by a person who has checked the robot",
}


def is_celeryscript(data: Any) -> bool:
    """A FarmBot export: a `sequence` node with a `body`, or a list of them."""
    if isinstance(data, list):
        return bool(data) and all(is_celeryscript(item) for item in data)
    return isinstance(data, dict) and data.get("kind") == "sequence" and "body" in data


def import_celeryscript(loaded: Loaded) -> Loaded:
    """Our sequence document for an export; the first sequence of a list is the main one."""
    nodes = loaded.data if isinstance(loaded.data, list) else [loaded.data]
    roots: list[DataPath] = (
        [(i,) for i in range(len(nodes))] if isinstance(loaded.data, list) else [()]
    )
    names = {
        node.get("id"): str(node.get("name", f"sequence {i + 1}")) for i, node in enumerate(nodes)
    }
    importer = _Importer(loaded, names)
    main = importer.sequence(nodes[0], roots[0], ("steps",))
    document: dict[str, Any] = {"name": names[nodes[0].get("id")], **main}
    subs = {}
    for node, root in zip(nodes[1:], roots[1:], strict=True):
        name = names[node.get("id")]
        subs[name] = importer.sequence(node, root, ("sequences", name, "steps"))
    if subs:
        document["sequences"] = subs
    if importer.unsupported:
        raise SequenceError(importer.unsupported, loaded.source)
    positions = {ours: loaded.where(theirs) for ours, theirs in importer.origins.items()}
    return Loaded(document, loaded.source, positions)


class _Importer:
    def __init__(self, loaded: Loaded, names: dict[Any, str]) -> None:
        self.loaded, self.names = loaded, names
        self.unsupported: list[str] = []
        self.origins: dict[DataPath, DataPath] = {}

    def refuse(self, path: DataPath, kind: str, why: str) -> list[dict[str, Any]]:
        line, column = self.loaded.where(path)
        where = ".".join(str(part) for part in path) or "top"
        self.unsupported.append(f"{self.loaded.source}:{line}:{column}: {where} `{kind}`: {why}")
        return []

    def sequence(self, node: dict[str, Any], root: DataPath, ours: DataPath) -> dict[str, Any]:
        self.origins[ours] = (*root, "body")
        parameters = self.locals(node.get("args", {}).get("locals", {}), (*root, "args", "locals"))
        steps = self.body(node.get("body") or [], (*root, "body"), ours)
        return {"parameters": parameters, "steps": steps}

    def body(self, nodes: list[Any], theirs: DataPath, ours: DataPath) -> list[dict[str, Any]]:
        steps: list[dict[str, Any]] = []
        for index, node in enumerate(nodes):
            for step in self.node(node, (*theirs, index)):
                self.origins[(*ours, len(steps))] = (*theirs, index)
                steps.append(step)
        return steps

    def node(self, node: Any, path: DataPath) -> list[dict[str, Any]]:
        kind = node.get("kind") if isinstance(node, dict) else None
        args = node.get("args", {}) if isinstance(node, dict) else {}
        match kind:
            case "move_absolute":
                return self.move_absolute(args, path)
            case "move":
                return self.move(node.get("body") or [], path)
            case "move_relative":
                return [
                    {
                        "kind": "move",
                        "relative": True,
                        "x": args.get("x", 0),
                        "y": args.get("y", 0),
                        "z": args.get("z", 0),
                        "speed_percent": args.get("speed", 100),
                    }
                ]
            case "find_home" | "zero" | "calibrate":
                ours = {"zero": "set_home"}.get(kind, kind)
                return [{"kind": ours, "axis": args.get("axis", "all")}]
            case "home":
                return _home(args.get("axis", "all"), args.get("speed", 100))
            case "write_pin" | "read_pin":
                return self.pin(kind, args, path)
            case "wait":
                return [{"kind": "wait", "seconds": args.get("milliseconds", 0) / 1000}]
            case "send_message":
                given = args.get("message_type", "info")
                level = given if given in _LEVELS else "info"
                return [{"kind": "message", "text": args.get("message", ""), "level": level}]
            case "_if":
                return self.if_(args, path)
            case "execute":
                return [self.execute(args, node.get("body") or [], path)]
            case "execute_script":
                return self.script(args, path)
            case "take_photo":
                return [{"kind": "take_photo"}]
            case "update_resource":
                return self.update_resource(args, node.get("body") or [], path)
            case str() if kind in _WHY_NOT:
                return self.refuse(path, kind, _WHY_NOT[kind])
            case str():
                return self.refuse(path, kind, "not a sequence step Potager can run")
        return self.refuse(path, "?", "not a CeleryScript node (no `kind`)")

    def locals(self, scope: Any, path: DataPath) -> dict[str, Any]:
        parameters: dict[str, Any] = {}
        for index, node in enumerate(scope.get("body") or [] if isinstance(scope, dict) else []):
            args = node.get("args", {})
            label = args.get("label", f"variable_{index}")
            value = args.get("default_value") or args.get("data_value") or {}
            converted = self.value(value, (*path, "body", index))
            if converted is not None:
                parameters[label] = converted
        return parameters

    def value(self, value: dict[str, Any], path: DataPath) -> dict[str, Any] | None:
        kind, args = value.get("kind"), value.get("args", {})
        if kind == "numeric":
            return {"type": "number", "default": args.get("number")}
        if kind == "text":
            return {"type": "text", "default": args.get("string")}
        if kind in ("point", "tool"):
            return {"type": "place", "default": _reference(kind, args)}
        self.refuse(path, str(kind), "only numbers, texts, points and tools can be variables")
        return None

    def move_absolute(self, args: dict[str, Any], path: DataPath) -> list[dict[str, Any]]:
        location = args.get("location", {})
        kind, where = location.get("kind"), location.get("args", {})
        offset = args.get("offset", {}).get("args", {})
        speed = args.get("speed", 100)
        if kind == "coordinate":
            return [
                {
                    "kind": "move",
                    "speed_percent": speed,
                    **{a: where.get(a, 0) + offset.get(a, 0) for a in "xyz"},
                }
            ]
        if kind in ("point", "tool"):
            step = {"kind": "move", "to": _reference(kind, where), "speed_percent": speed}
        elif kind == "identifier":
            step = {"kind": "move", "to": f"${where.get('label')}", "speed_percent": speed}
        else:
            return self.refuse((*path, "args", "location"), str(kind), "unknown location kind")
        shift = {a: offset[a] for a in "xyz" if offset.get(a)}
        return [step, {"kind": "move", "relative": True, **shift}] if shift else [step]

    def move(self, items: list[Any], path: DataPath) -> list[dict[str, Any]]:
        step: dict[str, Any] = {"kind": "move"}
        added: dict[str, float] = {}
        for index, item in enumerate(items):
            where = (*path, "body", index)
            kind, args = item.get("kind"), item.get("args", {})
            if kind == "safe_z":
                step["safe_z"] = True
            elif kind == "speed_overwrite":
                speed = args.get("speed_setting", {}).get("args", {}).get("number")
                if speed is None:
                    self.refuse(where, kind, "only numeric speeds can be imported")
                else:
                    step["speed_percent"] = min(speed, step.get("speed_percent", 100))
            elif kind == "axis_addition":
                number = self.operand_number(args, where)
                if number is not None:
                    added[args.get("axis", "x")] = number
            elif kind == "axis_overwrite":
                self.overwrite(step, args, where)
            else:
                self.refuse(where, str(kind), "not a part of a move")
        return self.combine(step, added, path)

    def combine(
        self, step: dict[str, Any], added: dict[str, float], path: DataPath
    ) -> list[dict[str, Any]]:
        absolute = {a for a in "xyz" if a in step} or ({"to"} & step.keys())
        if not absolute:
            return [{**step, "relative": True, **added}] if added else []
        for axis, value in added.items():
            if axis in step and isinstance(step[axis], int | float):
                step[axis] += value
            else:
                return self.refuse(
                    path,
                    "move",
                    f"adding to {axis} of a point or current "
                    "position; split it into a move and a relative move",
                )
        return [step]

    def overwrite(self, step: dict[str, Any], args: dict[str, Any], path: DataPath) -> None:
        axis = args.get("axis", "x")
        operand = args.get("axis_operand", {})
        kind, values = operand.get("kind"), operand.get("args", {})
        if kind == "numeric":
            step[axis] = values.get("number", 0)
        elif kind == "coordinate":
            step[axis] = values.get(axis, 0)
        elif kind in ("point", "tool"):
            step["to"] = _reference(kind, values)
        elif kind == "identifier":
            step["to"] = f"${values.get('label')}"
        elif kind == "special_value" and values.get("label") == "current_location":
            return
        else:
            label = values.get("label", kind)
            self.refuse(
                path,
                f"{kind} {label}" if kind == "special_value" else str(kind),
                "this kind of axis value cannot be imported; give a number",
            )

    def operand_number(self, args: dict[str, Any], path: DataPath) -> float | None:
        operand = args.get("axis_operand", {})
        if operand.get("kind") == "numeric":
            return float(operand.get("args", {}).get("number", 0))
        self.refuse(path, str(operand.get("kind")), "only numbers can be added to an axis")
        return None

    def pin(self, kind: str, args: dict[str, Any], path: DataPath) -> list[dict[str, Any]]:
        pin = args.get("pin_number")
        if not isinstance(pin, int):
            return self.refuse(
                path,
                f"{kind} with a named pin",
                "name the pin's number (e.g. 8 for the water valve)",
            )
        mode = "analog" if args.get("pin_mode") == 1 else "digital"
        if kind == "write_pin":
            return [{"kind": kind, "pin": pin, "value": args.get("pin_value", 0), "mode": mode}]
        return [{"kind": kind, "pin": pin, "mode": mode, "label": args.get("label", f"pin{pin}")}]

    def if_(self, args: dict[str, Any], path: DataPath) -> list[dict[str, Any]]:
        lhs, op = args.get("lhs"), args.get("op")
        condition: dict[str, Any] = {"op": _OPS.get(str(op)), "value": args.get("rhs", 0)}
        if lhs in ("x", "y", "z"):
            condition["position"] = lhs
        elif isinstance(lhs, str) and lhs.startswith("pin") and lhs[3:].isdigit():
            condition["pin"] = int(lhs[3:])
        else:
            return self.refuse(path, "_if", "compare a position (x, y, z) or a pin number")
        if op not in _OPS:
            return self.refuse(path, f"_if {op}", "valid comparisons are <, >, is, not")
        step: dict[str, Any] = {"kind": "if", "condition": condition}
        for theirs, ours in (("_then", "then"), ("_else", "else")):
            branch = args.get(theirs, {})
            if branch.get("kind") == "execute":
                step[ours] = [self.execute(branch.get("args", {}), branch.get("body") or [], path)]
            elif branch.get("kind") not in (None, "nothing"):
                self.refuse((*path, "args", theirs), str(branch.get("kind")), "not a branch")
        return [step]

    def execute(self, args: dict[str, Any], body: list[Any], path: DataPath) -> dict[str, Any]:
        ident = args.get("sequence_id")
        name = self.names.get(ident, f"sequence {ident}")
        given = {}
        for index, item in enumerate(body):
            item_args = item.get("args", {})
            value = self.value(item_args.get("data_value", {}), (*path, "body", index))
            if value is not None:
                given[item_args.get("label", f"variable_{index}")] = value["default"]
        return {"kind": "call", "sequence": name, "with": given}

    def script(self, args: dict[str, Any], path: DataPath) -> list[dict[str, Any]]:
        label = args.get("label")
        if label not in _SCRIPTS:
            return self.refuse(
                path,
                f"execute_script {label!r}",
                f"the scripts Potager knows are: {', '.join(_SCRIPTS)}",
            )
        return [{"kind": "detect", "function": label}]

    def update_resource(
        self, args: dict[str, Any], body: list[Any], path: DataPath
    ) -> list[dict[str, Any]]:
        resource = args.get("resource", {}).get("args", {})
        if resource.get("resource_type") not in ("Plant", "Weed", "GenericPointer"):
            return self.refuse(path, "update_resource", "only plant stages can be marked")
        target = f"#{resource.get('resource_id')}"
        pairs = {p.get("args", {}).get("label"): p.get("args", {}).get("value") for p in body}
        if set(pairs) != {"plant_stage"}:
            return self.refuse(path, "update_resource", "only `plant_stage` can be changed")
        return [{"kind": "mark", "target": target, "stage": pairs["plant_stage"]}]


def _reference(kind: str, args: dict[str, Any]) -> str:
    if kind == "tool":
        return f"tool#{args.get('tool_id')}"
    return f"#{args.get('pointer_id')}"


def _home(axis: str, speed: float) -> list[dict[str, Any]]:
    """FarmBot's go-home: Z first, so the tool clears the plants, then X and Y."""
    if axis != "all":
        return [{"kind": "move", axis: 0, "speed_percent": speed}]
    return [
        {"kind": "move", "z": 0, "speed_percent": speed},
        {"kind": "move", "x": 0, "y": 0, "speed_percent": speed},
    ]
