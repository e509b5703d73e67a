"""A virtual Farmduino: the stock firmware's serial behaviour as a pure state machine.

Bytes and time go in, bytes come out; there are no threads and no I/O, so one board runs in
a unit test at any speed, behind a pseudo-terminal (`sim.pty`) or inside a simulation. What
it reproduces is reference `farmbot.md` section 1.2 and what the genuine 6.6.26 builds were
seen doing (section 9): the echo that keeps the host's CR, the gatekeeping replies that
replace R01/R02, one command at a time with everything else dropped while it runs, per-axis
speed ramps that are linear in position, and the periodic reports a host must not mistake
for a clock. Fault injection (stalls, timeouts, garbage, lost replies, reboots) lets a
controller be tested against the failures real robots have.

Time is whatever the caller says it is: `receive` and `advance` take the clock time, and
`next_event_s` says when something will happen next without input, so a driver can jump
straight there.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from controller.params import FIRMWARE_DEFAULTS, Param
from controller.protocol import (
    Aborted,
    AxisStateReport,
    AxisTimedOut,
    CalibrationStateReport,
    Debug,
    DestinationClamped,
    Done,
    EmergencyLocked,
    EndStopPreamble,
    EndStops,
    Failed,
    FirmwareErrorCode,
    FirmwareVersion,
    HomingComplete,
    Idle,
    Invalid,
    NotConfigured,
    ParamCalibrated,
    ParamsListed,
    ParamValue,
    PinValue,
    Position,
    Reply,
    Retrying,
    Running,
    Started,
    format_reply,
)
from potager.robots import AXES, Axis
from sim import SimulatorError
from sim.gcode import ReceivedCommand, parse_command
from sim.stepper import AxisState, StepProfile

BOOT_BANNER = (
    "Serial connection started",
    "Start interrupt",
    "Set motor enables off",
    "Load movement settings",
    "Check homing on boot",
)
STARTUP_S = 0.3
"""From reset to `R99 ARDUINO STARTUP COMPLETE`; input before that is lost."""
BUILD_HASH = "52053ec8"
MAX_LINE_CHARS = 99
DEFAULT_TRAVEL_MM = {Axis.X: 3000.0, Axis.Y: 1500.0, Axis.Z: 500.0}
VALID_PARAM_IDS = tuple(sorted(set(FIRMWARE_DEFAULTS) - {1}))
PIN_IDS = range(1, 70)
SERVO_PINS = frozenset({4, 5, 6, 11})
SERVO_ANGLES_DEG = range(0, 181)
END_STOP_REPORT_PINS = (8, 9, 10, 13)
PIN_GUARD_COUNT = 5
_PIN_GUARD_PARAMS: tuple[tuple[int, int, int], ...] = tuple(
    (first, first + 1, first + 2)
    for first in (int(Param.PIN_GUARD_1_PIN) + 4 * guard for guard in range(PIN_GUARD_COUNT))
)
"""(pin, timeout, active state) parameter ids of each guard, as plain ints: this is hot."""
PIN_GUARD_TICK_S = 1.0
"""The firmware checks its pin guards once a second, so no guard acts sooner than that."""
MISSED_STEPS_MAX_X = 111
"""ENCODER_MISSED_STEPS_MAX_X; Y and Z follow."""
LONGEST_POSITION_STEPS = 2**31 - 1
"""Positions are C `long` step counts on the board."""
MOVE_REPORT_S = 0.25
"""How often the firmware reports its position during a move."""

UNLOCKED_CODES = frozenset({"F9", "F20", "F21", "F22", "F81", "F82", "F83"})
MOTION_CODES = frozenset({"G0", "G28", "F11", "F12", "F13", "F14", "F15", "F16"})
NEEDS_CONFIG_CODES = MOTION_CODES | {"G1"}
"""G01 has no handler, yet the firmware refuses it with R88 before it finds that out."""

_ESTOP_BYTES = frozenset(b"Ee")
_ABORT_BYTE = ord("@")
_LINE_FEED = ord("\n")
_REPLY_CODE = re.compile(rb"R(\d\d)")

_STALL_ERRORS = {
    Axis.X: FirmwareErrorCode.STALL_X,
    Axis.Y: FirmwareErrorCode.STALL_Y,
    Axis.Z: FirmwareErrorCode.STALL_Z,
}


def default_idle_report_s(board: str) -> float:
    """RAMPS and Farmduino v1.0 builds report idle every 5 s, later boards every 0.5 s."""
    return 5.0 if board[:1] in ("R", "F") else 0.5


class _Stage(Enum):
    OFF = "off"
    STARTING = "starting"
    READY = "ready"


class _Job:
    """The command that is running: its pending actions in time order."""

    def __init__(self) -> None:
        self._actions: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def at(self, time_s: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._actions, (time_s, next(self._order), action))

    def next_s(self) -> float | None:
        return self._actions[0][0] if self._actions else None

    def run_next(self) -> None:
        heapq.heappop(self._actions)[2]()

    def clear(self) -> None:
        self._actions.clear()


@dataclass(frozen=True)
class _AxisLeg:
    """One axis's part of a move, including where an injected fault leaves it stuck."""

    axis: Axis
    start_steps: int
    direction: int
    profile: StepProfile
    reach_steps: int
    """Steps it actually gets done: all of them, unless a fault stops it short."""
    stalls: bool = False

    @property
    def end_s(self) -> float:
        """Seconds after the start when this axis has arrived; inf if it never will."""
        if self.stalls or self.reach_steps < self.profile.steps:
            return math.inf
        return self.profile.duration_s

    @property
    def stuck_s(self) -> float:
        """Seconds after the start when this axis stops making progress short of its target."""
        if math.isinf(self.end_s):
            return self.profile.time_of_step(self.reach_steps)
        return math.inf

    def steps_at(self, elapsed_s: float) -> int:
        done = min(self.profile.steps_done_at(elapsed_s), self.reach_steps)
        return self.start_steps + self.direction * done


@dataclass(frozen=True)
class _Motion:
    """The three axes of a move in progress, all started at `start_s`."""

    start_s: float
    legs: tuple[_AxisLeg, ...]

    def steps_at(self, now_s: float) -> list[int]:
        return [leg.steps_at(now_s - self.start_s) for leg in self.legs]


@dataclass(frozen=True)
class _GuardDeadline:
    """The first pin guard to fire, if any, as last worked out."""

    upcoming: tuple[float, Callable[[], None]] | None


@dataclass
class _Faults:
    """Faults armed by a test; they belong to the world, so they survive a reboot."""

    stalls_mm: dict[Axis, float] = field(default_factory=dict)
    timeouts: set[Axis] = field(default_factory=set)
    dropped_codes: Counter[int] = field(default_factory=Counter)


class VirtualFarmduino:
    """A Farmduino running the stock firmware, driven by bytes and clock times.

    `board` is the build suffix (e.g. "I.genesisK16"), `eeprom` what the board's EEPROM
    holds (parameter id -> value), `boot_at_s` the clock time of power-on. The inspection
    properties describe the board as of the latest time it was given.

    Where the firmware source and the reference differ, the source wins: parameter 5
    counts attempts, so a stall is retried param 5 - 1 times; R71-R73 carry no Q; a refused
    command (R87/R88/R09) does not flush the input behind it. Left out on purpose: the R81,
    R84 and R85 lines around moves, the "stopping" axis state, homing at boot, and the
    64 us stepping timer (cruise runs at the configured speed, not ~386 steps/s). Homing
    and calibration crawl at the homing speed without searching for anything, and every
    move, calibration included, is bounded by MOVEMENT_TIMEOUT.
    """

    _guard_next: _GuardDeadline | None
    """The first pin guard to fire, None until worked out again after a change."""

    def __init__(
        self,
        board: str = "I.genesisK16",
        *,
        version: str = "6.6.26",
        eeprom: dict[int, int] | None = None,
        idle_report_s: float | None = None,
        report_interval_s: float = MOVE_REPORT_S,
        boot_at_s: float = 0.0,
    ) -> None:
        self.board = board
        self.version = version
        self._idle_report_s = (
            default_idle_report_s(board) if idle_report_s is None else idle_report_s
        )
        self._report_interval_s = report_interval_s
        if not (self._idle_report_s > 0 and report_interval_s > 0):
            raise SimulatorError(
                f"report periods must be positive seconds, got idle {self._idle_report_s}, "
                f"during moves {report_interval_s}"
            )
        self._eeprom = dict(eeprom or {})
        self._inputs: dict[int, int] = {}
        self._faults = _Faults()
        self.travel_mm = dict(DEFAULT_TRAVEL_MM)
        self._out = bytearray()
        self._handlers = self._handler_table()
        self._now_s = min(0.0, boot_at_s)
        self._horizon_s = self._now_s
        self._power_on(boot_at_s)

    # ------------------------------------------------------------------ public driving

    def receive(self, data: bytes, now_s: float) -> None:
        """Bytes from the host arriving at `now_s`."""
        self._run_until(now_s)
        if self._stage is not _Stage.READY or not data:
            return
        self._last_activity_s = self._now_s
        self._flushing = False
        if self._is_one_plain_line(data):  # what a host sends nearly always: taken whole
            self._line += data
            self._end_line()
        else:
            for byte in data:
                self._take_byte(byte)
        self._run_until(now_s)

    def advance(self, now_s: float) -> bytes:
        """Run the firmware up to `now_s`; every byte it sent meanwhile (CR LF lines)."""
        self._run_until(now_s)
        sent = bytes(self._out)
        self._out.clear()
        return sent

    def next_event_s(self) -> float | None:
        """Clock time of the next thing that happens without input; None if nothing will."""
        if self._out:
            return self._now_s
        upcoming = self._next_event()
        return upcoming[0] if upcoming is not None else None

    def reboot(self, now_s: float) -> None:
        """Reset at `now_s`, mid-move or not: RAM state is lost, EEPROM and the world stay."""
        self._run_until(now_s)
        self._power_on(self._now_s)

    def press_estop(self, now_s: float) -> None:
        """The e-stop button, which the firmware sees exactly like an `E` on the serial line."""
        self.receive(b"E", now_s)

    # ---------------------------------------------------------------- fault injection

    def inject_stall(self, axis: Axis, at_mm: float) -> None:
        """The next move of `axis` that crosses `at_mm` stalls there (an obstacle)."""
        self._faults.stalls_mm[axis] = at_mm

    def inject_timeout(self, axis: Axis) -> None:
        """The next move of `axis` jams half-way and runs into MOVEMENT_TIMEOUT."""
        self._faults.timeouts.add(axis)

    def inject_garbage(self, data: bytes) -> None:
        """Line noise: `data` goes out as is, between two lines, at the next `advance`."""
        self._out += data

    def drop_next_reply(self, code: int) -> None:
        """The next line with R code `code` is lost on its way to the host."""
        self._faults.dropped_codes[code] += 1

    def set_input(self, pin: int, value: int) -> None:
        """What pin `pin` reads from now on (a sensor, a tool-verification contact)."""
        before = self._pin_level(pin)
        self._inputs[pin] = value
        self._guard_next = None
        if self._pin_level(pin) != before:
            self._level_since_s[pin] = self._now_s

    def set_travel_mm(self, axis: Axis, travel_mm: float) -> None:
        """The physical length of `axis`, which calibration (F14-F16) measures."""
        if not travel_mm > 0:
            raise SimulatorError(f"travel of axis {axis} must be positive mm, got {travel_mm}")
        self.travel_mm[axis] = travel_mm

    # --------------------------------------------------------------------- inspection

    @property
    def position_mm(self) -> tuple[float, float, float]:
        steps = self._current_steps()
        return (
            steps[0] / self._steps_per_mm(Axis.X),
            steps[1] / self._steps_per_mm(Axis.Y),
            steps[2] / self._steps_per_mm(Axis.Z),
        )

    @property
    def pins(self) -> dict[int, int]:
        """Values the firmware has written to output pins."""
        return dict(self._pins)

    @property
    def pin_modes(self) -> dict[int, int]:
        return dict(self._pin_modes)

    @property
    def servo_angles_deg(self) -> dict[int, int]:
        """Attached servos (pin -> angle); an e-stop detaches them all."""
        return dict(self._servo_angles_deg)

    @property
    def estopped(self) -> bool:
        return self._estopped

    @property
    def configured(self) -> bool:
        return self._param(Param.CONFIG_OK) == 1

    @property
    def params(self) -> dict[int, int]:
        return dict(self._params)

    @property
    def busy(self) -> bool:
        """True while a command runs (a move, homing, calibration, a pin pulse)."""
        return self._job is not None

    @property
    def eeprom(self) -> dict[int, int]:
        """What survives a reboot."""
        return dict(self._eeprom)

    # ------------------------------------------------------------------ power and time

    def _power_on(self, at_s: float) -> None:
        use_eeprom = self._eeprom.get(Param.USE_EEPROM) == 1
        stored = {key: value for key, value in self._eeprom.items() if key in VALID_PARAM_IDS}
        self._params = {**FIRMWARE_DEFAULTS, **(stored if use_eeprom else {})}
        self._guards: list[tuple[int, int, float]] | None = None
        self._guard_next = None
        self._steps = [0, 0, 0]
        self._pins: dict[int, int] = {}
        self._pin_modes: dict[int, int] = {}
        self._servo_angles_deg: dict[int, int] = {}
        self._level_since_s: dict[int, float] = {}
        self._estopped = False
        self._q = 0
        self._line = bytearray()
        self._flushing = False
        self._command: ReceivedCommand | None = None
        self._job: _Job | None = None
        self._motion: _Motion | None = None
        self._stage: _Stage = _Stage.OFF
        self._boot_at_s = at_s
        self._last_activity_s = at_s + STARTUP_S
        self._guards_loaded_s = at_s + STARTUP_S

    def _run_until(self, now_s: float) -> None:
        self._horizon_s = max(self._horizon_s, now_s)
        while (upcoming := self._next_event()) is not None and upcoming[0] <= now_s:
            time_s, action = upcoming
            self._now_s = max(self._now_s, time_s)
            action()
        self._now_s = max(self._now_s, now_s)

    def _next_event(self) -> tuple[float, Callable[[], None]] | None:
        """The next thing that will happen without input, and its clock time; on a tie a
        pin guard goes first."""
        if self._stage is _Stage.OFF:
            return self._boot_at_s, self._print_banner
        if self._stage is _Stage.STARTING:
            return self._boot_at_s + STARTUP_S, self._complete_startup
        upcoming = self._next_pin_guard()
        if self._job is None:
            mine: tuple[float | None, Callable[[], None]] = (
                self._last_activity_s + self._idle_report_s,
                self._report_idle,
            )
        else:
            mine = self._job.next_s(), self._job.run_next
        mine_s, action = mine
        if mine_s is not None and (upcoming is None or mine_s < upcoming[0]):
            return mine_s, action
        return upcoming

    def _print_banner(self) -> None:
        for text in BOOT_BANNER:
            self._emit(Debug(text=text))
        self._stage = _Stage.STARTING

    def _complete_startup(self) -> None:
        self._emit(Debug(text="ARDUINO STARTUP COMPLETE"))
        for param in VALID_PARAM_IDS:
            self._emit(ParamValue(param=param, value=self._params[param]))
        self._stage = _Stage.READY

    def _report_idle(self) -> None:
        self._emit(EmergencyLocked(q=0) if self._estopped else Idle(q=0))
        self._emit(self._position_report(q=0))
        if not self.configured:
            self._emit(NotConfigured(q=0))
        # After a clock jump (a simulated night), the reports that fell inside it merge into
        # this one and the next at the jump's end: a day's jump must not replay 170,000.
        self._last_activity_s = max(self._now_s, self._horizon_s - self._idle_report_s)

    # ----------------------------------------------------------------------- output

    def _emit(self, reply: Reply) -> None:
        self._emit_line(format_reply(reply))

    def _emit_line(self, line: bytes) -> None:
        dropped = self._faults.dropped_codes  # empty but in fault tests: no parsing then
        match = _REPLY_CODE.match(line) if dropped else None
        if match is not None and dropped[code := int(match.group(1))] > 0:
            dropped[code] -= 1
            if not dropped[code]:
                del dropped[code]
            return
        self._out += line

    def _position_report(self, q: int) -> Position:
        x_mm, y_mm, z_mm = self.position_mm
        return Position(x_mm=x_mm, y_mm=y_mm, z_mm=z_mm, q=q)

    # ------------------------------------------------------------------------ input

    def _take_byte(self, byte: int) -> None:
        if byte in _ESTOP_BYTES:
            self._emergency_stop()
            return
        if self._job is not None:
            if byte == _ABORT_BYTE and self._command_moves():
                self._abort_move()
            return
        if self._flushing:
            return
        self._line.append(byte)
        if byte == _LINE_FEED or len(self._line) >= MAX_LINE_CHARS:
            self._end_line()

    def _is_one_plain_line(self, data: bytes) -> bool:
        """Whether `data` is one line ending in LF, with no e-stop byte, that fits the
        line buffer, arriving while idle: byte by byte it would just be executed."""
        return (
            self._job is None
            and data.find(b"\n") == len(data) - 1
            and len(self._line) + len(data) < MAX_LINE_CHARS
            and not _ESTOP_BYTES.intersection(data)
        )

    def _end_line(self) -> None:
        line = bytes(self._line).removesuffix(b"\n")
        self._line.clear()
        if line:
            self._execute(line)

    def _execute(self, line: bytes) -> None:
        self._emit_line(b"R08 *" + line + b"*\r\n")
        command = parse_command(line)
        self._q = command.q
        refusal = self._refusal(command.code)
        if refusal is not None:
            self._emit(refusal(q=self._q))
            self._q = 0
            return
        self._command = command
        # The firmware flushes its receive buffer once a command has run (refusals return
        # before that), so whatever came in the same burst behind it is lost.
        self._flushing = True
        self._emit(Started(q=self._q))
        error = self._handlers[command.code](command)
        if error is not None:
            self._finish(error)

    def _refusal(self, code: str) -> type[Reply] | None:
        """The single reply that answers a command the firmware will not run, if any."""
        if self._estopped and code not in UNLOCKED_CODES:
            return EmergencyLocked
        if not self.configured and code in NEEDS_CONFIG_CODES:
            return NotConfigured
        if code not in self._handlers:
            return Invalid
        return None

    def _finish(self, error: int) -> None:
        if error and self._command_moves() and self._param(Param.E_STOP_ON_MOVE_ERROR) == 1:
            self._engage_emergency_stop()
        self._emit(Failed(error=int(error), q=self._q) if error else Done(q=self._q))
        self._q = 0
        self._command = None
        self._job = None
        self._last_activity_s = self._now_s

    def _command_moves(self) -> bool:
        return self._command is not None and self._command.code in MOTION_CODES

    def _emergency_stop(self) -> None:
        self._engage_emergency_stop()
        if self._job is not None:
            self._emit(EmergencyLocked(q=self._q))
            self._stop_job()
            self._finish(FirmwareErrorCode.EMERGENCY_STOP)

    def _engage_emergency_stop(self) -> None:
        self._estopped = True
        for pin in list(self._pins):
            self._write_pin(pin, 0, analog=False)
        self._servo_angles_deg.clear()

    def _abort_move(self) -> None:
        self._emit(Aborted(q=self._q))
        self._stop_job()
        self._finish(FirmwareErrorCode.ABORTED)

    def _stop_job(self) -> None:
        assert self._job is not None
        self._job.clear()
        if self._motion is not None:
            self._end_motion()

    def _start_job(self) -> _Job:
        self._job = _Job()
        return self._job

    # --------------------------------------------------------------------- handlers

    def _handler_table(self) -> dict[str, Callable[[ReceivedCommand], int | None]]:
        """Code -> handler; a handler returns its error code, or None while it runs on."""
        return {
            "G0": self._move,
            "G28": self._go_home_all,
            "F9": self._unlock,
            "F11": functools.partial(self._find_home, Axis.X),
            "F12": functools.partial(self._find_home, Axis.Y),
            "F13": functools.partial(self._find_home, Axis.Z),
            "F14": functools.partial(self._calibrate, Axis.X),
            "F15": functools.partial(self._calibrate, Axis.Y),
            "F16": functools.partial(self._calibrate, Axis.Z),
            "F20": self._list_params,
            "F21": self._read_param,
            "F22": self._write_param,
            "F41": self._write_pin_command,
            "F42": self._read_pin_command,
            "F43": self._set_pin_mode,
            "F44": self._pulse_pin,
            "F61": self._set_servo,
            "F81": self._report_end_stops,
            "F82": self._report_position,
            "F83": self._report_version,
            "F84": self._set_zero,
        }

    def _move(self, command: ReceivedCommand) -> None:
        targets_mm = (command.mm("X"), command.mm("Y"), command.mm("Z"))
        speed_limits = (command.whole("A"), command.whole("B"), command.whole("C"))
        self._start_move(targets_mm, speed_limits)

    def _go_home_all(self, command: ReceivedCommand) -> None:
        self._start_move((0.0, 0.0, 0.0), (0, 0, 0))

    def _unlock(self, command: ReceivedCommand) -> int:
        self._estopped = False
        return FirmwareErrorCode.NO_ERROR

    def _find_home(self, axis: Axis, command: ReceivedCommand) -> None:
        self._start_job()
        self._start_motion(self._homing_legs(axis, 0), functools.partial(self._homed, axis))

    def _homed(self, axis: Axis) -> None:
        self._emit(HomingComplete(axis=axis, q=self._q))
        self._end_motion()
        self._finish(FirmwareErrorCode.NO_ERROR)

    def _calibrate(self, axis: Axis, command: ReceivedCommand) -> None:
        far_end_mm = -self.travel_mm[axis] if self._homes_up(axis) else self.travel_mm[axis]
        far_end_steps = self._to_steps(axis, far_end_mm)
        self._start_job()
        self._emit(CalibrationStateReport(axis=axis, state=2, q=self._q))
        arrived = functools.partial(self._calibration_return, axis, abs(far_end_steps))
        self._start_motion(self._homing_legs(axis, far_end_steps), arrived)

    def _calibration_return(self, axis: Axis, length_steps: int) -> None:
        self._end_motion()
        self._emit(CalibrationStateReport(axis=axis, state=1, q=self._q))
        measured = functools.partial(self._calibrated, axis, length_steps)
        self._start_motion(self._homing_legs(axis, 0), measured)

    def _calibrated(self, axis: Axis, length_steps: int) -> None:
        self._end_motion()
        param = Param.AXIS_STEPS_X + AXES.index(axis)
        self._store_param(param, length_steps)
        self._emit(ParamCalibrated(param=param, value=length_steps, q=self._q))
        self._emit(CalibrationStateReport(axis=axis, state=0, q=self._q))
        self._finish(FirmwareErrorCode.NO_ERROR)

    def _list_params(self, command: ReceivedCommand) -> int:
        for param in VALID_PARAM_IDS:
            self._emit(ParamValue(param=param, value=self._params[param], q=self._q))
        self._emit(ParamsListed(q=self._q))
        return FirmwareErrorCode.NO_ERROR

    def _read_param(self, command: ReceivedCommand) -> int:
        param = command.whole("P")
        if param in VALID_PARAM_IDS:
            self._emit(ParamValue(param=param, value=self._params[param], q=self._q))
        else:
            self._emit(Debug(text="Error: invalid parameter id"))
        return FirmwareErrorCode.NO_ERROR

    def _write_param(self, command: ReceivedCommand) -> int:
        param, value = command.whole("P"), command.whole("V")
        if param in VALID_PARAM_IDS:
            self._store_param(param, value)
            self._emit(ParamValue(param=param, value=value, q=self._q))
        else:
            self._emit(Debug(text="Error: invalid parameter id"))
        return FirmwareErrorCode.NO_ERROR

    def _store_param(self, param: int, value: int) -> None:
        self._params[param] = value
        self._eeprom[param] = value
        if param >= Param.PIN_GUARD_1_PIN:
            self._guards_loaded_s = self._now_s
            self._guards = self._guard_next = None

    def _write_pin_command(self, command: ReceivedCommand) -> int:
        pin = command.whole("P")
        if pin not in PIN_IDS:
            return FirmwareErrorCode.INVALID_COMMAND
        self._write_pin(pin, command.whole("V"), analog=command.whole("M") == 1)
        return FirmwareErrorCode.NO_ERROR

    def _read_pin_command(self, command: ReceivedCommand) -> int:
        pin = command.whole("P")
        if pin not in PIN_IDS:
            return FirmwareErrorCode.INVALID_COMMAND
        self._emit(PinValue(pin=pin, value=self._read_pin(pin, command.whole("M") == 1), q=self._q))
        return FirmwareErrorCode.NO_ERROR

    def _set_pin_mode(self, command: ReceivedCommand) -> int:
        pin = command.whole("P")
        if pin not in PIN_IDS:
            return FirmwareErrorCode.INVALID_COMMAND
        self._pin_modes[pin] = command.whole("M")
        return FirmwareErrorCode.NO_ERROR

    def _pulse_pin(self, command: ReceivedCommand) -> int | None:
        pin, analog = command.whole("P"), command.whole("M") == 1
        if pin not in PIN_IDS:
            return FirmwareErrorCode.INVALID_COMMAND
        self._write_pin(pin, command.whole("V"), analog)
        end_s = self._now_s + max(command.whole("T"), 0) / 1000.0
        self._start_job().at(
            end_s, functools.partial(self._end_pulse, pin, command.whole("W"), analog)
        )
        return None

    def _end_pulse(self, pin: int, value: int, analog: bool) -> None:
        self._write_pin(pin, value, analog)
        self._finish(FirmwareErrorCode.NO_ERROR)

    def _set_servo(self, command: ReceivedCommand) -> int:
        pin, angle_deg = command.whole("P"), command.whole("V")
        if pin not in SERVO_PINS or angle_deg not in SERVO_ANGLES_DEG:
            return FirmwareErrorCode.INVALID_COMMAND
        self._servo_angles_deg[pin] = angle_deg
        return FirmwareErrorCode.NO_ERROR

    def _report_end_stops(self, command: ReceivedCommand) -> int:
        self._emit(EndStopPreamble())
        # Simulated switches: A at home, B at the far end of the physical travel.
        flags = []
        for axis, steps in zip(AXES, self._current_steps(), strict=True):
            flags += [steps == 0, abs(steps) >= self._to_steps(axis, self.travel_mm[axis])]
        self._emit(EndStops(*flags, q=self._q))
        for pin in END_STOP_REPORT_PINS:
            self._emit(PinValue(pin=pin, value=self._read_pin(pin, analog=False), q=self._q))
        return FirmwareErrorCode.NO_ERROR

    def _report_position(self, command: ReceivedCommand) -> int:
        self._emit(self._position_report(q=self._q))
        return FirmwareErrorCode.NO_ERROR

    def _report_version(self, command: ReceivedCommand) -> int:
        version = f"{self.version}.{self.board}-{BUILD_HASH}"
        self._emit(FirmwareVersion(version=version, q=self._q))
        return FirmwareErrorCode.NO_ERROR

    def _set_zero(self, command: ReceivedCommand) -> int:
        chosen = [axis for axis in AXES if command.mm(axis.upper()) == 1]
        for axis in chosen:
            self._steps[AXES.index(axis)] = 0
        names = "".join(f" {axis.upper()}" for axis in chosen)
        self._emit(Debug(text=f"Will zero{names}", q=self._q))
        return FirmwareErrorCode.NO_ERROR

    # ------------------------------------------------------------------------- pins

    def _write_pin(self, pin: int, value: int, analog: bool) -> None:
        level = min(max(value, 0), 255) if analog else int(value != 0)
        if self._pins.get(pin, 0) != level:
            self._level_since_s[pin] = self._now_s
        self._pins[pin] = level
        self._guard_next = None

    def _pin_level(self, pin: int) -> int:
        return self._inputs.get(pin, self._pins.get(pin, 0))

    def _read_pin(self, pin: int, analog: bool) -> int:
        level = self._pin_level(pin)
        return level if analog else int(level != 0)

    def _next_pin_guard(self) -> tuple[float, Callable[[], None]] | None:
        """When the first guarded pin left active is forced back to its inactive state;
        worked out again only after a pin, an input or a guard setting changes, as it is
        asked before every event."""
        if self._guard_next is None:
            self._guard_next = _GuardDeadline(self._first_pin_guard())
        return self._guard_next.upcoming

    def _first_pin_guard(self) -> tuple[float, Callable[[], None]] | None:
        first: tuple[float, int, int] | None = None
        for pin, active, timeout_s in self._guard_settings():
            if self._read_pin(pin, analog=False) != active:
                continue
            since_s = max(self._level_since_s.get(pin, self._boot_at_s), self._guards_loaded_s)
            if first is None or since_s + timeout_s < first[0]:
                first = since_s + timeout_s, pin, 1 - active
        if first is None:
            return None
        deadline_s, pin, inactive = first
        return deadline_s, functools.partial(self._release_guarded_pin, pin, inactive)

    def _guard_settings(self) -> list[tuple[int, int, float]]:
        """(pin, active level, timeout) of each guard in use, read from the parameters once
        per change of them: the deadlines are asked after every byte the host sends."""
        if self._guards is None:
            self._guards = [
                (
                    self._param(pin_param),
                    int(self._param(active_param) == 1),
                    max(float(self._param(timeout_param)), PIN_GUARD_TICK_S),
                )
                for pin_param, timeout_param, active_param in _PIN_GUARD_PARAMS
                if self._param(pin_param) in PIN_IDS
            ]
        return self._guards

    def _release_guarded_pin(self, pin: int, inactive: int) -> None:
        self._write_pin(pin, inactive, analog=False)
        # An input holding the pin active must not make the guard fire again at once.
        self._level_since_s[pin] = self._now_s
        self._guard_next = None
        self._emit(PinValue(pin=pin, value=self._read_pin(pin, analog=False), q=self._q))

    # ----------------------------------------------------------------------- motion

    def _start_move(
        self, targets_mm: tuple[float, float, float], speed_limits: tuple[int, int, int]
    ) -> None:
        legs = []
        for axis, target_mm, speed_limit in zip(AXES, targets_mm, speed_limits, strict=True):
            used_mm = self._clamp_to_limits_mm(axis, target_mm)
            if used_mm != target_mm:
                self._emit(DestinationClamped(axis=axis, value_mm=used_mm, q=self._q))
            legs.append(self._ramped_leg(axis, self._to_steps(axis, used_mm), speed_limit))
        self._start_job()
        self._start_motion(tuple(legs), self._arrived)

    def _arrived(self) -> None:
        self._end_motion()
        self._finish(FirmwareErrorCode.NO_ERROR)

    def _clamp_to_limits_mm(self, axis: Axis, target_mm: float) -> float:
        """The firmware's own software limits: stop at home (0) and at the axis length."""
        index = AXES.index(axis)
        low_mm, high_mm = -math.inf, math.inf
        length_steps = self._param(Param.AXIS_STEPS_X + index)
        length_mm = length_steps / self._steps_per_mm(axis)
        up = self._homes_up(axis)
        if self._param(Param.STOP_AT_HOME_X + index) == 1:
            low_mm, high_mm = (low_mm, 0.0) if up else (0.0, high_mm)
        if self._param(Param.STOP_AT_MAX_X + index) == 1 and length_steps > 0:
            low_mm, high_mm = (-length_mm, high_mm) if up else (low_mm, length_mm)
        return min(max(target_mm, low_mm), high_mm)

    def _ramped_leg(self, axis: Axis, target_steps: int, speed_limit_steps_s: int) -> _AxisLeg:
        start_steps = self._steps[AXES.index(axis)]
        toward_home = (target_steps > start_steps) == self._homes_up(axis)
        min_speed, max_speed, ramp_steps = self._speed_settings(axis, toward_home)
        if 0 < speed_limit_steps_s < max_speed:
            max_speed = speed_limit_steps_s
        return self._leg(axis, target_steps, min_speed, max_speed, ramp_steps)

    def _homing_legs(self, axis: Axis, target_steps: int) -> tuple[_AxisLeg, ...]:
        """`axis` crawls to `target_steps` at its homing speed; the others stay put."""
        home_speed = max(self._param(Param.HOME_SPEED_X + AXES.index(axis)), 1)
        return tuple(
            self._leg(axis, target_steps, home_speed, home_speed, 0)
            if moving is axis
            else self._leg(moving, self._steps[AXES.index(moving)], 1, 1, 0)
            for moving in AXES
        )

    def _leg(
        self, axis: Axis, target_steps: int, min_speed: int, max_speed: int, ramp_steps: int
    ) -> _AxisLeg:
        start_steps = self._steps[AXES.index(axis)]
        distance_steps = abs(target_steps - start_steps)
        direction = 1 if target_steps >= start_steps else -1
        profile = StepProfile.of(distance_steps, min_speed, max_speed, ramp_steps)
        stall_steps = self._take_stall(axis, start_steps, target_steps)
        if stall_steps is not None:
            return _AxisLeg(axis, start_steps, direction, profile, stall_steps, stalls=True)
        if distance_steps and axis in self._faults.timeouts:
            self._faults.timeouts.discard(axis)
            return _AxisLeg(axis, start_steps, direction, profile, distance_steps // 2)
        return _AxisLeg(axis, start_steps, direction, profile, distance_steps)

    def _take_stall(self, axis: Axis, start_steps: int, target_steps: int) -> int | None:
        """Steps until the armed obstacle of `axis`, if this move runs into it (disarming it)."""
        if axis not in self._faults.stalls_mm:
            return None
        obstacle_steps = self._to_steps(axis, self._faults.stalls_mm[axis])
        low, high = sorted((start_steps, target_steps))
        if target_steps > start_steps:
            ahead = low < obstacle_steps <= high
        else:
            ahead = low <= obstacle_steps < high
        if not ahead:
            return None
        del self._faults.stalls_mm[axis]
        return abs(obstacle_steps - start_steps)

    def _start_motion(self, legs: tuple[_AxisLeg, ...], arrived: Callable[[], None]) -> None:
        assert self._job is not None
        start_s = self._now_s
        self._motion = _Motion(start_s=start_s, legs=legs)
        for axis in AXES:
            self._emit(AxisStateReport(axis=axis, state=int(AxisState.STARTING), q=self._q))
        outcome_s, outcome = self._outcome(legs, arrived)
        for leg in legs:
            for elapsed_s, state in leg.profile.state_changes():
                if elapsed_s < min(outcome_s, leg.stuck_s):
                    report = AxisStateReport(axis=leg.axis, state=int(state), q=self._q)
                    if elapsed_s == 0.0:  # as the motors start: no need to schedule it
                        self._emit(report)
                    else:
                        self._job.at(start_s + elapsed_s, functools.partial(self._emit, report))
        self._job.at(start_s + self._report_interval_s, self._report_progress)
        self._job.at(start_s + outcome_s, outcome)

    def _outcome(
        self, legs: tuple[_AxisLeg, ...], arrived: Callable[[], None]
    ) -> tuple[float, Callable[[], None]]:
        """How the move ends (arrival, a stall, a timeout) and when, after its start."""
        endings: list[tuple[float, Callable[[], None]]] = [
            (leg.stuck_s, functools.partial(self._stalled, leg.axis)) for leg in legs if leg.stalls
        ]
        overdue = sorted(
            (self._timeout_s(leg.axis), AXES.index(leg.axis))
            for leg in legs
            if leg.end_s > self._timeout_s(leg.axis)
        )
        if overdue:
            first_s = overdue[0][0]
            timed_out = tuple(AXES[index] for timeout_s, index in overdue if timeout_s == first_s)
            endings.append((first_s, functools.partial(self._timed_out, timed_out)))
        endings.append((max(leg.end_s for leg in legs), arrived))
        return min(endings, key=lambda ending: ending[0])

    def _report_progress(self) -> None:
        assert self._job is not None
        self._emit(Running(q=self._q))
        self._emit(self._position_report(q=self._q))
        self._job.at(self._now_s + self._report_interval_s, self._report_progress)

    def _stalled(self, axis: Axis) -> None:
        assert self._job is not None
        self._emit(Debug(text=f"deactivate motor {axis.upper()} due to missed steps"))
        self._end_motion()
        # Param 5 counts attempts, the first included (GCodeProcessor's retry loop), and
        # each retry meets the same obstacle at once: it gives up after a few missed steps.
        attempts = max(self._param(Param.MOVE_RETRIES), 1)
        retry_s = self._retry_s(axis)
        for retry in range(attempts - 1):
            retrying = functools.partial(self._emit, Retrying(q=self._q))
            self._job.at(self._now_s + retry * retry_s, retrying)
        give_up = functools.partial(self._finish, _STALL_ERRORS[axis])
        self._job.at(self._now_s + (attempts - 1) * retry_s, give_up)

    def _retry_s(self, axis: Axis) -> float:
        """How long a retry into an obstacle lasts: the missed-step allowance at crawl speed."""
        index = AXES.index(axis)
        missed_steps = max(self._param(MISSED_STEPS_MAX_X + index), 1)
        return missed_steps / max(self._param(Param.MIN_SPEED_X + index), 1)

    def _timed_out(self, axes: tuple[Axis, ...]) -> None:
        for axis in axes:
            self._emit(AxisTimedOut(axis=axis))
            self._emit(Debug(text=f"timeout {axis.upper()} axis"))
        self._end_motion()
        self._finish(FirmwareErrorCode.TIMEOUT)

    def _end_motion(self) -> None:
        """Motors stop where they are; the final position and idle states are reported."""
        assert self._job is not None and self._motion is not None
        self._steps = self._motion.steps_at(self._now_s)
        self._motion = None
        self._job.clear()
        self._emit(self._position_report(q=self._q))
        for axis in AXES:
            self._emit(AxisStateReport(axis=axis, state=int(AxisState.IDLE), q=self._q))

    def _current_steps(self) -> list[int]:
        if self._motion is None:
            return list(self._steps)
        return self._motion.steps_at(self._now_s)

    # ------------------------------------------------------------------- parameters

    def _param(self, param: int) -> int:
        return self._params.get(param, 0)

    def _homes_up(self, axis: Axis) -> bool:
        return self._param(Param.HOME_UP_X + AXES.index(axis)) == 1

    def _steps_per_mm(self, axis: Axis) -> int:
        # A zero written by a confused host must not divide by zero.
        return max(self._param(Param.STEPS_PER_MM_X + AXES.index(axis)), 1)

    def _to_steps(self, axis: Axis, position_mm: float) -> int:
        steps = round(position_mm * self._steps_per_mm(axis))
        return min(max(steps, -LONGEST_POSITION_STEPS), LONGEST_POSITION_STEPS)

    def _timeout_s(self, axis: Axis) -> float:
        return float(self._param(Param.TIMEOUT_X + AXES.index(axis)))

    def _speed_settings(self, axis: Axis, toward_home: bool) -> tuple[int, int, int]:
        """(min speed, max speed, ramp steps); Z has its own set for moving toward home."""
        if axis is Axis.Z and toward_home:
            params: tuple[int, int] = (Param.MIN_SPEED_Z_TOWARD_HOME, Param.MAX_SPEED_Z_TOWARD_HOME)
            ramp_param: int = Param.RAMP_STEPS_Z_TOWARD_HOME
        else:
            index = AXES.index(axis)
            params = (Param.MIN_SPEED_X + index, Param.MAX_SPEED_X + index)
            ramp_param = Param.RAMP_STEPS_X + index
        min_speed, max_speed = (max(self._param(param), 1) for param in params)
        return min_speed, max_speed, max(self._param(ramp_param), 0)
