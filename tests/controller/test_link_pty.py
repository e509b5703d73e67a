"""The controller against the simulated firmware through a real pseudo-terminal and pyserial."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from controller import protocol as p
from controller.gantry import EmergencyStopError, Gantry, StallError
from controller.link import LinkError, LinkState, SerialLink
from potager.clock import ScaledClock
from potager.robots import Axis, Coordinate
from sim.pty import PtyFirmware
from tests.controller.conftest import PROFILE

VALVE = PROFILE.water_valve_pin


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.002)


def error_of_interrupted_move(
    robot: Gantry, sim: PtyFirmware, interrupt: Callable[[], object]
) -> BaseException:
    """Start a long move, `interrupt` it once the firmware is moving, return what it raised."""
    errors: list[BaseException] = []

    def move() -> None:
        try:
            robot.move_to(2000, 100, 0)
        except BaseException as error:
            errors.append(error)

    mover = threading.Thread(target=move)
    mover.start()
    wait_for(lambda: sim.firmware.busy)
    interrupt()
    mover.join(5)
    assert len(errors) == 1, "the interrupted move should have raised exactly once"
    return errors[0]


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
    error = error_of_interrupted_move(robot, sim, robot.emergency_stop)
    assert isinstance(error, EmergencyStopError)
    with sim.locked() as firmware:
        assert firmware.estopped
        stopped_at = firmware.position_mm
    assert 100 < stopped_at[0] < 2000
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
    def press_button() -> None:
        with sim.locked() as firmware:
            firmware.press_estop(clock.now_s())

    assert isinstance(error_of_interrupted_move(robot, sim, press_button), EmergencyStopError)
    assert robot.estopped
    robot.unlock()
    robot.move_to(0, 0, 0)


def test_abort_stops_the_move_and_keeps_the_robot_usable(robot: Gantry, sim: PtyFirmware) -> None:
    from controller.gantry import MoveAbortedError

    error = error_of_interrupted_move(robot, sim, robot.link.abort_move)
    assert isinstance(error, MoveAbortedError)
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

    def reset_board() -> None:
        with sim.locked() as firmware:
            firmware.reboot(clock.now_s())

    error = error_of_interrupted_move(robot, sim, reset_board)
    assert isinstance(error, LinkError)
    assert "restarted" in str(error)
    wait_for(lambda: robot.link.state is LinkState.READY and LinkState.CONFIGURING in states)
    with sim.locked() as firmware:
        assert firmware.configured
    robot.move_to(20, 0, 0)


def test_an_unplugged_cable_fails_the_command_and_the_link_comes_back(
    robot: Gantry, sim: PtyFirmware
) -> None:
    error = error_of_interrupted_move(robot, sim, sim.unplug)
    assert isinstance(error, LinkError)
    assert "lost" in str(error) and "cable" in str(error)
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


def _stall(sim: PtyFirmware, clock: ScaledClock) -> None:
    with sim.locked() as firmware:
        firmware.inject_stall(Axis.X, at_mm=1200)


def _stuck_axis(sim: PtyFirmware, clock: ScaledClock) -> None:
    with sim.locked() as firmware:
        firmware.inject_timeout(Axis.Y)


def _lost_reply(sim: PtyFirmware, clock: ScaledClock) -> None:
    with sim.locked() as firmware:
        firmware.drop_next_reply(2)


def _reset(sim: PtyFirmware, clock: ScaledClock) -> None:
    with sim.locked() as firmware:
        firmware.reboot(clock.now_s())


def _outside_estop(sim: PtyFirmware, clock: ScaledClock) -> None:
    with sim.locked() as firmware:
        firmware.press_estop(clock.now_s())


def _cable_pulled(sim: PtyFirmware, clock: ScaledClock) -> None:
    sim.unplug()
    time.sleep(0.05)
    sim.replug()


FAULTS = [
    # (fault, injected before the move or during it, what the error must say)
    (_stall, "before", "stall detected on the X axis"),
    (_stuck_axis, "before", "no answer to 'G00"),
    (_lost_reply, "before", "no answer to 'G00"),
    (_reset, "during", "firmware restarted"),
    (_outside_estop, "during", "emergency stop"),
    (_cable_pulled, "during", "lost"),
]


@pytest.mark.parametrize(
    ("fault", "when", "message"), FAULTS, ids=lambda v: getattr(v, "__name__", v)
)
def test_every_fault_ends_with_a_clear_error_the_valve_closed_and_a_usable_link(
    robot: Gantry,
    sim: PtyFirmware,
    clock: ScaledClock,
    fault: Callable[[PtyFirmware, ScaledClock], None],
    when: str,
    message: str,
) -> None:
    robot.write_pin(VALVE, 1)
    if when == "before":
        fault(sim, clock)
        with pytest.raises((LinkError, StallError)) as caught:
            robot.move_to(2000, 100, 0)
        error: BaseException = caught.value
    else:
        error = error_of_interrupted_move(robot, sim, lambda: fault(sim, clock))
    assert message in str(error)
    wait_for(lambda: robot.link.state is LinkState.READY)
    if robot.estopped:
        robot.unlock()
    with sim.locked() as firmware:
        assert firmware.pins.get(VALVE, 0) == 0, "the water valve was left open"
    robot.move_to(10, 20, -5)
    with sim.locked() as firmware:
        assert firmware.position_mm == (10, 20, -5)


def test_position_is_live_during_a_move_and_analog_pins_read(
    robot: Gantry, sim: PtyFirmware
) -> None:
    seen_x_mm: set[float] = set()

    def watch() -> None:
        while not done.is_set():
            seen_x_mm.add(robot.position.x_mm)
            time.sleep(0.001)

    done = threading.Event()
    watcher = threading.Thread(target=watch)
    watcher.start()
    robot.move_to(1500, 0, 0)
    done.set()
    watcher.join()
    assert any(0 < x < 1500 for x in seen_x_mm), "no R82 position report during the move"
    with sim.locked() as firmware:
        firmware.set_input(59, 734)
    assert robot.read_pin(59, p.PinMode.ANALOG) == 734
    assert robot.read_pin(59) == 1


def test_a_second_controller_on_the_same_robot_is_refused(
    robot: Gantry, sim: PtyFirmware, clock: ScaledClock
) -> None:
    """One job at a time per robot: the port is opened exclusively."""
    with pytest.raises(LinkError, match=f"cannot open serial port {sim.port}"):
        SerialLink(sim.port, clock=clock).open()
    robot.move_to(10, 10, 0)  # the first one is unharmed
    assert robot.position == Coordinate(10, 10, 0)
