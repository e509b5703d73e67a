"""A minimal farm map: the named things a sequence can point at.

Sequences say "move to the lettuce" or "water every plant of the bed-A group" rather than
giving millimetres, so they need a map: named points (seed trays, markers), plants with
their growth stage, point groups, and tool slots. Pure data, so the planner, the controller
and the web app all read the same vocabulary. FarmBot exports refer to things by numeric
id, so every entry may carry its `farmbot_id` and be found as `#<id>` (tools `tool#<id>`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from potager.robots import Coordinate

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
PlantStage = Literal["planned", "planted", "sprouted", "active", "harvested", "removed", "pending"]
PLANT_STAGES: tuple[str, ...] = PlantStage.__args__  # type: ignore[attr-defined]
"""FarmBot's plant stages (reference `farmbot.md` 3.1)."""


class Tool(StrEnum):
    """Tools that live in the bay; the camera rides on the gantry and is not one of them."""

    SEEDER = "seeder"
    WATERING_NOZZLE = "watering_nozzle"
    WEEDER = "weeder"
    SOIL_SENSOR = "soil_sensor"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class Point(BaseModel):
    """A named place in bed millimetres (Z 0 at the top, negative downward)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    x_mm: FiniteFloat
    y_mm: FiniteFloat
    z_mm: FiniteFloat = 0.0
    farmbot_id: int | None = None


class Plant(Point):
    """A plant (or a planned one) and how far along it is."""

    crop: str = ""
    stage: PlantStage = "planned"


class PointGroup(BaseModel):
    """Named members (points or plants), visited together by `for_each`."""

    model_config = ConfigDict(extra="forbid")

    name: str
    members: list[str]


class ToolSlot(BaseModel):
    """Where a tool rests. The slot opens toward +X: tools slide in and pull out along X.

    The watering nozzle's slot records the nozzle's measured flow rate. A map may lack it
    (FarmBot's tool records do not always carry one); whatever waters asks for it then.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: Tool
    x_mm: FiniteFloat
    y_mm: FiniteFloat
    z_mm: FiniteFloat
    flow_rate_ml_s: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="what the watering nozzle delivers (FarmBot's flow rate)",
    )
    farmbot_id: int | None = None

    @property
    def position(self) -> Coordinate:
        return Coordinate(self.x_mm, self.y_mm, self.z_mm)


class Farm(BaseModel):
    """Everything named on one bed."""

    model_config = ConfigDict(extra="forbid")

    points: list[Point] = Field(default_factory=list)
    plants: list[Plant] = Field(default_factory=list)
    groups: list[PointGroup] = Field(default_factory=list)
    tool_slots: list[ToolSlot] = Field(default_factory=list)

    def place(self, name: str) -> Point | None:
        """The point or plant called `name` (or `#<farmbot id>`), if there is one."""
        for entry in [*self.plants, *self.points]:
            if entry.name == name or (
                entry.farmbot_id is not None and name == f"#{entry.farmbot_id}"
            ):
                return entry
        return None

    def slot(self, tool: str) -> ToolSlot | None:
        """The slot of `tool` (a tool name or `tool#<farmbot id>`), if the bay has one."""
        for slot in self.tool_slots:
            if slot.tool == tool or (
                slot.farmbot_id is not None and tool == f"tool#{slot.farmbot_id}"
            ):
                return slot
        return None

    def group(self, name: str) -> PointGroup | None:
        return next((group for group in self.groups if group.name == name), None)

    def place_names(self) -> list[str]:
        return [entry.name for entry in [*self.plants, *self.points]]
