"""The Farmduino firmware protocol: commands to bytes and reply lines to typed messages.

Pure functions and plain data, no I/O, so the same codec serves the serial link, the
in-process loopback link and the simulated firmware. Facts from reference `farmbot.md`
section 1: G/F-codes out, R-codes back, a `Q` tag echoed on every reply of a command,
out-of-band `E` (e-stop) and `@` (abort) bytes.

The decoder never lets a bad line escape as anything but `ProtocolError`: a reader thread
that meets firmware garbage logs it and carries on.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar

from potager.errors import PotagerError
from potager.robots import Axis


class ControllerError(PotagerError):
    """Base of every error raised by the controller package."""


class ProtocolError(ControllerError):
    """A line that is not valid firmware protocol; `raw_line` keeps what was received."""

    def __init__(self, message: str, raw_line: bytes | str = b"") -> None:
        super().__init__(message)
        self.raw_line = raw_line


LINE_END = b"\r\n"
EMERGENCY_STOP = b"E"
"""Sent alone, at any time: the firmware locks, disables motors and resets written pins."""
ABORT_MOVE = b"@" + LINE_END
"""During a move `@` stops it (R86, then R03 V5) and the rest is flushed. The line end
matters when the move has already ended: an idle firmware would take `@` as the first
letter of the next command and refuse that command; ended, it is an invalid line (R09)."""
MAX_Q = 999


class PinMode(IntEnum):
    DIGITAL = 0
    ANALOG = 1


class PinIoMode(IntEnum):
    INPUT = 0
    OUTPUT = 1
    INPUT_PULLUP = 2


class FirmwareErrorCode(IntEnum):
    """The `V` of an `R03` reply (reference 1.6)."""

    NO_ERROR = 0
    EMERGENCY_STOP = 1
    TIMEOUT = 2
    STALL = 3
    CALIBRATION = 4
    ABORTED = 5
    INVALID_COMMAND = 14
    PARAMS_NOT_OK = 15
    STALL_X = 31
    STALL_Y = 32
    STALL_Z = 33


# --------------------------------------------------------------------------- commands


def _mm(value: float) -> str:
    if not math.isfinite(value):
        raise ProtocolError(f"coordinate must be a finite number of millimetres, got {value}")
    return f"{value:.2f}"


def _integer(value: int | float) -> str:
    if not math.isfinite(value):
        raise ProtocolError(f"parameter must be a finite number, got {value}")
    return str(int(value))


@dataclass(frozen=True)
class Command:
    """A host -> firmware command; subclasses name their code and arguments."""

    code: ClassVar[str]
    moves: ClassVar[bool] = False
    """True for commands that move motors (refused until configured, abortable)."""

    def arguments(self) -> list[str]:
        return []


@dataclass(frozen=True)
class Move(Command):
    """G00: move to absolute X, Y, Z (all three always sent) with optional axis speeds."""

    code: ClassVar[str] = "G00"
    moves: ClassVar[bool] = True
    x_mm: float
    y_mm: float
    z_mm: float
    speed_x_steps_s: float | None = None
    speed_y_steps_s: float | None = None
    speed_z_steps_s: float | None = None

    def arguments(self) -> list[str]:
        parts = [f"X{_mm(self.x_mm)}", f"Y{_mm(self.y_mm)}", f"Z{_mm(self.z_mm)}"]
        for letter, speed in zip(
            "ABC", (self.speed_x_steps_s, self.speed_y_steps_s, self.speed_z_steps_s), strict=True
        ):
            if speed is not None:
                parts.append(f"{letter}{_mm(speed)}")
        return parts


@dataclass(frozen=True)
class GoHomeAll(Command):
    """G28: plain moves to 0 in the order Z, Y, X (no end-stop search)."""

    code: ClassVar[str] = "G28"
    moves: ClassVar[bool] = True


@dataclass(frozen=True)
class Unlock(Command):
    """F09: release the emergency lock."""

    code: ClassVar[str] = "F09"


_FIND_HOME_CODES = {Axis.X: "F11", Axis.Y: "F12", Axis.Z: "F13"}
_CALIBRATE_CODES = {Axis.X: "F14", Axis.Y: "F15", Axis.Z: "F16"}


@dataclass(frozen=True)
class FindHome(Command):
    """F11/F12/F13: search the home end of one axis and set it to 0."""

    moves: ClassVar[bool] = True
    axis: Axis

    @property
    def code(self) -> str:  # type: ignore[override]
        return _FIND_HOME_CODES[self.axis]


@dataclass(frozen=True)
class CalibrateAxis(Command):
    """F14/F15/F16: measure an axis's length (reported as R23 P141..143)."""

    moves: ClassVar[bool] = True
    axis: Axis

    @property
    def code(self) -> str:  # type: ignore[override]
        return _CALIBRATE_CODES[self.axis]


@dataclass(frozen=True)
class ListParams(Command):
    code: ClassVar[str] = "F20"


@dataclass(frozen=True)
class ReadParam(Command):
    code: ClassVar[str] = "F21"
    param: int

    def arguments(self) -> list[str]:
        return [f"P{_integer(self.param)}"]


@dataclass(frozen=True)
class WriteParam(Command):
    code: ClassVar[str] = "F22"
    param: int
    value: int

    def arguments(self) -> list[str]:
        return [f"P{_integer(self.param)}", f"V{_integer(self.value)}"]


@dataclass(frozen=True)
class WritePin(Command):
    code: ClassVar[str] = "F41"
    pin: int
    value: int
    mode: PinMode = PinMode.DIGITAL

    def arguments(self) -> list[str]:
        return [f"P{_integer(self.pin)}", f"V{_integer(self.value)}", f"M{int(self.mode)}"]


@dataclass(frozen=True)
class ReadPin(Command):
    code: ClassVar[str] = "F42"
    pin: int
    mode: PinMode = PinMode.DIGITAL

    def arguments(self) -> list[str]:
        return [f"P{_integer(self.pin)}", f"M{int(self.mode)}"]


@dataclass(frozen=True)
class SetPinIoMode(Command):
    code: ClassVar[str] = "F43"
    pin: int
    io_mode: PinIoMode

    def arguments(self) -> list[str]:
        return [f"P{_integer(self.pin)}", f"M{int(self.io_mode)}"]


@dataclass(frozen=True)
class PulsePin(Command):
    """F44: write `value`, wait `duration_ms`, write `value_after`."""

    code: ClassVar[str] = "F44"
    pin: int
    value: int
    value_after: int
    duration_ms: int
    mode: PinMode = PinMode.DIGITAL

    def arguments(self) -> list[str]:
        return [
            f"P{_integer(self.pin)}",
            f"V{_integer(self.value)}",
            f"W{_integer(self.value_after)}",
            f"T{_integer(self.duration_ms)}",
            f"M{int(self.mode)}",
        ]


@dataclass(frozen=True)
class SetServoAngle(Command):
    code: ClassVar[str] = "F61"
    pin: int
    angle_deg: int

    def arguments(self) -> list[str]:
        return [f"P{_integer(self.pin)}", f"V{_integer(self.angle_deg)}"]


@dataclass(frozen=True)
class ReadEndStops(Command):
    code: ClassVar[str] = "F81"


@dataclass(frozen=True)
class ReadPosition(Command):
    code: ClassVar[str] = "F82"


@dataclass(frozen=True)
class ReadVersion(Command):
    code: ClassVar[str] = "F83"


@dataclass(frozen=True)
class SetZero(Command):
    """F84: declare the current position of the chosen axes to be 0 ("set home")."""

    code: ClassVar[str] = "F84"
    x: bool = False
    y: bool = False
    z: bool = False

    def arguments(self) -> list[str]:
        return [f"X{int(self.x)}", f"Y{int(self.y)}", f"Z{int(self.z)}"]


def encode_command(command: Command, q: int | None = None) -> bytes:
    """The bytes to send for `command`, tagged with `q` (1..999), ending in CR LF.

    The letter E is refused anywhere in the line: the firmware would take it as an
    emergency stop (reference 1.1).
    """
    parts = [command.code, *command.arguments()]
    if q is not None:
        if not 0 <= q <= MAX_Q:
            raise ProtocolError(f"Q tag must be within 0..{MAX_Q}, got {q}")
        parts.append(f"Q{q}")
    text = " ".join(parts)
    if "E" in text.upper():
        raise ProtocolError(f"refusing to send {text!r}: the letter E would e-stop the firmware")
    return text.encode("ascii") + LINE_END


# ---------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Reply:
    """A firmware -> host line; `q` is the tag it carried, None when it had none."""

    code: ClassVar[int]
    terminal: ClassVar[bool] = False
    """True when this reply ends the command whose tag it carries."""
    q: int | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class Idle(Reply):
    code: ClassVar[int] = 0


@dataclass(frozen=True)
class Started(Reply):
    code: ClassVar[int] = 1


@dataclass(frozen=True)
class Done(Reply):
    code: ClassVar[int] = 2
    terminal: ClassVar[bool] = True


@dataclass(frozen=True)
class Failed(Reply):
    code: ClassVar[int] = 3
    terminal: ClassVar[bool] = True
    error: int = 0


@dataclass(frozen=True)
class Running(Reply):
    code: ClassVar[int] = 4


@dataclass(frozen=True)
class AxisStateReport(Reply):
    """R05 axis state: 0 idle, 1 starting, 2 accelerating, 3 cruising, 4 decelerating,
    5 stopping, 6 crawling."""

    code: ClassVar[int] = 5
    axis: Axis = Axis.X
    state: int = 0


@dataclass(frozen=True)
class CalibrationStateReport(Reply):
    code: ClassVar[int] = 6
    axis: Axis = Axis.X
    state: int = 0


@dataclass(frozen=True)
class Retrying(Reply):
    code: ClassVar[int] = 7


@dataclass(frozen=True)
class Echo(Reply):
    """R08: the command line as the firmware received it (CR included on real boards)."""

    code: ClassVar[int] = 8
    text: str = ""


@dataclass(frozen=True)
class Invalid(Reply):
    code: ClassVar[int] = 9
    terminal: ClassVar[bool] = True


@dataclass(frozen=True)
class HomingComplete(Reply):
    code: ClassVar[int] = 11
    axis: Axis = Axis.X


@dataclass(frozen=True)
class DestinationClamped(Reply):
    """R15/R16/R17: the firmware used another destination than the one asked for."""

    code: ClassVar[int] = 15
    axis: Axis = Axis.X
    value_mm: float = 0.0


@dataclass(frozen=True)
class ParamsListed(Reply):
    code: ClassVar[int] = 20


@dataclass(frozen=True)
class ParamValue(Reply):
    code: ClassVar[int] = 21
    param: int = 0
    value: int = 0


@dataclass(frozen=True)
class ParamCalibrated(Reply):
    """R23: a parameter the firmware changed itself during calibration."""

    code: ClassVar[int] = 23
    param: int = 0
    value: int = 0


@dataclass(frozen=True)
class StatusValue(Reply):
    code: ClassVar[int] = 31
    status: int = 0
    value: int = 0


@dataclass(frozen=True)
class PinValue(Reply):
    code: ClassVar[int] = 41
    pin: int = 0
    value: int = 0


@dataclass(frozen=True)
class PinMonitorValue(Reply):
    code: ClassVar[int] = 61
    pin: int = 0
    value: int = 0


@dataclass(frozen=True)
class AxisTimedOut(Reply):
    code: ClassVar[int] = 71
    axis: Axis = Axis.X


@dataclass(frozen=True)
class EndStops(Reply):
    """R81: each axis's min (A) and max (B) end-stop, True when triggered."""

    code: ClassVar[int] = 81
    x_min: bool = False
    x_max: bool = False
    y_min: bool = False
    y_max: bool = False
    z_min: bool = False
    z_max: bool = False


@dataclass(frozen=True)
class Position(Reply):
    code: ClassVar[int] = 82
    x_mm: float = 0.0
    y_mm: float = 0.0
    z_mm: float = 0.0


@dataclass(frozen=True)
class FirmwareVersion(Reply):
    code: ClassVar[int] = 83
    version: str = ""


@dataclass(frozen=True)
class EncoderPositionScaled(Reply):
    code: ClassVar[int] = 84
    x_mm: float = 0.0
    y_mm: float = 0.0
    z_mm: float = 0.0


@dataclass(frozen=True)
class EncoderPositionRaw(Reply):
    code: ClassVar[int] = 85
    x_counts: float = 0.0
    y_counts: float = 0.0
    z_counts: float = 0.0


@dataclass(frozen=True)
class Aborted(Reply):
    code: ClassVar[int] = 86


@dataclass(frozen=True)
class EmergencyLocked(Reply):
    code: ClassVar[int] = 87
    terminal: ClassVar[bool] = True


@dataclass(frozen=True)
class NotConfigured(Reply):
    code: ClassVar[int] = 88
    terminal: ClassVar[bool] = True


@dataclass(frozen=True)
class MotorLoad(Reply):
    """R89 (Express): steps moved and the highest recent missed steps per axis."""

    code: ClassVar[int] = 89
    steps_x: int = 0
    missed_x: int = 0
    steps_y: int = 0
    missed_y: int = 0
    steps_z: int = 0
    missed_z: int = 0


@dataclass(frozen=True)
class Debug(Reply):
    """R99: free text (boot banner, warnings); may carry a Q, often does not."""

    code: ClassVar[int] = 99
    text: str = ""


@dataclass(frozen=True)
class EndStopPreamble(Reply):
    """The bare `home` line F81 prints before its R81 (a firmware quirk, no R code)."""

    code: ClassVar[int] = -1


_AXES = (Axis.X, Axis.Y, Axis.Z)
_AXIS_CODES: dict[int, tuple[type[HomingComplete | DestinationClamped | AxisTimedOut], Axis]] = {
    family.code + offset: (family, axis)
    for family in (HomingComplete, DestinationClamped, AxisTimedOut)
    for offset, axis in enumerate(_AXES)
}


def format_reply(reply: Reply) -> bytes:
    """The line a firmware would print for `reply` (used by the simulator)."""
    kind: Callable[..., Reply] = type(reply)
    head = _formatted_head(kind, tuple(item for item in vars(reply).items() if item[0] != "q"))
    return head if reply.q is None else b"%s Q%d%s" % (head[:-2], reply.q, LINE_END)


@functools.lru_cache(maxsize=4096)
def _formatted_head(kind: Callable[..., Reply], fields: tuple[tuple[str, Any], ...]) -> bytes:
    """The line of a reply without its tag, remembered by the reply's kind and other
    fields (the tag changes with every command; axis states and positions repeat)."""
    return _reply_body(kind(**dict(fields))).encode("ascii") + LINE_END


def _reply_body(reply: Reply) -> str:
    if isinstance(reply, EndStopPreamble):
        return "home"
    code = reply.code
    if isinstance(reply, HomingComplete | DestinationClamped | AxisTimedOut):
        code += _AXES.index(reply.axis)
    head = f"R{code:02d}"
    match reply:
        case Echo(text=text):
            return f"{head} *{text}*"
        case Debug(text=text) | FirmwareVersion(version=text):
            return f"{head} {text}"
        case Failed(error=error):
            return f"{head} V{error}"
        case (
            AxisStateReport(axis=axis, state=state) | CalibrationStateReport(axis=axis, state=state)
        ):
            return f"{head} {axis.upper()}{state}"
        case DestinationClamped(axis=axis, value_mm=value):
            return f"{head} {axis.upper()}{value:.2f}"
        case ParamValue(param=p, value=v) | ParamCalibrated(param=p, value=v):
            return f"{head} P{p} V{v}"
        case (
            StatusValue(status=p, value=v)
            | PinValue(pin=p, value=v)
            | PinMonitorValue(pin=p, value=v)
        ):
            return f"{head} P{p} V{v}"
        case EndStops():
            flags = (reply.x_min, reply.x_max, reply.y_min, reply.y_max, reply.z_min, reply.z_max)
            names = ("XA", "XB", "YA", "YB", "ZA", "ZB")
            return head + "".join(f" {n}{int(f)}" for n, f in zip(names, flags, strict=True))
        case Position(x_mm=x, y_mm=y, z_mm=z) | EncoderPositionScaled(x_mm=x, y_mm=y, z_mm=z):
            return f"{head} X{x:.2f} Y{y:.2f} Z{z:.2f}"
        case EncoderPositionRaw(x_counts=x, y_counts=y, z_counts=z):
            return f"{head} X{x:.0f} Y{y:.0f} Z{z:.0f}"
        case MotorLoad():
            return (
                f"{head} U{reply.steps_x} X{reply.missed_x} V{reply.steps_y} "
                f"Y{reply.missed_y} W{reply.steps_z} Z{reply.missed_z}"
            )
    return head


_CODE_RE = re.compile(r"R(\d\d)(?: |$)")
_TOKEN_RE = re.compile(r"([A-Z]{1,2})(-?\d+(?:\.\d+)?)$")
_TRAILING_Q_RE = re.compile(r"\s*Q(\d+)\s*$")

_TAG_ONLY: dict[int, type[Reply]] = {
    cls.code: cls
    for cls in (
        Idle,
        Started,
        Done,
        Running,
        Retrying,
        Invalid,
        ParamsListed,
        Aborted,
        EmergencyLocked,
        NotConfigured,
    )
}
_TAG_ONLY_RE = re.compile("R(" + "|".join(f"{code:02d}" for code in _TAG_ONLY) + r") Q(\d+)")


def decode_line(raw: bytes | str) -> Reply:
    """Turn one received line (terminator optional) into a typed reply.

    Raises `ProtocolError` carrying the raw line for anything that is not a reply the
    firmware can send; tolerates the known quirks (bare `home`, `R99` with or without a
    trailing Q, a CR inside the `R08` echo).
    """
    try:
        line = raw.decode("ascii") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise ProtocolError(f"non-ASCII bytes from the firmware: {raw!r}", raw) from None
    line = line.rstrip("\r\n")
    tagged = _TAGGED_RE.fullmatch(line)
    if tagged is not None:
        try:
            tagged_reply = _reply_maker(tagged.group(1))
        except ProtocolError:
            pass  # decoded again below, for an error message that shows the line as it came
        else:
            return tagged_reply(q=int(tagged.group(2)))
    try:
        return _decode_strictly(line)
    except ProtocolError as error:
        raise ProtocolError(str(error), raw) from None


_TAGGED_RE = re.compile(r"(R(?!08)\d\d.*) Q(\d+)")
"""A reply ending in its Q tag (all but the R08 echo, whose Q is the command's own)."""


@functools.lru_cache(maxsize=4096)
def _reply_maker(head: str) -> Callable[..., Reply]:
    """What `head` + " Q<n>" decodes to, given n: remembered, as a line's tag changes with
    every command but its head repeats move after move (axis states, positions, pins)."""
    template = _decode_strictly(f"{head} Q0")
    values = {name: value for name, value in vars(template).items() if name != "q"}
    return functools.partial(type(template), **values)


def _decode_strictly(line: str) -> Reply:
    """`_decode_text`, with every malformed line raised as a `ProtocolError`."""
    try:
        return _decode_text(line)
    except ProtocolError:
        raise
    except KeyError as missing:
        raise ProtocolError(f"firmware line {line!r} lacks argument {missing}") from None
    except (ValueError, IndexError):
        raise ProtocolError(f"malformed firmware line {line!r}") from None


def _decode_text(line: str) -> Reply:
    tag_only = _TAG_ONLY_RE.fullmatch(line)
    if tag_only is not None:  # most lines are R01/R02/R00 ...: skip the general tokenizer
        return _TAG_ONLY[int(tag_only.group(1))](q=int(tag_only.group(2)))
    if line.strip() == "home":
        return EndStopPreamble()
    match = _CODE_RE.match(line)
    if match is None:
        raise ProtocolError(f"not a firmware reply (expected R followed by two digits): {line!r}")
    code = int(match.group(1))
    rest = line[match.end() :]
    if code == Echo.code:
        return Echo(text=rest.strip()[1:-1] if rest.strip().startswith("*") else rest)
    rest, q = _split_tag(rest)
    if code == Debug.code:
        return Debug(text=rest.strip(), q=q)
    if code == FirmwareVersion.code:
        return FirmwareVersion(version=rest.strip(), q=q)
    if code in _TAG_ONLY:
        if rest.strip():
            raise ProtocolError(f"R{code:02d} takes no arguments, got {rest.strip()!r}")
        return _TAG_ONLY[code](q=q)
    return _decode_arguments(code, _tokens(rest), q)


def _split_tag(rest: str) -> tuple[str, int | None]:
    match = _TRAILING_Q_RE.search(rest)
    if match is None:
        return rest, None
    return rest[: match.start()], int(match.group(1))


def _tokens(rest: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for token in rest.split():
        match = _TOKEN_RE.match(token)
        if match is None:
            raise ProtocolError(f"malformed argument {token!r}")
        values[match.group(1)] = float(match.group(2))
    return values


def _whole(values: dict[str, float], letter: str) -> int:
    value = values[letter]
    if not value.is_integer():
        raise ProtocolError(f"argument {letter} must be a whole number, got {value}")
    return int(value)


def _decode_arguments(code: int, values: dict[str, float], q: int | None) -> Reply:
    if code in _AXIS_CODES:
        family, axis = _AXIS_CODES[code]
        if family is DestinationClamped:
            return DestinationClamped(axis=axis, value_mm=values[axis.upper()], q=q)
        return family(axis=axis, q=q)
    if code == Failed.code:
        return Failed(error=_whole(values, "V"), q=q)
    if code in (AxisStateReport.code, CalibrationStateReport.code):
        ((letter, state),) = values.items()
        axis = Axis(letter.lower())
        cls = AxisStateReport if code == AxisStateReport.code else CalibrationStateReport
        return cls(axis=axis, state=int(state), q=q)
    if code in (ParamValue.code, ParamCalibrated.code):
        cls_p = ParamValue if code == ParamValue.code else ParamCalibrated
        return cls_p(param=_whole(values, "P"), value=_whole(values, "V"), q=q)
    if code in (StatusValue.code, PinValue.code, PinMonitorValue.code):
        pin, value = _whole(values, "P"), _whole(values, "V")
        if code == StatusValue.code:
            return StatusValue(status=pin, value=value, q=q)
        cls_v = PinValue if code == PinValue.code else PinMonitorValue
        return cls_v(pin=pin, value=value, q=q)
    if code == EndStops.code:
        flags = [bool(_whole(values, name)) for name in ("XA", "XB", "YA", "YB", "ZA", "ZB")]
        return EndStops(*flags, q=q)
    if code in (Position.code, EncoderPositionScaled.code):
        cls_xyz = Position if code == Position.code else EncoderPositionScaled
        return cls_xyz(x_mm=values["X"], y_mm=values["Y"], z_mm=values["Z"], q=q)
    if code == EncoderPositionRaw.code:
        return EncoderPositionRaw(
            x_counts=values["X"], y_counts=values["Y"], z_counts=values["Z"], q=q
        )
    if code == MotorLoad.code:
        letters = ("U", "X", "V", "Y", "W", "Z")
        return MotorLoad(*(_whole(values, letter) for letter in letters), q=q)
    raise ProtocolError(f"unknown firmware reply code R{code:02d}")


class LineFramer:
    """Splits a byte stream into lines on LF, as FarmBot OS does.

    Only LF ends a line: real firmware echoes the host's CR inside `R08 *...\\r*`. A run of
    bytes longer than `max_line_bytes` without LF is garbage and is cut off, so a noisy
    line cannot grow the buffer forever.
    """

    def __init__(self, max_line_bytes: int = 512) -> None:
        self._buffer = bytearray()
        self._max_line_bytes = max_line_bytes

    def feed(self, data: bytes) -> list[bytes]:
        """Append received bytes; return the complete lines (without CR LF) they finish."""
        self._buffer.extend(data)
        lines: list[bytes] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            lines.append(bytes(self._buffer[:end]).rstrip(b"\r"))
            del self._buffer[: end + 1]
        if len(self._buffer) > self._max_line_bytes:
            lines.append(bytes(self._buffer))
            self._buffer.clear()
        return lines

    def reset(self) -> None:
        self._buffer.clear()
