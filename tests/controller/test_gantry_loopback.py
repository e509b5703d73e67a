"""The robot API over the in-process link: limits, timeouts, faults, on a virtual clock."""

from __future__ import annotations

import pytest

from controller.gantry import (
    EmergencyStopError,
    Gantry,
    GantryError,
    InvalidCommandError,
    MoveTimeoutError,
    OutOfBoundsError,
    StallError,
)
from controller.link import CommandTimeoutError, LinkError, LoopbackLink
from controller.protocol import Done, ListParams, ParamsListed, ParamValue, ReadVersion
from planner.motion import move_time_s
from potager.clock import VirtualClock
from potager.robots import Axis, Coordinate, get_profile
from sim.firmware import VirtualFarmduino
from sim.serve import firmware_for

PROFILE = get_profile("genesis")
VALVE = PROFILE.water_valve_pin


class RecordingFirmware:
    """Passes everything to a simulated firmware and remembers what the host sent."""

    def __init__(self, firmware: VirtualFarmduino) -> None:
        self.firmware = firmware
        self.received = bytearray()

    def receive(self, data: bytes, now_s: float) -> None:
        self.received.extend(data)
        self.firmware.receive(data, now_s)

    def advance(self, now_s: float) -> bytes:
        return self.firmware.advance(now_s)

    def next_event_s(self) -> float | None:
        return self.firmware.next_event_s()


@pytest.fixture
def firmware() -> RecordingFirmware:
    return RecordingFirmware(firmware_for(PROFILE))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def robot(firmware: RecordingFirmware, clock: VirtualClock) -> Gantry:
    return Gantry(LoopbackLink(firmware, clock), PROFILE).connect()


def test_connecting_uploads_and_approves_the_configuration(
    robot: Gantry, firmware: RecordingFirmware
) -> None:
    sim = firmware.firmware
    assert sim.configured
    assert sim.params[141] == PROFILE.length_x_mm * 5
    assert sim.params[201] == VALVE
    assert robot.firmware_version is not None
    assert robot.firmware_version.startswith("6.6.26.I.genesisK16")
    assert bytes(firmware.received).rstrip().endswith(b"F82 Q" + str(robot.link._last_q).encode())


@pytest.mark.parametrize(
    ("target", "axis"),
    [
        ((3000.0, 0.0, 0.0), Axis.X),
        ((-1.0, 0.0, 0.0), Axis.X),
        ((0.0, 1230.5, 0.0), Axis.Y),
        ((0.0, 0.0, 10.0), Axis.Z),
        ((0.0, 0.0, -501.0), Axis.Z),
        ((float("nan"), 0.0, 0.0), Axis.X),
    ],
)
def test_soft_limits_refuse_before_anything_is_sent(
    robot: Gantry, firmware: RecordingFirmware, target: tuple[float, float, float], axis: Axis
) -> None:
    sent_before = len(firmware.received)
    with pytest.raises(OutOfBoundsError) as caught:
        robot.move_to(*target)
    assert caught.value.axis is axis
    assert axis.upper() in str(caught.value)
    assert "between" in str(caught.value)
    assert len(firmware.received) == sent_before


def test_move_by_is_checked_too(robot: Gantry, firmware: RecordingFirmware) -> None:
    robot.move_to(100, 100, 0)
    with pytest.raises(OutOfBoundsError, match="Y = -50"):
        robot.move_by(dy_mm=-150)
    assert robot.position == Coordinate(100, 100, 0)


def test_moves_take_the_predicted_time(robot: Gantry, clock: VirtualClock) -> None:
    start_s = clock.now_s()
    robot.move_to(1000, 300, -50)
    elapsed_s = clock.now_s() - start_s
    predicted_s = move_time_s(PROFILE, (0, 0, 0), (1000, 300, -50))
    assert elapsed_s == pytest.approx(predicted_s, rel=0.02)
    assert robot.position == Coordinate(1000, 300, -50)


def test_speed_percent_slows_the_move_down(robot: Gantry, clock: VirtualClock) -> None:
    start_s = clock.now_s()
    robot.move_to(1000, 0, 0, speed_percent=50)
    assert clock.now_s() - start_s == pytest.approx(
        move_time_s(PROFILE, (0, 0, 0), (1000, 0, 0), speed_percent=50), rel=0.02
    )
    with pytest.raises(GantryError, match="speed must be 1-100"):
        robot.move_to(0, 0, 0, speed_percent=0)


def test_safe_z_goes_up_across_and_down(robot: Gantry, firmware: RecordingFirmware) -> None:
    robot.move_to(100, 100, -200)
    firmware.received.clear()
    robot.move_to(500, 400, -150, safe_z=True)
    moves = [line for line in bytes(firmware.received).split(b"\r\n") if line.startswith(b"G00")]
    assert [m.split(b" Q")[0] for m in moves] == [
        b"G00 X100.00 Y100.00 Z0.00",
        b"G00 X500.00 Y400.00 Z0.00",
        b"G00 X500.00 Y400.00 Z-150.00",
    ]


def test_a_stall_names_the_axis_closes_the_valve_and_leaves_the_link_usable(
    robot: Gantry, firmware: RecordingFirmware
) -> None:
    robot.write_pin(VALVE, 1)
    assert firmware.firmware.pins[VALVE] == 1
    firmware.firmware.inject_stall(Axis.Y, at_mm=200)
    with pytest.raises(StallError) as caught:
        robot.move_to(100, 500, 0)
    assert caught.value.axis is Axis.Y
    assert "Y axis" in str(caught.value)
    assert firmware.firmware.pins.get(VALVE, 0) == 0
    assert robot.position.y_mm == pytest.approx(200, abs=1)
    robot.move_to(0, 0, 0)
    assert firmware.firmware.position_mm == (0, 0, 0)


def test_a_firmware_timeout_names_the_axis(clock: VirtualClock) -> None:
    # The firmware's own timeout fires first only when it is shorter than ours.
    impatient = PROFILE.model_copy(update={"movement_timeout_s": 5})
    sim = firmware_for(impatient)
    robot = Gantry(LoopbackLink(sim, clock), impatient).connect()
    sim.inject_timeout(Axis.X)
    with pytest.raises(MoveTimeoutError) as caught:
        robot.move_to(300, 0, 0)
    assert caught.value.axis is Axis.X
    assert "timed out on the X axis" in str(caught.value)
    robot.move_to(0, 100, 0)


def test_a_stuck_axis_is_abandoned_at_our_own_timeout_and_stopped(
    robot: Gantry, firmware: RecordingFirmware
) -> None:
    firmware.firmware.inject_timeout(Axis.X)
    with pytest.raises(CommandTimeoutError):
        robot.move_to(300, 0, 0)
    assert not firmware.firmware.busy
    assert firmware.received.endswith(b"@") or b"@" in firmware.received
    robot.move_to(0, 100, 0)


def test_a_lost_reply_times_out_from_the_predicted_time_not_a_fixed_minute(
    robot: Gantry, firmware: RecordingFirmware, clock: VirtualClock
) -> None:
    robot.write_pin(VALVE, 1)
    firmware.firmware.drop_next_reply(2)
    predicted_s = move_time_s(PROFILE, (0, 0, 0), (200, 0, 0))
    start_s = clock.now_s()
    with pytest.raises(CommandTimeoutError, match=r"no answer to 'G00 X200\.00"):
        robot.move_to(200, 0, 0)
    assert clock.now_s() - start_s == pytest.approx(predicted_s * 1.5 + 5, abs=0.01)
    assert firmware.firmware.pins.get(VALVE, 0) == 0
    robot.move_to(0, 0, 0)


def test_garbage_from_the_firmware_is_logged_and_skipped(
    robot: Gantry, firmware: RecordingFirmware
) -> None:
    firmware.firmware.inject_garbage(b"\xff\xfeR0\x00 nonsense\r\nR42 Q7\r\n")
    assert robot.read_pin(VALVE) == 0
    assert len(robot.link.garbage_lines) == 2


def test_a_reboot_between_commands_is_noticed_and_reconfigured(
    robot: Gantry, firmware: RecordingFirmware, clock: VirtualClock
) -> None:
    sim = firmware.firmware
    sim.reboot(clock.now_s())
    robot.link.run_until(clock.now_s() + 1)  # type: ignore[union-attr]
    robot.move_to(50, 50, 0)
    assert sim.configured
    assert sim.position_mm == (50, 50, 0)


def test_estop_refuses_moves_until_unlocked(robot: Gantry, firmware: RecordingFirmware) -> None:
    robot.write_pin(VALVE, 1)
    robot.emergency_stop()
    assert firmware.firmware.estopped
    assert firmware.firmware.pins.get(VALVE, 0) == 0
    with pytest.raises(EmergencyStopError, match="unlock"):
        robot.move_to(10, 10, 0)
    robot.unlock()
    assert not robot.estopped
    robot.move_to(10, 10, 0)
    assert firmware.firmware.position_mm == (10, 10, 0)


def test_pins_servo_and_pulse(
    robot: Gantry, firmware: RecordingFirmware, clock: VirtualClock
) -> None:
    sim = firmware.firmware
    sim.set_input(63, 1)
    assert robot.read_pin(63) == 1
    start_s = clock.now_s()
    robot.pulse_pin(VALVE, 1.5)
    assert clock.now_s() - start_s == pytest.approx(1.5, abs=0.05)
    assert sim.pins.get(VALVE, 0) == 0
    robot.set_servo_angle(4, 90)
    with pytest.raises(GantryError, match="servos are on pins"):
        robot.set_servo_angle(7, 90)
    with pytest.raises(GantryError, match="pin must be 1-69"):
        robot.write_pin(70, 1)


def test_homing_calibration_and_set_home(robot: Gantry, firmware: RecordingFirmware) -> None:
    sim = firmware.firmware
    robot.move_to(500, 200, -100)
    assert robot.find_home(Axis.X).x_mm == 0
    assert sim.position_mm[0] == 0
    sim.set_travel_mm(Axis.Y, 1100)
    assert robot.calibrate(Axis.Y) == pytest.approx(1100, abs=0.5)
    assert robot.lengths_mm[Axis.Y] == pytest.approx(1100, abs=0.5)
    with pytest.raises(OutOfBoundsError):
        robot.move_to(0, 1150, 0)
    robot.move_to(0, 0, -100)
    robot.set_home([Axis.Z])
    assert robot.read_position().z_mm == 0


def test_end_stops_and_go_home(robot: Gantry) -> None:
    robot.move_to(400, 300, -50)
    assert robot.read_end_stops().x_min is False
    robot.go_home()
    assert robot.read_position() == Coordinate(0, 0, 0)


def test_raw_link_commands_list_parameters(robot: Gantry) -> None:
    result = robot.link.execute(ListParams())
    assert isinstance(result.final, Done)
    listed = [r for r in result.replies if isinstance(r, ParamValue)]
    assert len(listed) > 100
    assert any(isinstance(r, ParamsListed) for r in result.replies)


def test_an_invalid_command_is_a_typed_error(robot: Gantry) -> None:
    from controller.gantry import firmware_error
    from controller.protocol import Command

    class StraightLine(Command):
        code = "G01"

    error = firmware_error(robot.link.execute(StraightLine()))
    assert isinstance(error, InvalidCommandError)


def test_q_tags_wrap_after_999(robot: Gantry) -> None:
    link = robot.link
    link._last_q = 998
    for _ in range(3):
        assert link.execute(ReadVersion()).final.q in (999, 1, 2)
    assert link._last_q == 2


def test_link_errors_are_potager_errors() -> None:
    from potager.errors import PotagerError

    assert issubclass(LinkError, PotagerError)
    assert issubclass(CommandTimeoutError, LinkError)
