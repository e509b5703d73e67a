"""The controller against the simulated firmware through a real pseudo-terminal and pyserial."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from controller import protocol as p
from controller.gantry import EmergencyStopError, Gantry, StallError
from controller.link import LinkError, LinkState, SerialLink
from potager.clock import ScaledClock
from potager.robots import Axis, Coordinate, get_profile
from sim.pty import PtyFirmware
from sim.serve import firmware_for

PROFILE = get_profile("genesis")
VALVE = PROFILE.water_valve_pin
SCALE = 200.0


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock(SCALE)


@pytest.fixture
def sim(clock: ScaledClock) -> Iterator[PtyFirmware]:
    with PtyFirmware(firmware_for(PROFILE), clock) as robot:
        yield robot


@pytest.fixture
def robot(sim: PtyFirmware, clock: ScaledClock) -> Iterator[Gantry]:
    with Gantry(SerialLink(sim.port, clock=clock), PROFILE) as gantry:
        yield gantry


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.002)


def in_background(action: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_a_full_session(robot: Gantry, sim: PtyFirmware) -> None:
    assert robot.firmware_version is not None
    assert robot.firmware_version.startswith("6.6.26.I.genesisK16")
    with sim.locked() as firmware:
        assert firmware.configured
    for axis in (Axis.Z, Axis.Y, Axis.X):
        robot.find_home(axis)
    for target in [(500, 300, -100), (1200, 800, -50), (100, 1000, 0)]:
        robot.move_to(*target, safe_z=True)
        with sim.locked() as firmware:
            assert firmware.position_mm == pytest.approx(target)
    robot.write_pin(VALVE, 1)
    assert robot.read_pin(VALVE) == 1
    robot.write_pin(VALVE, 0)
    # e-stop in the middle of a long move, then unlock and carry on
    mover, errors = in_background(lambda: robot.move_to(2800, 100, 0))
    wait_for(lambda: sim.firmware.busy)
    robot.emergency_stop()
    mover.join(5)
    assert len(errors) == 1 and isinstance(errors[0], EmergencyStopError)
    with sim.locked() as firmware:
        assert firmware.estopped
        stopped_at = firmware.position_mm
    assert 100 < stopped_at[0] < 2800
    robot.unlock()
    robot.move_to(0, 0, 0)
    with sim.locked() as firmware:
        assert firmware.position_mm == (0, 0, 0)


COMMANDS: list[tuple[p.Command, type[p.Reply] | None]] = [
    (p.ReadVersion(), p.FirmwareVersion),
    (p.ReadPosition(), p.Position),
    (p.ReadEndStops(), p.EndStops),
    (p.ListParams(), p.ParamsListed),
    (p.ReadParam(55), p.ParamValue),
    (p.WriteParam(5, 2), p.ParamValue),
    (p.WritePin(10, 1), None),
    (p.ReadPin(10), p.PinValue),
    (p.SetPinIoMode(12, p.PinIoMode.OUTPUT), None),
    (p.PulsePin(10, 1, 0, 50), None),
    (p.SetServoAngle(5, 45), None),
    (p.Move(10, 20, -5), None),
    (p.GoHomeAll(), None),
    (p.FindHome(Axis.Y), p.HomingComplete),
    (p.SetZero(x=True), p.Debug),
    (p.Unlock(), None),
]


@pytest.mark.parametrize(("command", "expected"), COMMANDS, ids=lambda v: type(v).__name__)
def test_every_command_over_the_pty(
    robot: Gantry, command: p.Command, expected: type[p.Reply] | None
) -> None:
    result = robot.link.execute(command, timeout_s=60)
    assert isinstance(result.final, p.Done), result.replies
    assert isinstance(result.replies[0], p.Started)
    if expected is not None:
        assert any(isinstance(reply, expected) for reply in result.replies)


def test_calibration_over_the_pty(robot: Gantry, sim: PtyFirmware) -> None:
    with sim.locked() as firmware:
        firmware.set_travel_mm(Axis.X, 2500)
    assert robot.calibrate(Axis.X) == pytest.approx(2500, abs=0.5)


def test_a_stall_closes_the_valve_and_the_link_stays_usable(
    robot: Gantry, sim: PtyFirmware
) -> None:
    robot.write_pin(VALVE, 1)
    with sim.locked() as firmware:
        firmware.inject_stall(Axis.X, at_mm=300)
    with pytest.raises(StallError, match="X axis"):
        robot.move_to(1000, 0, 0)
    with sim.locked() as firmware:
        assert firmware.pins.get(VALVE, 0) == 0
    robot.move_to(10, 10, 0)


def test_an_outside_estop_mid_move(robot: Gantry, sim: PtyFirmware, clock: ScaledClock) -> None:
    mover, errors = in_background(lambda: robot.move_to(2000, 0, 0))
    wait_for(lambda: sim.firmware.busy)
    with sim.locked() as firmware:
        firmware.press_estop(clock.now_s())
    mover.join(5)
    assert isinstance(errors[0], EmergencyStopError)
    assert robot.estopped
    robot.unlock()
    robot.move_to(0, 0, 0)


def test_abort_stops_the_move_and_keeps_the_robot_usable(robot: Gantry, sim: PtyFirmware) -> None:
    from controller.gantry import MoveAbortedError

    mover, errors = in_background(lambda: robot.move_to(2000, 0, 0))
    wait_for(lambda: sim.firmware.busy)
    robot.link.abort_move()
    mover.join(5)
    assert isinstance(errors[0], MoveAbortedError)
    robot.move_to(5, 5, 0)


def test_garbage_bytes_do_not_kill_the_reader(robot: Gantry, sim: PtyFirmware) -> None:
    with sim.locked() as firmware:
        firmware.inject_garbage(b"\x00\xff\xfe garbage R7\r\nR02 X\r\n")
    wait_for(lambda: len(robot.link.garbage_lines) >= 2)
    assert robot.read_pin(VALVE) == 0


def test_a_dropped_reply_times_out_then_the_link_recovers(robot: Gantry, sim: PtyFirmware) -> None:
    with sim.locked() as firmware:
        firmware.drop_next_reply(2)
    with pytest.raises(LinkError, match="no answer"):
        robot.move_to(100, 0, 0)
    robot.move_to(0, 50, 0)


def test_a_reboot_mid_move_fails_the_move_then_reconfigures(
    robot: Gantry, sim: PtyFirmware, clock: ScaledClock
) -> None:
    states: list[LinkState] = []
    robot.link.add_state_listener(lambda state, _detail: states.append(state))
    mover, errors = in_background(lambda: robot.move_to(2000, 0, 0))
    wait_for(lambda: sim.firmware.busy)
    with sim.locked() as firmware:
        firmware.reboot(clock.now_s())
    mover.join(5)
    assert isinstance(errors[0], LinkError)
    assert "restarted" in str(errors[0])
    wait_for(lambda: robot.link.state is LinkState.READY and LinkState.CONFIGURING in states)
    with sim.locked() as firmware:
        assert firmware.configured
    robot.move_to(20, 0, 0)


def test_an_unplugged_cable_fails_the_command_and_the_link_comes_back(
    robot: Gantry, sim: PtyFirmware
) -> None:
    mover, errors = in_background(lambda: robot.move_to(2000, 0, 0))
    wait_for(lambda: sim.firmware.busy)
    sim.unplug()
    mover.join(5)
    assert isinstance(errors[0], LinkError)
    assert "lost" in str(errors[0]) and "cable" in str(errors[0])
    wait_for(lambda: robot.link.state is LinkState.LOST)
    with pytest.raises(LinkError, match="not connected"):
        robot.move_to(0, 0, 0)
    sim.replug()
    wait_for(lambda: robot.link.state is LinkState.READY)
    with sim.locked() as firmware:
        assert firmware.configured
    robot.move_to(30, 30, 0)
    assert robot.position == Coordinate(30, 30, 0)


def test_several_simulated_robots_at_once(clock: ScaledClock) -> None:
    from sim.serve import simulated_robots

    with simulated_robots(PROFILE, 3, clock) as sims:
        assert len({s.port for s in sims}) == 3
        gantries = [Gantry(SerialLink(s.port, clock=clock), PROFILE).connect() for s in sims]
        for index, gantry in enumerate(gantries):
            gantry.move_to(100 * (index + 1), 0, 0)
        for index, s in enumerate(sims):
            with s.locked() as firmware:
                assert firmware.position_mm[0] == 100 * (index + 1)
        for gantry in gantries:
            gantry.close()
