"""The detection a sequence's `detect` step runs: FarmBot's "plant-detection", done with
our photo grid and vision.

A `detect` step names a detector and gives it arguments; the checker validates them
against the detector's model before anything moves. `plant-detection` (the name FarmBot's
`execute_script` uses, so imported FarmBot sequences work) photographs an area on the
photo grid, in the planner's order, and reads the photos with the robot's models: the
farm map's plants are the sowing map, so what grows far from them is a weed. The result,
kept in the run record, lists the weeds safe to strike and those left for a person.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.bed_jobs import Eyes, find_weeds, photograph_bed
from controller.jobs import JobError
from controller.robot import Robot
from controller.sequence_models import Detector
from planner.jobs import Tool, ToolBay
from potager.farm import Farm
from vision.classify import WeedingSettings

PLANT_DETECTION = "plant-detection"
MARGIN_MM = 100.0
"""Around the farm's plants, the default area reaches this far: a weed at the edge of the
last plant's spread is still photographed."""


class PlantDetection(BaseModel):
    """Arguments of `plant-detection`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    area_mm: tuple[float, float, float, float] | None = Field(
        default=None,
        description="x_min, y_min, x_max, y_max to photograph; default: the farm's plants "
        "and points with a 100 mm margin",
    )
    crop_spread_mm: float = Field(
        default=WeedingSettings().crop_spread_mm,
        gt=0,
        description="how far a crop's leaves reach from where it was sown",
    )

    @model_validator(mode="after")
    def _area_is_a_rectangle(self) -> PlantDetection:
        if self.area_mm is not None:
            x_min, y_min, x_max, y_max = self.area_mm
            if not (x_max > x_min and y_max > y_min):
                raise ValueError("area_mm is x_min, y_min, x_max, y_max with max above min")
        return self


def vision_detectors(eyes: Callable[[], Eyes]) -> dict[str, Detector]:
    """The detectors a robot offers its sequences; `eyes` are asked for when a detection
    first runs (loading or training models takes seconds a check never needs)."""

    def run(robot: Any, arguments: BaseModel) -> dict[str, Any]:
        assert isinstance(robot, Robot) and isinstance(arguments, PlantDetection)
        return detect_plants(robot, eyes(), arguments)

    return {PLANT_DETECTION: Detector(PlantDetection, run)}


def detect_plants(robot: Robot, eyes: Eyes, arguments: PlantDetection) -> dict[str, Any]:
    """Photograph the area, find the weeds; every move and photo reported to the robot."""
    gantry, farm = robot.gantry, robot.farm
    profile = gantry.profile
    area = arguments.area_mm or _farm_area(farm, profile.length_x_mm, profile.length_y_mm)
    survey = photograph_bed(
        gantry,
        area,
        eyes.camera,
        eyes.capture,
        gantry.link.clock,
        bay=ToolBay(slots=tuple(farm.tool_slots)),
        z_mm=eyes.z_mm,
        mounted=None if robot.tool is None else Tool(robot.tool),
        on_action=robot.report,
    )
    sown_mm = [(plant.x_mm, plant.y_mm) for plant in farm.plants]
    settings = WeedingSettings(crop_spread_mm=arguments.crop_spread_mm)
    weeds = find_weeds(survey, eyes.colours, eyes.crop_weed, sown_mm, settings)
    return {
        "photos": len(survey.shots),
        "area_mm": list(area),
        "weeds": [
            {"x_mm": round(w.x_mm, 1), "y_mm": round(w.y_mm, 1), "radius_mm": round(w.radius_mm, 1)}
            for w in weeds.strikes
        ],
        "review": [
            {"x_mm": round(r.x_mm, 1), "y_mm": round(r.y_mm, 1), "why": r.why}
            for r in weeds.reviews
        ],
    }


def _farm_area(
    farm: Farm, length_x_mm: float, length_y_mm: float
) -> tuple[float, float, float, float]:
    places = [*farm.plants, *farm.points]
    if not places:
        raise JobError(
            "plant-detection needs an area: the farm map has no plants or points to "
            "photograph around; give area_mm: [x_min, y_min, x_max, y_max]"
        )
    return (
        max(0.0, min(p.x_mm for p in places) - MARGIN_MM),
        max(0.0, min(p.y_mm for p in places) - MARGIN_MM),
        min(length_x_mm, max(p.x_mm for p in places) + MARGIN_MM),
        min(length_y_mm, max(p.y_mm for p in places) + MARGIN_MM),
    )
