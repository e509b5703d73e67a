"""The virtual Farmduino against the protocol facts of reference `farmbot.md` 1.2, 2.2 and 9."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.params import FIRMWARE_DEFAULTS
from controller.protocol import ProtocolError, decode_line
from planner.motion import move_time_s
from potager.robots import Axis, AxisMotion
from sim import SimulatorError
from sim.firmware import VirtualFarmduino
from tests.sim.harness import GENESIS, Board, booted

DUMPED_PARAMS = [param for param in sorted(FIRMWARE_DEFAULTS) if param != 1]


def states_of(lines: list[str], axis: str) -> list[int]:
    """The R05 states one axis went through, in order."""
    return [int(line[5]) for line in lines if line.startswith(f"R05 {axis}")]


def x_positions(lines: list[str]) -> list[float]:
    return [float(match.group(1)) for line in lines if (match := re.match(r"R82 X(\S+)", line))]


def move(board: Board, x_mm: float = 0, y_mm: float = 0, z_mm: float = 0, extra: str = "") -> float:
    """Move and wait for the end; the move's duration."""
    exchange = board.command(f"G00 X{x_mm} Y{y_mm} Z{z_mm} {extra}".strip())
    assert exchange.final.startswith("R02"), exchange.lines
    return exchange.duration_s


# ------------------------------------------------------------------------------ boot


def test_boot_prints_the_banner_then_startup_complete_then_every_parameter() -> None:
    board = Board(VirtualFarmduino(boot_at_s=2.0))
    assert board.run_until(1.99) == []
    assert board.run_until(2.0) == [
        "R99 Serial connection started",
        "R99 Start interrupt",
        "R99 Set motor enables off",
        "R99 Load movement settings",
        "R99 Check homing on boot",
    ]
    assert board.run_until(2.29) == []
    startup = board.run_until(2.3)
    assert startup[0] == "R99 ARDUINO STARTUP COMPLETE"
    assert startup[1:] == [f"R21 P{p} V{FIRMWARE_DEFAULTS[p]}" for p in DUMPED_PARAMS]
    assert board.run_until(2.79) == []
    assert board.run_until(2.8)[0] == "R00 Q0"


def test_input_before_startup_completes_is_lost() -> None:
    board = Board(VirtualFarmduino(boot_at_s=0.0))
    board.run_until(0.1)
    assert board.send(b"F83 Q1\r\n") == []
    assert not any("R83" in line for line in board.run_until(1.0))
    assert board.command("F83 Q2").final == "R02 Q2"


# ----------------------------------------------------------------------- life-cycle


def test_a_command_is_echoed_with_its_cr_then_started_and_done_with_its_q(blank: Board) -> None:
    assert blank.send(b"F83 Q3\r\n") == [
        "R08 *F83 Q3\r*",
        "R01 Q3",
        "R83 6.6.26.I.genesisK16-52053ec8 Q3",
        "R02 Q3",
    ]


def test_q_defaults_to_0_and_is_reset_after_each_command(blank: Board) -> None:
    assert blank.command("F83 Q7").final == "R02 Q7"
    assert blank.command("F82").lines[1:] == ["R01 Q0", "R82 X0.00 Y0.00 Z0.00 Q0", "R02 Q0"]


def test_q_and_other_integer_arguments_are_truncated_like_atof(board: Board) -> None:
    exchange = board.command("G00 X12.4 Y0 Z-3.2 Q4.9")
    assert exchange.final == "R02 Q4"
    assert board.firmware.position_mm == pytest.approx((12.4, 0.0, -3.2))


def test_omitted_axes_mean_zero(board: Board) -> None:
    move(board, 100, 50, -20)
    board.command("G00 X10")
    assert board.firmware.position_mm == (10.0, 0.0, 0.0)


def test_a_lone_lf_is_ignored_and_a_lone_cr_is_an_invalid_command(blank: Board) -> None:
    assert blank.send(b"\n") == []
    assert blank.send(b"\r\n") == ["R08 *\r*", "R09 Q0"]


def test_a_line_longer_than_99_chars_is_cut_and_executed(blank: Board) -> None:
    lines = blank.send(b"F83 Q5" + b" " * 120)
    echo = lines[0]
    assert echo == "R08 *F83 Q5" + " " * 93 + "*"
    assert lines[1:] == ["R01 Q5", "R83 6.6.26.I.genesisK16-52053ec8 Q5", "R02 Q5"]


def test_e_anywhere_engages_estop_and_is_filtered_out_of_the_line(blank: Board) -> None:
    lines = blank.send(b"F8E3 Q2\r\n")
    assert blank.firmware.estopped
    assert lines[0] == "R08 *F83 Q2\r*"
    assert lines[-1] == "R02 Q2"  # F83 is allowed while locked


def test_lower_case_e_engages_estop_too(blank: Board) -> None:
    blank.send(b"e")
    assert blank.firmware.estopped


def test_commands_sent_back_to_back_are_lost_but_an_e_behind_them_is_not(blank: Board) -> None:
    lines = blank.send(b"F83 Q1\r\nF83 Q2\r\n")
    assert lines[-1] == "R02 Q1"
    assert not any("Q2" in line for line in lines + blank.run_for(1.0))
    blank.send(b"F83 Q3\r\nE")
    assert blank.firmware.estopped


def test_a_refused_command_does_not_flush_what_follows_it(board: Board) -> None:
    lines = board.send(b"G01 Q1\r\nF83 Q2\r\n")
    assert lines[1] == "R09 Q1"
    assert lines[-1] == "R02 Q2"


def test_a_lone_at_outside_a_move_is_an_invalid_command(blank: Board) -> None:
    assert blank.send(b"@\r\n") == ["R08 *@\r*", "R09 Q0"]


# ---------------------------------------------------------------------- gatekeeping


@pytest.mark.parametrize(
    "line",
    [
        "G01 X1 Q5",
        "F23 P1 V1 Q5",
        "F31 P1 Q5",
        "F32 P1 V1 Q5",
        "F01 Q5",
        "F02 Q5",
        "F51 Q5",
        "F52 Q5",
        "F99 Q5",
        "X12 Q5",
        "g00 X1 Q5",
        "hi Q5",
    ],
)
def test_unknown_or_unhandled_codes_are_answered_r09_alone(board: Board, line: str) -> None:
    assert board.command(line).lines == [f"R08 *{line}\r*", "R09 Q5"]


@pytest.mark.parametrize("line", ["G00 X1", "G0 X1", "G28", "G01 X1", "F11", "F14", "F16"])
def test_moves_are_refused_r88_until_the_configuration_is_approved(blank: Board, line: str) -> None:
    assert blank.command(f"{line} Q6").lines[1:] == ["R88 Q6"]
    assert blank.firmware.position_mm == (0, 0, 0)


@pytest.mark.parametrize("line", ["F09", "F20", "F21 P2", "F22 P5 V2", "F81", "F82", "F83"])
def test_only_unlock_params_and_reports_run_while_locked(board: Board, line: str) -> None:
    board.send(b"E")
    assert board.command(f"{line} Q4").final == "R02 Q4"


@pytest.mark.parametrize(
    "line", ["G00 X1", "G28", "F11", "F41 P7 V1", "F42 P7", "F44 P7", "F84 X1"]
)
def test_everything_else_is_refused_r87_while_locked(board: Board, line: str) -> None:
    board.send(b"E")
    assert board.command(f"{line} Q4").lines[1:] == ["R87 Q4"]


def test_the_lock_is_checked_before_the_configuration(blank: Board) -> None:
    blank.send(b"E")
    assert blank.command("G00 X1 Q2").lines[1:] == ["R87 Q2"]


# ------------------------------------------------------------------------ handlers


def test_f09_unlocks(board: Board) -> None:
    board.send(b"E")
    board.command("F09")
    assert not board.firmware.estopped
    move(board, 10)


def test_f20_lists_every_parameter_with_the_q(blank: Board) -> None:
    lines = blank.command("F20 Q8").lines
    assert lines[2:-2] == [f"R21 P{p} V{FIRMWARE_DEFAULTS[p]} Q8" for p in DUMPED_PARAMS]
    assert lines[-2:] == ["R20 Q8", "R02 Q8"]


def test_f21_reads_a_parameter(blank: Board) -> None:
    assert blank.command("F21 P71 Q2").lines[2:] == ["R21 P71 V400 Q2", "R02 Q2"]


def test_f21_of_an_invalid_id_says_so_and_still_succeeds(blank: Board) -> None:
    lines = blank.command("F21 P1 Q2").lines
    assert lines[2:] == ["R99 Error: invalid parameter id", "R02 Q2"]


def test_f22_writes_ram_and_eeprom_and_reads_back(blank: Board) -> None:
    assert blank.command("F22 P71 V300 Q2").lines[2:] == ["R21 P71 V300 Q2", "R02 Q2"]
    assert blank.firmware.params[71] == 300
    assert blank.firmware.eeprom[71] == 300


def test_f22_of_an_invalid_id_changes_nothing(blank: Board) -> None:
    lines = blank.command("F22 P150 V9 Q2").lines
    assert lines[2:] == ["R99 Error: invalid parameter id", "R02 Q2"]
    assert 150 not in blank.firmware.params
    assert 150 not in blank.firmware.eeprom


def test_f41_writes_digital_and_analog_pins(board: Board) -> None:
    board.command("F41 P13 V5 M0")
    board.command("F41 P10 V300 M1")
    assert board.firmware.pins == {13: 1, 10: 255}


def test_f42_reads_pins_and_inputs(board: Board) -> None:
    board.command("F41 P13 V1 M0")
    board.firmware.set_input(59, 512)
    assert board.command("F42 P13 M0 Q3").lines[2] == "R41 P13 V1 Q3"
    assert board.command("F42 P12 M0 Q3").lines[2] == "R41 P12 V0 Q3"
    assert board.command("F42 P59 M1 Q3").lines[2] == "R41 P59 V512 Q3"
    assert board.command("F42 P59 M0 Q3").lines[2] == "R41 P59 V1 Q3"


@pytest.mark.parametrize("line", ["F41 P0 V1", "F41 P70 V1", "F42 P70", "F43 P0 M1", "F44 P99"])
def test_pins_outside_1_to_69_are_an_invalid_command(board: Board, line: str) -> None:
    assert board.command(f"{line} Q3").final == "R03 V14 Q3"


def test_f43_sets_the_pin_mode(board: Board) -> None:
    board.command("F43 P13 M2")
    assert board.firmware.pin_modes == {13: 2}


def test_f44_holds_the_pin_for_t_ms_and_runs_meanwhile(board: Board) -> None:
    assert board.send(b"F44 P9 V1 W0 T1500 M0 Q4\r\n")[1:] == ["R01 Q4"]
    assert board.firmware.pins[9] == 1
    assert board.firmware.busy
    board.run_for(1.49)
    assert board.firmware.pins[9] == 1
    assert board.send(b"@F83 Q5\r\n") == []  # neither an abort nor a command
    assert board.run_for(0.02) == ["R02 Q4"]
    assert board.firmware.pins[9] == 0


def test_f61_moves_servos_on_servo_pins_only(board: Board) -> None:
    board.command("F61 P4 V90")
    assert board.firmware.servo_angles_deg == {4: 90}
    assert board.command("F61 P7 V90 Q2").final == "R03 V14 Q2"
    assert board.command("F61 P5 V181 Q2").final == "R03 V14 Q2"


def test_f81_prints_home_then_the_end_stops_then_four_pins(board: Board) -> None:
    board.firmware.set_input(10, 1)
    lines = board.command("F81 Q2").lines
    assert lines[2:] == [
        "home",
        "R81 XA1 XB0 YA1 YB0 ZA1 ZB0 Q2",
        "R41 P8 V0 Q2",
        "R41 P9 V0 Q2",
        "R41 P10 V1 Q2",
        "R41 P13 V0 Q2",
        "R02 Q2",
    ]


def test_f81_sees_the_far_end_stop(board: Board) -> None:
    board.firmware.set_travel_mm(Axis.Y, 1000)
    move(board, 100, 1000, -10)
    assert board.command("F81 Q2").lines[3] == "R81 XA0 XB0 YA0 YB1 ZA0 ZB0 Q2"


def test_f82_reports_the_position_with_two_decimals(board: Board) -> None:
    move(board, 12.4, 0, -3.2)
    assert board.command("F82 Q5").lines[2] == "R82 X12.40 Y0.00 Z-3.20 Q5"


def test_f83_names_version_board_and_build() -> None:
    board = booted(board="R.genesisK12", version="6.6.23")
    assert board.command("F83 Q1").lines[2] == "R83 6.6.23.R.genesisK12-52053ec8 Q1"


def test_f84_zeroes_the_chosen_axes(board: Board) -> None:
    move(board, 100, 200, -50)
    lines = board.command("F84 X1 Y0 Z1 Q3").lines
    assert lines[2:] == ["R99 Will zero X Z Q3", "R02 Q3"]
    assert board.firmware.position_mm == (0.0, 200.0, 0.0)


def test_g28_goes_to_zero_on_every_axis(board: Board) -> None:
    move(board, 100, 200, -50)
    duration_s = board.command("G28 Q2").duration_s
    assert board.firmware.position_mm == (0, 0, 0)
    expected_s = move_time_s(GENESIS, (100, 200, -50), (0, 0, 0))
    assert duration_s == pytest.approx(expected_s, rel=0.01)


@pytest.mark.parametrize(
    ("code", "axis", "start"), [("F11", "X", (100, 50, 0)), ("F13", "Z", (0, 50, -50))]
)
def test_find_home_crawls_to_zero_at_homing_speed(
    board: Board, code: str, axis: str, start: tuple[float, float, float]
) -> None:
    move(board, *start)
    exchange = board.command(f"{code} Q3")
    index = "XYZ".index(axis)
    distance_steps = abs(start[index]) * (25 if axis == "Z" else 5)
    assert exchange.duration_s == pytest.approx(distance_steps / 400)
    assert f"R1{index + 1} Q3" in exchange.lines
    expected = list(start)
    expected[index] = 0
    assert board.firmware.position_mm == tuple(expected)


def test_calibration_runs_to_the_far_end_and_back_and_reports_the_length(board: Board) -> None:
    board.firmware.set_travel_mm(Axis.X, 1000)
    exchange = board.command("F14 Q3")
    calibration = [line for line in exchange.lines if line.startswith(("R06", "R23", "R02"))]
    assert calibration == ["R06 X2 Q3", "R06 X1 Q3", "R23 P141 V5000 Q3", "R06 X0 Q3", "R02 Q3"]
    assert exchange.duration_s == pytest.approx(2 * 5000 / 400)
    assert board.firmware.params[141] == 5000
    assert board.firmware.eeprom[141] == 5000
    assert board.firmware.position_mm == (0, 0, 0)


def test_calibrating_z_runs_down_into_negative_coordinates(board: Board) -> None:
    board.firmware.set_travel_mm(Axis.Z, 200)
    board.send(b"F16 Q3\r\n")
    board.wait_for(lambda line, _: line == "R06 Z1 Q3", limit_s=60)
    assert board.firmware.position_mm == (0, 0, -200)
    assert board.wait_for(lambda line, _: line == "R23 P143 V5000 Q3", limit_s=60)


def test_travel_must_be_positive(board: Board) -> None:
    with pytest.raises(SimulatorError, match="positive"):
        board.firmware.set_travel_mm(Axis.X, 0)


# ------------------------------------------------------------------- motion timing

UP_FAST = GENESIS.model_copy(
    update={
        "z_toward_home": AxisMotion(
            steps_per_mm=25,
            min_speed_steps_s=80,
            max_speed_steps_s=600,
            ramp_steps=200,
            home_speed_steps_s=400,
        )
    }
)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ((0, 0, 0), (0.2, 0, 0)),  # one step
        ((0, 0, 0), (10, 0, 0)),  # triangle
        ((0, 0, 0), (119, 0, 0)),  # just short of two full ramps
        ((0, 0, 0), (120, 0, 0)),  # exactly two ramps
        ((0, 0, 0), (500, 0, 0)),  # trapezoid
        ((0, 0, 0), (2900, 1230, 0)),  # corner to corner
        ((100, 100, 0), (100, 100, -100)),  # Z down
        ((100, 100, -100), (100, 100, 0)),  # Z up, with its own settings
        ((100, 100, -300), (110, 100, -20)),  # Z is the slowest axis
    ],
)
def test_move_duration_matches_the_planner_within_1_percent(
    start: tuple[float, float, float], end: tuple[float, float, float]
) -> None:
    board = booted()
    board.configure(UP_FAST)
    move(board, *start)
    assert move(board, *end) == pytest.approx(move_time_s(UP_FAST, start, end), rel=0.01)
    assert board.firmware.position_mm == pytest.approx(end)


@pytest.mark.parametrize("percent", [10, 50, 75])
def test_axis_speeds_a_b_c_slow_each_axis_like_the_planner(percent: int) -> None:
    board = booted()
    board.configure(UP_FAST)
    move(board, 0, 0, -200)
    start, end = (0, 0, -200), (300, 200, -20)
    speeds = f"A{4 * percent} B{4 * percent} C{6 * percent}"  # Z goes up: 600 steps/s max
    expected_s = move_time_s(UP_FAST, start, end, speed_percent=percent)
    assert move(board, *end, extra=speeds) == pytest.approx(expected_s, rel=0.01)


@pytest.mark.parametrize("speeds", ["A400", "A500", "A0", "A-5"])
def test_axis_speeds_outside_0_to_max_are_ignored(board: Board, speeds: str) -> None:
    expected_s = move_time_s(GENESIS, (0, 0, 0), (300, 0, 0))
    assert move(board, 300, extra=speeds) == pytest.approx(expected_s, rel=0.01)


@settings(max_examples=60, deadline=None)
@given(
    start_steps=st.tuples(st.integers(0, 14500), st.integers(0, 6150), st.integers(-12500, 0)),
    end_steps=st.tuples(st.integers(0, 14500), st.integers(0, 6150), st.integers(-12500, 0)),
    percent=st.integers(25, 100),  # slower would outlast the 180 s movement timeout
)
def test_any_move_lasts_what_the_planner_predicts(
    start_steps: tuple[int, int, int], end_steps: tuple[int, int, int], percent: int
) -> None:
    board = booted()
    board.configure(UP_FAST)
    start = (start_steps[0] / 5, start_steps[1] / 5, start_steps[2] / 25)
    end = (end_steps[0] / 5, end_steps[1] / 5, end_steps[2] / 25)
    move(board, *start)
    z_max = 600 if end[2] > start[2] else 400
    speeds = f"A{4 * percent} B{4 * percent} C{z_max * percent // 100}"
    duration_s = move(board, *end, extra=speeds)
    assert duration_s == pytest.approx(move_time_s(UP_FAST, start, end, percent), rel=0.01)
    assert board.firmware.position_mm == pytest.approx(end)


def test_a_trapezoid_reports_starting_accelerating_cruising_decelerating_idle(board: Board) -> None:
    lines = board.command("G00 X500 Y50 Z0 Q7").lines
    assert lines[2:5] == ["R05 X1 Q7", "R05 Y1 Q7", "R05 Z1 Q7"]
    assert states_of(lines, "X") == [1, 2, 3, 4, 0]
    assert states_of(lines, "Y") == [1, 2, 4, 0]  # 250 steps: a triangle
    assert states_of(lines, "Z") == [1, 0]
    assert lines[-5:] == [
        "R82 X500.00 Y50.00 Z0.00 Q7",
        "R05 X0 Q7",
        "R05 Y0 Q7",
        "R05 Z0 Q7",
        "R02 Q7",
    ]


def test_a_move_reports_running_and_its_live_position_every_interval(board: Board) -> None:
    exchange = board.command("G00 X500 Y0 Z0 Q7")
    running = [i for i, line in enumerate(exchange.lines) if line == "R04 Q7"]
    assert len(running) == int(exchange.duration_s / 0.25)
    assert all(exchange.lines[i + 1].startswith("R82 X") for i in running)
    positions = x_positions(exchange.lines)
    assert positions == sorted(positions)
    assert 0 < positions[0] < positions[-2] < 500


def test_the_report_interval_is_settable() -> None:
    board = booted(report_interval_s=1.0)
    board.configure()
    exchange = board.command("G00 X500 Y0 Z0 Q7")
    assert exchange.lines.count("R04 Q7") == int(exchange.duration_s)


def test_bytes_sent_during_a_move_are_dropped(board: Board) -> None:
    board.send(b"G00 X200 Y0 Z0 Q3\r\n")
    board.run_for(0.5)
    assert board.send(b"F83 Q4\r\nF8") == []
    board.wait_for(lambda line, _: line == "R02 Q3", limit_s=60)
    assert board.send(b"F83 Q5\r\n")[0] == "R08 *F83 Q5\r*"


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("target", "clamped_line", "used"),
    [
        ((-10, 0, 0), "R15 X0.00 Q2", (0, 0, 0)),
        ((0, 0, 10), "R17 Z0.00 Q2", (0, 0, 0)),
        ((5000, 0, 0), "R15 X2900.00 Q2", (2900, 0, 0)),
        ((0, 2000, 0), "R16 Y1230.00 Q2", (0, 1230, 0)),
        ((0, 0, -600), "R17 Z-500.00 Q2", (0, 0, -500)),
    ],
)
def test_software_limits_clamp_the_destination_and_say_so(
    board: Board, target: tuple[float, float, float], clamped_line: str, used: tuple[float, ...]
) -> None:
    lines = board.command(f"G00 X{target[0]} Y{target[1]} Z{target[2]} Q2").lines
    assert lines[2] == clamped_line
    assert board.firmware.position_mm == used


def test_without_software_limits_nothing_is_clamped() -> None:
    board = booted()
    board.command("F22 P2 V1")
    lines = board.command("G00 X-10 Y0 Z10 Q2").lines
    assert not any(line.startswith(("R15", "R17")) for line in lines)
    assert board.firmware.position_mm == (-10, 0, 10)


# ------------------------------------------------------------------ e-stop and abort


def start_long_move(board: Board) -> None:
    board.send(b"G00 X1000 Y0 Z0 Q9\r\n")
    board.run_for(2.0)


def test_estop_mid_move_locks_freezes_and_releases_pins_and_servos(board: Board) -> None:
    board.command("F41 P7 V1 M0")
    board.command("F61 P4 V90")
    start_long_move(board)
    stopped_at = board.firmware.position_mm
    assert 0 < stopped_at[0] < 1000
    lines = board.send(b"E")
    assert lines[0] == "R87 Q9"
    assert lines[-1] == "R03 V1 Q9"
    assert f"R82 X{stopped_at[0]:.2f} Y0.00 Z0.00 Q9" in lines
    board.run_for(30)
    assert board.firmware.position_mm == stopped_at
    assert board.firmware.pins[7] == 0
    assert board.firmware.servo_angles_deg == {}
    assert board.firmware.estopped


def test_after_an_estop_moves_are_refused_until_unlocked(board: Board) -> None:
    start_long_move(board)
    board.firmware.press_estop(board.now_s)
    assert board.run_for(0)[-1] == "R03 V1 Q9"
    assert board.command("G00 X0 Q10").lines[1:] == ["R87 Q10"]
    board.command("F09")
    move(board, 0)
    assert board.firmware.position_mm == (0, 0, 0)


def test_estop_while_idle_shows_in_the_next_idle_report(board: Board) -> None:
    board.command("F41 P7 V1 M0")
    assert board.send(b"E") == []
    assert board.firmware.pins[7] == 0
    assert board.run_for(0.5) == ["R87 Q0", "R82 X0.00 Y0.00 Z0.00 Q0"]


def test_abort_stops_the_move_without_locking(board: Board) -> None:
    start_long_move(board)
    stopped_at = board.firmware.position_mm
    lines = board.send(b"@")
    assert lines[0] == "R86 Q9"
    assert lines[-1] == "R03 V5 Q9"
    board.run_for(10)
    assert board.firmware.position_mm == stopped_at
    assert not board.firmware.estopped
    move(board, 0)


# ----------------------------------------------------------------------- idle reports


@pytest.mark.parametrize(
    ("board_name", "period_s"),
    [("R.genesisK12", 5.0), ("F.genesisK13", 5.0), ("I.genesisK16", 0.5), ("D.expressK11", 0.5)],
)
def test_idle_reports_come_at_the_board_s_cadence(board_name: str, period_s: float) -> None:
    board = booted(board=board_name)
    board.run_for(3 * period_s)
    times = [time_s for time_s, line in board.log if line == "R00 Q0"]
    assert len(times) >= 2
    assert all(
        later - earlier == pytest.approx(period_s) for earlier, later in itertools.pairwise(times)
    )


def test_an_explicit_idle_period_wins() -> None:
    board = booted(idle_report_s=2.0)
    board.run_for(6.0)
    times = [time_s for time_s, line in board.log if line == "R00 Q0"]
    assert times == pytest.approx([1.3, 3.3, 5.3])


def test_idle_reports_say_position_and_missing_configuration(blank: Board) -> None:
    assert blank.run_for(0.5) == ["R00 Q0", "R82 X0.00 Y0.00 Z0.00 Q0", "R88 Q0"]


def test_a_configured_board_reports_idle_without_r88(board: Board) -> None:
    assert board.run_for(0.5) == ["R00 Q0", "R82 X0.00 Y0.00 Z0.00 Q0"]


def test_serial_input_postpones_the_idle_report(blank: Board) -> None:
    blank.run_until(0.31)  # an idle report went out at 0.3
    blank.run_until(0.5)
    blank.send(b"F8")
    assert blank.run_until(0.99) == []
    assert blank.run_until(1.0)[0] == "R00 Q0"


def test_a_clock_jump_merges_the_idle_reports_it_skipped(board: Board) -> None:
    """A host that jumps a simulated night ahead gets two reports, not 172,800."""
    board.run_for(1.0)
    night_end_s = board.now_s + 86_400.0
    sent = board.firmware.advance(night_end_s).decode()
    assert sent.count("R00 Q0") == 2  # the first one due, and one as the jump ends
    assert board.firmware.advance(night_end_s + 0.49).decode() == ""
    assert board.firmware.advance(night_end_s + 0.5).decode().count("R00 Q0") == 1


def test_report_periods_must_be_positive() -> None:
    with pytest.raises(SimulatorError, match="positive"):
        VirtualFarmduino(report_interval_s=0)


# ------------------------------------------------------------------- eeprom, reboot


def test_parameters_survive_a_reboot_only_when_the_eeprom_is_in_use(blank: Board) -> None:
    blank.command("F22 P71 V500")
    blank.firmware.reboot(blank.now_s)
    blank.run_for(1.0)
    assert blank.firmware.params[71] == 400
    assert blank.firmware.eeprom[71] == 500
    blank.command("F22 P3 V1")
    blank.firmware.reboot(blank.now_s)
    startup = blank.run_for(1.0)
    assert blank.firmware.params[71] == 500
    assert "R21 P71 V500" in startup


def test_a_board_booting_from_an_approved_eeprom_is_configured() -> None:
    board = booted(eeprom={3: 1, 2: 1})
    assert board.firmware.configured
    move(board, 10)


def test_a_reboot_mid_move_loses_position_pins_and_the_command(board: Board) -> None:
    board.command("F41 P7 V1 M0")
    start_long_move(board)
    board.firmware.reboot(board.now_s)
    lines = board.run_for(1.0)
    assert lines[0] == "R99 Serial connection started"
    assert not any(line.startswith(("R02", "R03")) for line in lines)
    assert not board.firmware.busy
    assert board.firmware.position_mm == (0, 0, 0)
    assert board.firmware.pins == {}
    assert board.firmware.configured  # the Genesis configuration keeps USE_EEPROM = 1


# ---------------------------------------------------------------- fault injection


def test_an_injected_stall_is_retried_then_reported_on_its_axis(board: Board) -> None:
    board.firmware.inject_stall(Axis.X, at_mm=50)
    exchange = board.command("G00 X100 Y0 Z0 Q5")
    assert "R99 deactivate motor X due to missed steps" in exchange.lines
    assert exchange.lines.count("R07 Q5") == 2  # param 5 = 3 attempts in all
    assert exchange.final == "R03 V31 Q5"
    assert board.firmware.position_mm == (50, 0, 0)
    assert not board.firmware.estopped


def test_a_stall_waits_for_a_move_that_crosses_it_and_fires_once(board: Board) -> None:
    board.firmware.inject_stall(Axis.Y, at_mm=50)
    move(board, 0, 30)
    move(board, 0, 0)
    assert board.command("G00 X0 Y100 Z0 Q2").final == "R03 V32 Q2"
    assert board.firmware.position_mm == (0, 50, 0)
    assert board.command("G00 X0 Y100 Z0 Q2").final == "R02 Q2"


def test_a_stall_moving_toward_home_stops_at_the_obstacle(board: Board) -> None:
    move(board, 0, 0, -100)
    board.firmware.inject_stall(Axis.Z, at_mm=-40)
    assert board.command("G00 X0 Y0 Z0 Q2").final == "R03 V33 Q2"
    assert board.firmware.position_mm == (0, 0, -40)


def test_a_stall_without_retries_and_with_estop_on_error(board: Board) -> None:
    board.command("F22 P5 V1")
    board.command("F22 P4 V1")
    board.firmware.inject_stall(Axis.X, at_mm=10)
    exchange = board.command("G00 X100 Y0 Z0 Q5")
    assert "R07 Q5" not in exchange.lines
    assert exchange.final == "R03 V31 Q5"
    assert board.firmware.estopped


def test_an_injected_timeout_reports_the_axis_after_its_timeout_without_retry(board: Board) -> None:
    board.command("F22 P12 V7")
    board.firmware.inject_timeout(Axis.Y)
    exchange = board.command("G00 X0 Y100 Z0 Q6")
    assert exchange.duration_s == pytest.approx(7.0)
    assert exchange.lines[-7:-5] == ["R72", "R99 timeout Y axis"]
    assert "R07 Q6" not in exchange.lines
    assert exchange.final == "R03 V2 Q6"
    assert 0 < board.firmware.position_mm[1] < 100


def test_a_move_longer_than_its_timeout_times_out(board: Board) -> None:
    board.command("F22 P11 V2")
    exchange = board.command("G00 X1000 Y0 Z0 Q6")
    assert "R71" in exchange.lines
    assert exchange.final == "R03 V2 Q6"
    assert exchange.duration_s == pytest.approx(2.0)


def test_garbage_goes_out_at_the_next_advance(board: Board) -> None:
    firmware = board.firmware
    firmware.inject_garbage(b"\x00\xffjunk")
    assert firmware.next_event_s() == board.now_s
    assert firmware.advance(board.now_s) == b"\x00\xffjunk"


def test_a_dropped_reply_is_missing_once(board: Board) -> None:
    board.firmware.drop_next_reply(2)
    assert board.send(b"F83 Q1\r\n")[-1] == "R83 6.6.26.I.genesisK16-52053ec8 Q1"
    assert board.send(b"F83 Q2\r\n")[-1] == "R02 Q2"


# -------------------------------------------------------------------------- pin guard


def test_a_guarded_pin_left_active_is_forced_inactive_after_its_timeout(board: Board) -> None:
    board.command("F41 P8 V1 M0")  # pin guard 1: pin 8, 60 s, active high
    written_s = board.now_s
    board.run_until(written_s + 59.9)
    assert board.firmware.pins[8] == 1
    assert "R41 P8 V0 Q0" in board.run_until(written_s + 60.0)
    assert board.firmware.pins[8] == 0


def test_switching_a_guarded_pin_off_and_on_restarts_its_timeout(board: Board) -> None:
    board.command("F41 P8 V1 M0")
    board.run_for(30)
    board.command("F41 P8 V0 M0")
    board.run_for(10)
    board.command("F41 P8 V1 M0")
    board.run_for(59.9)
    assert board.firmware.pins[8] == 1
    board.run_for(0.2)
    assert board.firmware.pins[8] == 0


def test_an_active_low_guard_forces_its_pin_high(board: Board) -> None:
    board.command("F22 P203 V0")
    board.run_for(60.0)
    assert board.firmware.pins[8] == 1


# ------------------------------------------------------------------------- garbage

command_like = st.lists(
    st.sampled_from([b"G00 ", b"F22 P", b"F41 P", b"F44 P8 V1 T", b"X", b"Q", b"@", b"E", b"\r\n"])
    | st.binary(max_size=12),
    max_size=8,
).map(b"".join)


@settings(max_examples=150, deadline=None)
@given(
    chunks=st.lists(st.tuples(command_like, st.floats(0, 3)), max_size=10),
    configured=st.booleans(),
)
def test_garbage_never_crashes_and_every_reply_is_well_formed(
    chunks: list[tuple[bytes, float]], configured: bool
) -> None:
    board = booted()
    if configured:
        board.command("F22 P2 V1")
    for data, pause_s in chunks:
        board.send(data)
        board.run_for(pause_s)
    for _, line in board.log:
        # Echoes repeat the host's bytes; a negative Q is repeated as faithfully as the
        # real firmware does, and no host sends one.
        if line.startswith("R08 ") or " Q-" in line:
            continue
        try:
            decode_line(line)
        except ProtocolError as error:
            raise AssertionError(f"malformed firmware line {line!r}") from error
