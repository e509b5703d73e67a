"""The robot API: what a student, a schedule or the web app asks a gantry to do.

`Gantry` sits on a link (serial or loopback) and a robot profile. It checks soft limits
before anything is sent, sizes each command's timeout from the predicted move time, turns
firmware failures into typed exceptions naming the axis, and makes the peripherals safe
(water valve closed) whenever a movement fails. It never knows whether the firmware is real.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable

from controller.link import CommandResult, Link, LinkError
from controller.params import Param, profile_configuration
from controller.protocol import (
    AxisTimedOut,
    CalibrateAxis,
    Command,
    ControllerError,
    DestinationClamped,
    EmergencyLocked,
    EndStops,
    Failed,
    FindHome,
    FirmwareErrorCode,
    Idle,
    Invalid,
    Move,
    NotConfigured,
    ParamCalibrated,
    PinMode,
    PinValue,
    Position,
    PulsePin,
    ReadEndStops,
    ReadPin,
    ReadPosition,
    Reply,
    SetServoAngle,
    SetZero,
    Unlock,
    WritePin,
)
from planner.motion import move_time_s
from potager.robots import AXES, Axis, Coordinate, RobotProfile

log = logging.getLogger(__name__)

SERVO_PINS = (4, 5, 6, 11)
TIMEOUT_FACTOR = 1.5
TIMEOUT_MARGIN_S = 5.0
"""A move may take 1.5x its predicted time plus 5 s before we call it lost."""


class GantryError(ControllerError):
    """A request the gantry refused or could not complete."""


class OutOfBoundsError(GantryError):
    """A target outside the soft limits; nothing was sent to the robot."""

    def __init__(self, axis: Axis, value_mm: float, allowed_mm: tuple[float, float]) -> None:
        low, high = allowed_mm
        super().__init__(
            f"{axis.upper()} = {value_mm:g} mm is outside the bed: {axis.upper()} must be "
            f"between {low:g} and {high:g} mm"
        )
        self.axis, self.value_mm, self.allowed_mm = axis, value_mm, allowed_mm


class FirmwareError(GantryError):
    """The firmware reported a failure; `axis` is set when it named one."""

    def __init__(self, message: str, code: int | None = None, axis: Axis | None = None) -> None:
        super().__init__(message)
        self.code, self.axis = code, axis


class EmergencyStopError(FirmwareError):
    """The robot is e-stopped: call `unlock()` once it is safe."""


class MoveTimeoutError(FirmwareError):
    """An axis did not reach its target within the firmware's movement timeout."""


class StallError(FirmwareError):
    """An axis stalled (obstacle, belt slip, motor fault)."""


class MoveAbortedError(FirmwareError):
    """The move was aborted on request."""


class CalibrationError(FirmwareError):
    """Finding an axis length failed."""


class NotConfiguredError(FirmwareError):
    """The firmware refuses to move until its configuration is approved."""


class InvalidCommandError(FirmwareError):
    """The firmware did not understand the command."""


_ERRORS_BY_CODE: dict[int, tuple[type[FirmwareError], str]] = {
    FirmwareErrorCode.EMERGENCY_STOP: (EmergencyStopError, "emergency stop during the command"),
    FirmwareErrorCode.TIMEOUT: (MoveTimeoutError, "movement timed out"),
    FirmwareErrorCode.STALL: (StallError, "stall detected"),
    FirmwareErrorCode.STALL_X: (StallError, "stall detected"),
    FirmwareErrorCode.STALL_Y: (StallError, "stall detected"),
    FirmwareErrorCode.STALL_Z: (StallError, "stall detected"),
    FirmwareErrorCode.CALIBRATION: (CalibrationError, "calibration failed"),
    FirmwareErrorCode.ABORTED: (MoveAbortedError, "movement aborted"),
    FirmwareErrorCode.INVALID_COMMAND: (InvalidCommandError, "invalid command"),
    FirmwareErrorCode.PARAMS_NOT_OK: (NotConfiguredError, "configuration not approved"),
}
_STALL_AXES = {
    FirmwareErrorCode.STALL_X: Axis.X,
    FirmwareErrorCode.STALL_Y: Axis.Y,
    FirmwareErrorCode.STALL_Z: Axis.Z,
}


def firmware_error(result: CommandResult) -> FirmwareError | None:
    """The typed error a command's final reply stands for, or None when it succeeded."""
    final = result.final
    what = f"{result.line!r}"
    if isinstance(final, EmergencyLocked):
        return EmergencyStopError(f"{what} refused: the robot is e-stopped; unlock it first")
    if isinstance(final, NotConfigured):
        return NotConfiguredError(f"{what} refused: the firmware's configuration is not approved")
    if isinstance(final, Invalid):
        return InvalidCommandError(f"{what} refused: the firmware does not know this command")
    if not isinstance(final, Failed):
        return None
    error_type, reason = _ERRORS_BY_CODE.get(final.error, (FirmwareError, "firmware error"))
    axis = _STALL_AXES.get(FirmwareErrorCode(final.error)) if final.error in _STALL_AXES else None
    for reply in result.replies:
        if isinstance(reply, AxisTimedOut):
            axis = reply.axis
    where = f" on the {axis.upper()} axis" if axis else ""
    return error_type(f"{what} failed: {reason}{where} (error {final.error})", final.error, axis)


MAX_PULSE_S = 30.0
"""One pulse stays below the firmware's 32.7 s limit; longer holds chain pulses."""


class Gantry:
    """A FarmBot-style gantry: X/Y along the bed, Z for the tool, pins for peripherals.

    Positions are bed millimetres; Z is 0 at the top and negative downward.
    """

    def __init__(self, link: Link, profile: RobotProfile) -> None:
        self.link = link
        self.profile = profile
        self.lengths_mm = {axis: profile.length_mm(axis) for axis in AXES}
        self.estopped = False
        self._position = Coordinate(0.0, 0.0, 0.0)
        self._outputs_on: set[int] = set()
        self._estop_listeners: list[Callable[[], None]] = []
        link.add_listener(self._on_reply)

    # -- connection ------------------------------------------------------------------

    def connect(self) -> Gantry:
        """Open the link and upload the profile's configuration (FarmBot OS does the same)."""
        self.link.set_configuration(profile_configuration(self.profile))
        self.link.open()
        return self

    def close(self) -> None:
        self.link.close()

    def __enter__(self) -> Gantry:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def firmware_version(self) -> str | None:
        return self.link.firmware_version

    @property
    def position(self) -> Coordinate:
        """The last position the firmware reported (R82) or a move reached."""
        return self._position

    # -- motion ----------------------------------------------------------------------

    def move_to(
        self,
        x_mm: float | None = None,
        y_mm: float | None = None,
        z_mm: float | None = None,
        *,
        speed_percent: float = 100.0,
        safe_z: bool = False,
    ) -> Coordinate:
        """Move to an absolute position; an omitted axis keeps its current value.

        With `safe_z`, the tool first rises to the profile's safe height, crosses, then
        descends, as FarmBot's safe-Z move does, so it never drags through plants.
        """
        here = self._position
        target = Coordinate(
            here.x_mm if x_mm is None else x_mm,
            here.y_mm if y_mm is None else y_mm,
            here.z_mm if z_mm is None else z_mm,
        )
        self._check_within_limits(target)
        _check_speed(speed_percent)
        if not safe_z:
            return self._move(target, speed_percent)
        safe = self.profile.safe_z_mm
        self._check_within_limits(target._replace(z_mm=safe))
        self._move(here._replace(z_mm=safe), speed_percent)
        self._move(target._replace(z_mm=safe), speed_percent)
        return self._move(target, speed_percent)

    def move_by(
        self,
        dx_mm: float = 0.0,
        dy_mm: float = 0.0,
        dz_mm: float = 0.0,
        *,
        speed_percent: float = 100.0,
    ) -> Coordinate:
        """Move relative to the current position."""
        here = self._position
        return self.move_to(
            here.x_mm + dx_mm, here.y_mm + dy_mm, here.z_mm + dz_mm, speed_percent=speed_percent
        )

    def go_home(self, axis: Axis | None = None, *, speed_percent: float = 100.0) -> Coordinate:
        """Move to coordinate 0 on one axis, or on all (Z first, so the tool clears plants)."""
        if axis is None:
            self._move(self._position._replace(z_mm=0.0), speed_percent)
            return self._move(Coordinate(0.0, 0.0, 0.0), speed_percent)
        return self._move(self._position.replace_axis(axis, 0.0), speed_percent)

    def find_home(self, axis: Axis) -> Coordinate:
        """Search the home end-stop of `axis` (encoders, stall detection or switches)."""
        self._run_motion(FindHome(axis), self._homing_timeout_s(axis, trips=1))
        self._position = self._position.replace_axis(axis, 0.0)
        return self._position

    def set_home(self, axes: Iterable[Axis] = AXES) -> Coordinate:
        """Declare the current position to be 0 on `axes` (F84), without moving."""
        chosen = set(axes)
        self._check(SetZero(Axis.X in chosen, Axis.Y in chosen, Axis.Z in chosen))
        for axis in chosen:
            self._position = self._position.replace_axis(axis, 0.0)
        return self._position

    def calibrate(self, axis: Axis) -> float:
        """Measure the length of `axis` by running it end to end; returns millimetres.

        The measured length becomes this gantry's soft limit for that axis.
        """
        result = self._run_motion(CalibrateAxis(axis), self._homing_timeout_s(axis, trips=3))
        length_param = Param.AXIS_STEPS_X + AXES.index(axis)
        steps = [
            r.value
            for r in result.replies
            if isinstance(r, ParamCalibrated) and r.param == length_param
        ]
        if not steps:
            raise CalibrationError(f"calibrating {axis.upper()} reported no axis length", axis=axis)
        length_mm = steps[-1] / self.profile.motion(axis).steps_per_mm
        self.lengths_mm[axis] = length_mm
        self._position = self._position.replace_axis(axis, 0.0)
        return length_mm

    def predicted_move_s(self, target: Coordinate, speed_percent: float = 100.0) -> float:
        """Seconds the firmware's motion model predicts for a move from here to `target`."""
        return move_time_s(self.profile, self._position, target, speed_percent)

    def read_position(self) -> Coordinate:
        """Ask the firmware where it is (F82)."""
        self._check(ReadPosition())
        return self._position

    # -- pins ------------------------------------------------------------------------

    def write_pin(self, pin: int, value: int, mode: PinMode = PinMode.DIGITAL) -> None:
        _check_pin(pin, value, mode)
        self._check(WritePin(pin, value, mode))
        if value:
            self._outputs_on.add(pin)
        else:
            self._outputs_on.discard(pin)

    @property
    def outputs_on(self) -> frozenset[int]:
        """Pins this controller has switched on and not yet off (what a status shows)."""
        return frozenset(self._outputs_on)

    def read_pin(self, pin: int, mode: PinMode = PinMode.DIGITAL) -> int:
        _check_pin(pin, 0, mode)
        result = self._check(ReadPin(pin, mode))
        values = [r.value for r in result.replies if isinstance(r, PinValue) and r.pin == pin]
        if not values:
            raise FirmwareError(f"reading pin {pin} returned no value")
        return values[-1]

    def pulse_pin(self, pin: int, duration_s: float, value: int = 1) -> None:
        """Hold `pin` at `value` for `duration_s`, then back to 0, timed by the firmware."""
        _check_pin(pin, value, PinMode.DIGITAL)
        duration_ms = round(duration_s * 1000)
        if not 0 < duration_ms <= 32767:
            raise GantryError(f"pulse length must be between 0.001 and 32.7 s, got {duration_s} s")
        self._check(PulsePin(pin, value, 0, duration_ms), timeout_s=duration_s + TIMEOUT_MARGIN_S)

    def hold_pin(self, pin: int, duration_s: float) -> None:
        """Hold `pin` on for `duration_s` of any length, as firmware-timed pulses of at most
        MAX_PULSE_S: one pulse cannot pass 32.7 s, and the firmware still closes the valve
        itself if the link dies in the middle."""
        remaining_s = duration_s
        while remaining_s > 1e-3:
            pulse_s = min(remaining_s, MAX_PULSE_S)
            self.pulse_pin(pin, pulse_s)
            remaining_s -= pulse_s

    def set_servo_angle(self, pin: int, angle_deg: int) -> None:
        if pin not in SERVO_PINS:
            raise GantryError(f"servos are on pins {SERVO_PINS}, not pin {pin}")
        if not 0 <= angle_deg <= 180:
            raise GantryError(f"servo angle must be 0-180 degrees, got {angle_deg}")
        self._check(SetServoAngle(pin, angle_deg))

    def read_end_stops(self) -> EndStops:
        result = self._check(ReadEndStops())
        stops = [r for r in result.replies if isinstance(r, EndStops)]
        if not stops:
            raise FirmwareError("reading the end-stops returned no R81 report")
        return stops[-1]

    # -- safety ----------------------------------------------------------------------

    def emergency_stop(self) -> None:
        """Stop everything now; motors, pins and servos are released by the firmware."""
        self._set_estopped()
        self.link.emergency_stop()
        self._outputs_on.clear()

    def add_estop_listener(self, callback: Callable[[], None]) -> None:
        """Call `callback` each time the robot becomes e-stopped: by `emergency_stop()`, or
        by the button, which the firmware reports even when no command runs. It may run on
        the link's reader thread."""
        self._estop_listeners.append(callback)

    def unlock(self) -> None:
        """Release the emergency stop (F09)."""
        self._check(Unlock())
        self.estopped = False

    # -- internals -------------------------------------------------------------------

    def _move(self, target: Coordinate, speed_percent: float) -> Coordinate:
        predicted_s = self.predicted_move_s(target, speed_percent)
        speeds: list[float | None] = [None, None, None]
        if speed_percent < 100:
            speeds = [
                self.profile.motion(axis).max_speed_steps_s * speed_percent / 100 for axis in AXES
            ]
        command = Move(target.x_mm, target.y_mm, target.z_mm, *speeds)
        result = self._run_motion(command, predicted_s * TIMEOUT_FACTOR + TIMEOUT_MARGIN_S)
        for reply in result.replies:
            if isinstance(reply, DestinationClamped):
                target = target.replace_axis(reply.axis, reply.value_mm)
        self._position = target
        return target

    def _run_motion(self, command: Command, timeout_s: float) -> CommandResult:
        """Run a moving command; on any failure close the valve and learn where we stopped."""
        try:
            return self._check(command, timeout_s)
        except (FirmwareError, LinkError) as error:
            log.error("movement failed: %s; making peripherals safe", error)
            self._make_safe()
            raise

    def _check(self, command: Command, timeout_s: float | None = None) -> CommandResult:
        result = self.link.execute(command, timeout_s or 5.0)
        error = firmware_error(result)
        if isinstance(error, EmergencyStopError):
            self._set_estopped()
            self._outputs_on.clear()
        if error is not None:
            raise error
        return result

    def _make_safe(self) -> None:
        if self.estopped:
            return  # the firmware already reset every pin it had written
        for pin in sorted(self._outputs_on | {self.profile.water_valve_pin}):
            try:
                self._check(WritePin(pin, 0))
                self._outputs_on.discard(pin)
            except (FirmwareError, LinkError) as error:
                log.error(
                    "could not switch pin %d off (%s); the firmware pin guard will", pin, error
                )
        try:
            self._check(ReadPosition())
        except (FirmwareError, LinkError) as error:
            log.warning("position unknown after the failure: %s", error)

    def _set_estopped(self) -> None:
        if self.estopped:
            return
        self.estopped = True
        for callback in self._estop_listeners:
            try:
                callback()
            except Exception:  # one failing listener must not hide the e-stop from the others
                log.exception("an e-stop listener failed")

    def _homing_timeout_s(self, axis: Axis, trips: int) -> float:
        motion = self.profile.motion(axis)
        one_way_s = self.lengths_mm[axis] * motion.steps_per_mm / motion.home_speed_steps_s
        return trips * one_way_s * TIMEOUT_FACTOR + TIMEOUT_MARGIN_S

    def _check_within_limits(self, target: Coordinate) -> None:
        for axis in AXES:
            value = target.on_axis(axis)
            length = self.lengths_mm[axis]
            low, high = (-length, 0.0) if axis is Axis.Z else (0.0, length)
            if not (math.isfinite(value) and low <= value <= high):
                raise OutOfBoundsError(axis, value, (low, high))

    def _on_reply(self, reply: Reply) -> None:
        if isinstance(reply, Position):
            self._position = Coordinate(reply.x_mm, reply.y_mm, reply.z_mm)
        elif isinstance(reply, EmergencyLocked):
            self._set_estopped()
        elif isinstance(reply, Idle) and reply.q == 0:
            self.estopped = False


def _check_speed(speed_percent: float) -> None:
    if not 1 <= speed_percent <= 100:
        raise GantryError(f"speed must be 1-100 % of the axis maximum, got {speed_percent}")


def _check_pin(pin: int, value: int, mode: PinMode) -> None:
    if not 1 <= pin <= 69:
        raise GantryError(f"pin must be 1-69 on a Farmduino, got {pin}")
    high = 255 if mode is PinMode.ANALOG else 1
    if not 0 <= value <= high:
        raise GantryError(
            f"pin {pin} value must be 0-{high} in {mode.name.lower()} mode, got {value}"
        )
