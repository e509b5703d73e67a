"""The student sequence language: one pydantic model per step kind.

A sequence is a list of steps, each a mapping with a `kind` (move, water, if, ...) and an
optional `name` that error messages quote. Numbers may be written as `$parameter` to use a
parameter or a `for_each` variable; names of places may be `$variable` too. Positions are
bed millimetres, volumes millilitres, durations seconds. The models carry the schema:
`sequence_json_schema()` publishes it for editors and `potager sequence schema`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from potager.farm import FiniteFloat, PlantStage, Tool

VariableRef = Annotated[str, Field(pattern=r"^\$[A-Za-z_][A-Za-z0-9_]*$")]
Number = FiniteFloat | VariableRef
"""A number, or `$name` of a number parameter."""
AxisChoice = Literal["x", "y", "z", "all"]
Comparison = Literal["<", "<=", ">", ">=", "==", "!="]
Order = Literal[
    "planner",
    "xy_ascending",
    "xy_descending",
    "yx_ascending",
    "yx_descending",
    "xy_alternating",
    "yx_alternating",
    "nn",
    "random",
]


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str | None = Field(default=None, description="shown in messages and logs")


class MoveStep(_Step):
    """Go somewhere: absolute X/Y/Z, `relative` steps, or `to` a named plant, point or tool."""

    kind: Literal["move"]
    to: str | None = Field(default=None, description="plant, point or tool name, or $variable")
    x: Number | None = Field(default=None, description="mm (an offset when relative)")
    y: Number | None = None
    z: Number | None = None
    relative: bool = False
    safe_z: bool = Field(default=False, description="rise to safe height, cross, descend")
    speed_percent: Number = 100.0


class FindHomeStep(_Step):
    kind: Literal["find_home"]
    axis: AxisChoice = "all"


class SetHomeStep(_Step):
    kind: Literal["set_home"]
    axis: AxisChoice = "all"


class CalibrateStep(_Step):
    kind: Literal["calibrate"]
    axis: AxisChoice = "all"


class WritePinStep(_Step):
    kind: Literal["write_pin"]
    pin: int = Field(ge=1, le=69)
    value: int = Field(ge=0, le=255)
    mode: Literal["digital", "analog"] = "digital"


class ReadPinStep(_Step):
    """Read a pin; the value is kept as the sensor reading called `label`."""

    kind: Literal["read_pin"]
    pin: int = Field(ge=1, le=69)
    label: str
    mode: Literal["digital", "analog"] = "digital"


class WaitStep(_Step):
    kind: Literal["wait"]
    seconds: Number = Field(description="seconds, at most 600")


class WaterStep(_Step):
    """Open the nozzle's valve for volume / flow rate seconds (the nozzle must be mounted)."""

    kind: Literal["water"]
    ml: Number = Field(description="millilitres")
    to: str | None = Field(default=None, description="water there (safe-Z move first)")


class SowStep(_Step):
    """Pick a seed from `tray` with the vacuum, carry it to `to`, push it `depth` mm down."""

    kind: Literal["sow"]
    tray: str
    to: str
    depth: Number = Field(default=5.0, description="mm below the point's Z")


class WeedStep(_Step):
    kind: Literal["weed"]
    to: str
    depth: Number = Field(default=20.0, description="mm below the point's Z")


class TakePhotoStep(_Step):
    kind: Literal["take_photo"]
    to: str | None = None


class DetectStep(_Step):
    """Run a detection function the caller provides (vision hooks in here)."""

    kind: Literal["detect"]
    function: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class MountToolStep(_Step):
    kind: Literal["mount_tool"]
    tool: Tool


class DismountToolStep(_Step):
    kind: Literal["dismount_tool"]
    tool: Tool | None = Field(default=None, description="default: the mounted tool")


class Condition(BaseModel):
    """Compare a sensor reading, a pin or the position with a number: give one of the three."""

    model_config = ConfigDict(extra="forbid")

    reading: str | None = Field(default=None, description="a read_pin label")
    pin: int | None = Field(default=None, ge=1, le=69)
    position: Literal["x", "y", "z"] | None = None
    op: Comparison
    value: Number


class IfStep(_Step):
    kind: Literal["if"]
    condition: Condition
    then: list[Step] = Field(default_factory=list)
    else_: list[Step] = Field(default_factory=list, alias="else")


class ForEachStep(_Step):
    """Repeat `steps` for each member of a point group, `as` naming the current one."""

    kind: Literal["for_each"]
    group: str
    as_: str = Field(default="point", alias="as", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    order: Order = Field(default="planner", description="planner, or a FarmBot sort")
    steps: list[Step]


class CallStep(_Step):
    kind: Literal["call"]
    sequence: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")


class MessageStep(_Step):
    kind: Literal["message", "log"]
    text: str = Field(min_length=1, max_length=300)
    level: Literal["info", "success", "warn", "error", "debug"] = "info"


class MarkStep(_Step):
    kind: Literal["mark"]
    target: str
    stage: PlantStage


Step = Annotated[
    MoveStep
    | FindHomeStep
    | SetHomeStep
    | CalibrateStep
    | WritePinStep
    | ReadPinStep
    | WaitStep
    | WaterStep
    | SowStep
    | WeedStep
    | TakePhotoStep
    | DetectStep
    | MountToolStep
    | DismountToolStep
    | IfStep
    | ForEachStep
    | CallStep
    | MessageStep
    | MarkStep,
    Field(discriminator="kind"),
]

STEP_MODELS: dict[str, type[BaseModel]] = {
    "move": MoveStep,
    "find_home": FindHomeStep,
    "set_home": SetHomeStep,
    "calibrate": CalibrateStep,
    "write_pin": WritePinStep,
    "read_pin": ReadPinStep,
    "wait": WaitStep,
    "water": WaterStep,
    "sow": SowStep,
    "weed": WeedStep,
    "take_photo": TakePhotoStep,
    "detect": DetectStep,
    "mount_tool": MountToolStep,
    "dismount_tool": DismountToolStep,
    "if": IfStep,
    "for_each": ForEachStep,
    "call": CallStep,
    "message": MessageStep,
    "log": MessageStep,
    "mark": MarkStep,
}


@dataclass
class Detector:
    """A detection function a caller plugs in, and the model its arguments must fit."""

    arguments: type[BaseModel]
    run: Callable[[Any, BaseModel], Any]


class Parameter(BaseModel):
    """A typed input of a sequence; a caller may override the default."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["number", "text", "place"]
    default: FiniteFloat | str | None = None

    @model_validator(mode="after")
    def _default_fits_the_type(self) -> Parameter:
        if self.default is not None and isinstance(self.default, float) != (self.type == "number"):
            raise ValueError(f"the default {self.default!r} is not a {self.type}")
        return self


class SubSequence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Parameter] = Field(default_factory=dict)
    steps: list[Step]


class SequenceDocument(SubSequence):
    """A whole file: the main steps, helper sequences to `call`, optionally its farm map."""

    name: str = "sequence"
    description: str = ""
    sequences: dict[str, SubSequence] = Field(default_factory=dict)
    starts_with_tool: Tool | None = Field(
        default=None, description="the tool already mounted when the sequence starts"
    )
    farm: dict[str, Any] | None = Field(default=None, description="a farm map (potager.farm)")


def sequence_json_schema() -> dict[str, Any]:
    """The JSON Schema of a sequence file, for editors and `potager sequence schema`."""
    return SequenceDocument.model_json_schema(by_alias=True)
