"""Robot profiles: the geometry and motion settings of each FarmBot model.

A profile is what the controller uploads to the firmware on every connection and what the
planner's travel-time model is built from, so the plan's predicted durations match the
robot. Figures are FarmBot's seeded defaults (reference `farmbot.md` 2.3 and 2.4); the real
axis lengths are whatever "find axis length" measures on a given robot.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from potager.errors import PotagerError


class Axis(StrEnum):
    X = "x"
    Y = "y"
    Z = "z"


AXES = (Axis.X, Axis.Y, Axis.Z)


class Coordinate(NamedTuple):
    """A point in bed millimetres; Z is 0 at the top and negative downward."""

    x_mm: float
    y_mm: float
    z_mm: float

    def replace_axis(self, axis: Axis, value_mm: float) -> Coordinate:
        return self._replace(**{f"{axis.value}_mm": value_mm})

    def on_axis(self, axis: Axis) -> float:
        return float(getattr(self, f"{axis.value}_mm"))


class AxisMotion(BaseModel):
    """One axis's stepper settings, in the firmware's own units (steps, steps/s)."""

    model_config = ConfigDict(frozen=True)

    steps_per_mm: float = Field(gt=0)
    min_speed_steps_s: float = Field(gt=0)
    max_speed_steps_s: float = Field(gt=0)
    ramp_steps: int = Field(ge=0)
    home_speed_steps_s: float = Field(gt=0)

    @property
    def max_speed_mm_s(self) -> float:
        return self.max_speed_steps_s / self.steps_per_mm


class RobotProfile(BaseModel):
    """A robot model: bed size, axis motion, board and the pins of its peripherals.

    Z homes up: Z = 0 is the top and working positions are negative, as on FarmBot, so
    the Z range is [-length_z_mm, 0].
    """

    model_config = ConfigDict(frozen=True)

    name: str
    board: str = Field(description="firmware build suffix, e.g. 'I.genesisK16'")
    length_x_mm: float = Field(gt=0)
    length_y_mm: float = Field(gt=0)
    length_z_mm: float = Field(gt=0)
    x: AxisMotion
    y: AxisMotion
    z: AxisMotion = Field(description="Z moving away from home (down)")
    z_toward_home: AxisMotion = Field(description="Z moving toward home (up)")
    movement_timeout_s: int = Field(default=180, gt=0)
    movement_retries: int = Field(default=3, ge=0)
    safe_z_mm: float = Field(default=0.0, le=0)
    water_valve_pin: int = 8
    vacuum_pin: int = 9
    lighting_pin: int = 7
    valve_guard_s: int = Field(default=60, gt=0, description="firmware closes the valve after")

    def motion(self, axis: Axis, toward_home: bool = False) -> AxisMotion:
        """The settings an axis moves with; Z has its own set for moving up."""
        if axis is Axis.Z:
            return self.z_toward_home if toward_home else self.z
        return self.x if axis is Axis.X else self.y

    def length_mm(self, axis: Axis) -> float:
        return {Axis.X: self.length_x_mm, Axis.Y: self.length_y_mm, Axis.Z: self.length_z_mm}[axis]

    def allowed_range_mm(self, axis: Axis) -> tuple[float, float]:
        """The soft limits of an axis: [0, length] for X/Y, [-length, 0] for Z."""
        length = self.length_mm(axis)
        return (-length, 0.0) if axis is Axis.Z else (0.0, length)


class UnknownProfileError(PotagerError):
    """A robot profile name that Potager does not know."""


_BELT_AXIS = AxisMotion(
    steps_per_mm=5,
    min_speed_steps_s=50,
    max_speed_steps_s=400,
    ramp_steps=300,
    home_speed_steps_s=400,
)
_LEADSCREW_Z = AxisMotion(
    steps_per_mm=25,
    min_speed_steps_s=50,
    max_speed_steps_s=400,
    ramp_steps=300,
    home_speed_steps_s=400,
)
_EXPRESS_X = AxisMotion(
    steps_per_mm=5,
    min_speed_steps_s=300,
    max_speed_steps_s=400,
    ramp_steps=250,
    home_speed_steps_s=400,
)
_EXPRESS_Y = AxisMotion(
    steps_per_mm=5,
    min_speed_steps_s=300,
    max_speed_steps_s=900,
    ramp_steps=250,
    home_speed_steps_s=500,
)


def _profile(
    name: str, board: str, bed_mm: tuple[float, float], x: AxisMotion, y: AxisMotion
) -> RobotProfile:
    return RobotProfile(
        name=name,
        board=board,
        length_x_mm=bed_mm[0],
        length_y_mm=bed_mm[1],
        length_z_mm=500,
        x=x,
        y=y,
        z=_LEADSCREW_Z,
        z_toward_home=_LEADSCREW_Z,
    )


_GENESIS_BOARD, _EXPRESS_BOARD = "I.genesisK16", "D.expressK11"

PROFILES: dict[str, RobotProfile] = {
    profile.name: profile
    for profile in (
        _profile("genesis", _GENESIS_BOARD, (2900, 1230), _BELT_AXIS, _BELT_AXIS),
        _profile("genesis-xl", _GENESIS_BOARD, (5900, 2730), _BELT_AXIS, _BELT_AXIS),
        _profile("express", _EXPRESS_BOARD, (2900, 930), _EXPRESS_X, _EXPRESS_Y),
        _profile("express-xl", _EXPRESS_BOARD, (5900, 2130), _EXPRESS_X, _EXPRESS_Y),
    )
}


def get_profile(name: str) -> RobotProfile:
    """The built-in profile called `name` (genesis, genesis-xl, express, express-xl)."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise UnknownProfileError(
            f"unknown robot profile {name!r}; choose one of: {known}"
        ) from None
