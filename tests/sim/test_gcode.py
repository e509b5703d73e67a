"""Reading command lines as the firmware does: lenient tokens, atof numbers (reference 1.1)."""

from __future__ import annotations

import pytest

from sim.gcode import parse_command


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"G00", "G0"),
        (b"G0", "G0"),
        (b"F09", "F9"),
        (b"F83\r", "F83"),
        (b"G28 Q3", "G28"),
        (b"g00", ""),
        (b"X10", ""),
        (b"G", ""),
        (b"F123", ""),
        (b"", ""),
        (b" \r", ""),
    ],
)
def test_the_code_is_g_or_f_and_a_number(line: bytes, code: str) -> None:
    assert parse_command(line).code == code


def test_xyz_stay_millimetres_and_everything_else_is_truncated() -> None:
    command = parse_command(b"G00 X-12.75 Y3 Z.5 A150.9 P-3.9 Q17.99\r")
    assert (command.mm("X"), command.mm("Y"), command.mm("Z")) == (-12.75, 3.0, 0.5)
    assert (command.whole("A"), command.whole("P"), command.q) == (150, -3, 17)


def test_numbers_are_read_like_atof() -> None:
    command = parse_command(b"F22 P71abc V+12x Wfoo")
    assert (command.whole("P"), command.whole("V"), command.whole("W")) == (71, 12, 0)


def test_omitted_values_and_q_read_as_zero() -> None:
    command = parse_command(b"G00 X5")
    assert (command.mm("Y"), command.mm("Z"), command.q) == (0.0, 0.0, 0)


def test_the_last_of_a_repeated_letter_wins() -> None:
    assert parse_command(b"G00 X1 X2").mm("X") == 2.0


def test_non_ascii_bytes_never_raise() -> None:
    assert parse_command(b"\xff\xfe G00 \x00X1").code == ""
