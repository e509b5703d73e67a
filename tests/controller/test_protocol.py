"""The firmware codec: every command's bytes, every reply's decoding, and garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller import protocol as p
from potager.robots import Axis

ENCODED = [
    (p.Move(100, 250, -40), b"G00 X100.00 Y250.00 Z-40.00 Q17\r\n"),
    (p.Move(1.005, 0, 0, 400, 400, 400), b"G00 X1.00 Y0.00 Z0.00 A400.00 B400.00 C400.00 Q17\r\n"),
    (p.Move(0, 0, 0, None, 900, None), b"G00 X0.00 Y0.00 Z0.00 B900.00 Q17\r\n"),
    (p.GoHomeAll(), b"G28 Q17\r\n"),
    (p.Unlock(), b"F09 Q17\r\n"),
    (p.FindHome(Axis.X), b"F11 Q17\r\n"),
    (p.FindHome(Axis.Y), b"F12 Q17\r\n"),
    (p.FindHome(Axis.Z), b"F13 Q17\r\n"),
    (p.CalibrateAxis(Axis.X), b"F14 Q17\r\n"),
    (p.CalibrateAxis(Axis.Y), b"F15 Q17\r\n"),
    (p.CalibrateAxis(Axis.Z), b"F16 Q17\r\n"),
    (p.ListParams(), b"F20 Q17\r\n"),
    (p.ReadParam(55), b"F21 P55 Q17\r\n"),
    (p.WriteParam(2, 1), b"F22 P2 V1 Q17\r\n"),
    (p.WritePin(8, 1), b"F41 P8 V1 M0 Q17\r\n"),
    (p.WritePin(10, 200, p.PinMode.ANALOG), b"F41 P10 V200 M1 Q17\r\n"),
    (p.ReadPin(59, p.PinMode.ANALOG), b"F42 P59 M1 Q17\r\n"),
    (p.SetPinIoMode(8, p.PinIoMode.INPUT_PULLUP), b"F43 P8 M2 Q17\r\n"),
    (p.PulsePin(8, 1, 0, 2000), b"F44 P8 V1 W0 T2000 M0 Q17\r\n"),
    (p.SetServoAngle(4, 90), b"F61 P4 V90 Q17\r\n"),
    (p.ReadEndStops(), b"F81 Q17\r\n"),
    (p.ReadPosition(), b"F82 Q17\r\n"),
    (p.ReadVersion(), b"F83 Q17\r\n"),
    (p.SetZero(x=True, z=True), b"F84 X1 Y0 Z1 Q17\r\n"),
]


@pytest.mark.parametrize(("command", "expected"), ENCODED, ids=lambda v: repr(v)[:30])
def test_every_command_encodes_to_the_firmware_bytes(command: p.Command, expected: bytes) -> None:
    assert p.encode_command(command, q=17) == expected


def test_a_command_without_tag_has_no_q() -> None:
    assert p.encode_command(p.ReadVersion()) == b"F83\r\n"


def test_out_of_band_signals() -> None:
    assert p.EMERGENCY_STOP == b"E"
    assert p.ABORT_MOVE == b"@\r\n"  # ends its own line if no move is running any more


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_coordinates_are_refused(bad: float) -> None:
    with pytest.raises(p.ProtocolError, match="finite"):
        p.encode_command(p.Move(bad, 0, 0))


def test_q_outside_the_firmware_range_is_refused() -> None:
    with pytest.raises(p.ProtocolError, match="Q tag"):
        p.encode_command(p.ReadVersion(), q=1000)


@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.one_of(st.none(), st.floats(0, 1e5, allow_nan=False)),
    st.integers(0, p.MAX_Q),
)
def test_no_command_ever_contains_the_letter_e(
    x: float, y: float, z: float, speed: float | None, q: int
) -> None:
    line = p.encode_command(p.Move(x, y, z, speed, speed, speed), q)
    assert b"E" not in line.upper()
    assert line.endswith(b"\r\n")


DECODED = [
    (b"R00 Q0", p.Idle(q=0)),
    (b"R01 Q3", p.Started(q=3)),
    (b"R02 Q3", p.Done(q=3)),
    (b"R03 V31 Q3", p.Failed(error=31, q=3)),
    (b"R04 Q3", p.Running(q=3)),
    (b"R05 X2 Q3", p.AxisStateReport(axis=Axis.X, state=2, q=3)),
    (b"R06 Z1 Q3", p.CalibrationStateReport(axis=Axis.Z, state=1, q=3)),
    (b"R07 Q3", p.Retrying(q=3)),
    (b"R08 *F83\r*", p.Echo(text="F83\r")),
    (b"R09 Q3", p.Invalid(q=3)),
    (b"R11 Q3", p.HomingComplete(axis=Axis.X, q=3)),
    (b"R12 Q3", p.HomingComplete(axis=Axis.Y, q=3)),
    (b"R13 Q3", p.HomingComplete(axis=Axis.Z, q=3)),
    (b"R15 X10.00 Q3", p.DestinationClamped(axis=Axis.X, value_mm=10.0, q=3)),
    (b"R16 Y0.00 Q3", p.DestinationClamped(axis=Axis.Y, value_mm=0.0, q=3)),
    (b"R17 Z-500.00 Q3", p.DestinationClamped(axis=Axis.Z, value_mm=-500.0, q=3)),
    (b"R20 Q3", p.ParamsListed(q=3)),
    (b"R21 P55 V5 Q3", p.ParamValue(param=55, value=5, q=3)),
    (b"R21 P2 V1", p.ParamValue(param=2, value=1)),
    (b"R23 P141 V14500 Q3", p.ParamCalibrated(param=141, value=14500, q=3)),
    (b"R31 P1 V0 Q3", p.StatusValue(status=1, value=0, q=3)),
    (b"R41 P8 V1 Q3", p.PinValue(pin=8, value=1, q=3)),
    (b"R61 P59 V512", p.PinMonitorValue(pin=59, value=512)),
    (b"R71 Q3", p.AxisTimedOut(axis=Axis.X, q=3)),
    (b"R72 Q3", p.AxisTimedOut(axis=Axis.Y, q=3)),
    (b"R73 Q3", p.AxisTimedOut(axis=Axis.Z, q=3)),
    (b"R81 XA1 XB0 YA0 YB1 ZA0 ZB0 Q3", p.EndStops(True, False, False, True, False, False, q=3)),
    (b"R82 X100.00 Y0.00 Z-20.00 Q0", p.Position(x_mm=100, y_mm=0, z_mm=-20, q=0)),
    (
        b"R83 6.6.26.R.genesisK12-52053ec8 Q0",
        p.FirmwareVersion(version="6.6.26.R.genesisK12-52053ec8", q=0),
    ),
    (b"R84 X1.50 Y2.00 Z0.00 Q0", p.EncoderPositionScaled(x_mm=1.5, y_mm=2, z_mm=0, q=0)),
    (b"R85 X10 Y20 Z0 Q0", p.EncoderPositionRaw(x_counts=10, y_counts=20, z_counts=0, q=0)),
    (b"R86 Q3", p.Aborted(q=3)),
    (b"R87 Q3", p.EmergencyLocked(q=3)),
    (b"R88 Q0", p.NotConfigured(q=0)),
    (b"R89 U100 X2 V200 Y0 W0 Z1", p.MotorLoad(100, 2, 200, 0, 0, 1)),
    (b"R99 ARDUINO STARTUP COMPLETE", p.Debug(text="ARDUINO STARTUP COMPLETE")),
    (b"R99 Will zero X Q5", p.Debug(text="Will zero X", q=5)),
    (b"home", p.EndStopPreamble()),
]


@pytest.mark.parametrize(("line", "expected"), DECODED, ids=lambda v: repr(v)[:24])
def test_every_reply_decodes_to_its_type(line: bytes, expected: p.Reply) -> None:
    assert p.decode_line(line) == expected
    assert p.decode_line(line + b"\r\n") == expected


@pytest.mark.parametrize(("line", "expected"), DECODED, ids=lambda v: repr(v)[:24])
def test_formatting_a_reply_gives_back_the_same_reply(line: bytes, expected: p.Reply) -> None:
    assert p.decode_line(p.format_reply(expected)) == expected


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"\xff\xfe\x00",
        b"R",
        b"R2",
        b"R02 X",
        b"R42 Q1",
        b"R82 X1 Y",
        b"R21 P2.5 V1",
        b"G00 X1",
        b"R03 Vfoo Q1",
        b"R05 Q1",
        b"R81 XA1",
    ],
)
def test_malformed_lines_raise_protocol_error_with_the_raw_line(garbage: bytes) -> None:
    with pytest.raises(p.ProtocolError) as caught:
        p.decode_line(garbage)
    assert caught.value.raw_line == garbage


@given(st.binary(max_size=120))
def test_arbitrary_bytes_decode_or_raise_protocol_error_only(data: bytes) -> None:
    try:
        reply = p.decode_line(data)
    except p.ProtocolError as error:
        assert error.raw_line == data
    else:
        assert isinstance(reply, p.Reply)


@given(st.text(alphabet="R0123456789 QXYZPVABE.-*\r", max_size=40))
def test_near_miss_text_decodes_or_raises_protocol_error_only(text: str) -> None:
    with contextlib.suppress(p.ProtocolError):
        p.decode_line(text)


@given(
    st.sampled_from([p.Position, p.EncoderPositionScaled]),
    st.floats(-10000, 10000, allow_nan=False).map(lambda v: round(v, 2)),
    st.floats(-10000, 10000, allow_nan=False).map(lambda v: round(v, 2)),
    st.floats(-10000, 10000, allow_nan=False).map(lambda v: round(v, 2)),
    st.one_of(st.none(), st.integers(0, p.MAX_Q)),
)
def test_position_reports_round_trip(
    kind: type[p.Position], x: float, y: float, z: float, q: int | None
) -> None:
    reply = kind(x_mm=x, y_mm=y, z_mm=z, q=q)
    assert p.decode_line(p.format_reply(reply)) == reply


@given(
    st.integers(0, 300), st.integers(-32768, 2**31 - 1), st.one_of(st.none(), st.integers(0, 999))
)
def test_param_reports_round_trip(param: int, value: int, q: int | None) -> None:
    reply = p.ParamValue(param=param, value=value, q=q)
    assert p.decode_line(p.format_reply(reply)) == reply


def test_framer_splits_on_lf_only_and_keeps_the_echoed_cr() -> None:
    framer = p.LineFramer()
    assert framer.feed(b"R08 *F83\r*\r\nR01 Q") == [b"R08 *F83\r*"]
    assert framer.feed(b"1\r\nR02 Q1\r\n") == [b"R01 Q1", b"R02 Q1"]


def test_framer_cuts_a_runaway_line() -> None:
    framer = p.LineFramer(max_line_bytes=16)
    lines = framer.feed(b"x" * 40)
    assert lines == [b"x" * 40]
    assert framer.feed(b"R02 Q1\n") == [b"R02 Q1"]
