"""The virtual Farmduino on a real pseudo-terminal, opened with pyserial like a robot's cable."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from planner.motion import move_time_s
from potager.clock import ScaledClock
from potager.robots import get_profile
from sim.firmware import VirtualFarmduino
from sim.pty import PtyFirmware

SCALE = 200.0
IDLE = ("R00 Q0", "R82 X0.00 Y0.00 Z0.00 Q0", "R88 Q0")


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock(SCALE)


@pytest.fixture
def pty(clock: ScaledClock) -> Iterator[PtyFirmware]:
    with PtyFirmware(VirtualFarmduino(boot_at_s=-1.0), clock) as running:
        yield running


@pytest.fixture
def host(pty: PtyFirmware) -> Iterator[serial.Serial]:
    """A host that waited for the first idle report, so the boot output is behind it."""
    port = open_port(pty.port)
    read_until(port, b"R00 Q0")
    yield port
    port.close()


def open_port(path: str) -> serial.Serial:
    """Opening flushes what the board said while nobody listened (pyserial does that)."""
    return serial.Serial(path, 115200, timeout=1.0)


def read_until(port: serial.Serial, last: bytes, timeout_s: float = 2.0) -> list[bytes]:
    """Lines (CR LF removed) up to and including `last`, skipping idle reports."""
    lines: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = port.readline().removesuffix(b"\r\n")
        if line.decode("latin-1") not in IDLE and line:
            lines.append(line)
        if line == last:
            return lines
    raise AssertionError(f"no {last!r} within {timeout_s} s; got {lines}")


def test_a_command_round_trips_with_its_echo_and_q(host: serial.Serial) -> None:
    host.write(b"F83 Q1\r\n")
    assert read_until(host, b"R02 Q1") == [
        b"R08 *F83 Q1\r*",
        b"R01 Q1",
        b"R83 6.6.26.I.genesisK16-52053ec8 Q1",
        b"R02 Q1",
    ]


def test_round_trips_take_milliseconds(host: serial.Serial) -> None:
    round_trips_s = []
    for q in range(1, 21):
        sent = time.perf_counter()
        host.write(b"F82 Q%d\r\n" % q)
        read_until(host, b"R02 Q%d" % q)
        round_trips_s.append(time.perf_counter() - sent)
    assert statistics.median(round_trips_s) < 0.010  # the runner never polls: ~1 ms


def test_a_move_takes_its_time_on_the_scaled_clock(host: serial.Serial) -> None:
    host.write(b"F22 P2 V1 Q1\r\n")
    read_until(host, b"R02 Q1")
    host.write(b"G00 X1000 Y0 Z0 Q2\r\n")
    read_until(host, b"R01 Q2")
    started = time.monotonic()
    lines = read_until(host, b"R02 Q2")
    expected_wall_s = move_time_s(get_profile("genesis"), (0, 0, 0), (1000, 0, 0)) / SCALE
    assert time.monotonic() - started == pytest.approx(expected_wall_s, abs=0.03)
    assert b"R82 X1000.00 Y0.00 Z0.00 Q2" in lines


def test_the_port_is_a_stable_link_named_after_the_board(
    tmp_path: Path, clock: ScaledClock
) -> None:
    with (
        PtyFirmware(VirtualFarmduino(), clock, link_dir=tmp_path) as first,
        PtyFirmware(VirtualFarmduino(), clock, link_dir=tmp_path) as second,
    ):
        assert first.port == str(tmp_path / "ttyFARMDUINO0")
        assert second.port == str(tmp_path / "ttyFARMDUINO1")
        assert os.readlink(first.port).startswith("/dev/pts/")
    assert not os.path.lexists(first.port)


def test_the_pty_outlives_a_host_that_closes_and_reopens(pty: PtyFirmware) -> None:
    open_port(pty.port).close()
    time.sleep(0.02)
    port = open_port(pty.port)
    port.write(b"F83 Q4\r\n")
    assert read_until(port, b"R02 Q4")[-1] == b"R02 Q4"
    port.close()


def test_unplugging_fails_the_host_and_removes_the_port(
    pty: PtyFirmware, host: serial.Serial
) -> None:
    pty.unplug()
    with pytest.raises(serial.SerialException):
        host.read(10)
    with pytest.raises(serial.SerialException):
        host.write(b"F83\r\n")
    assert not os.path.lexists(pty.port)


def test_replugging_gives_a_rebooted_board_at_the_same_path(
    pty: PtyFirmware, host: serial.Serial
) -> None:
    host.write(b"F22 P2 V1 Q1\r\n")
    read_until(host, b"R02 Q1")
    old_terminal = os.readlink(pty.port)
    pty.unplug()
    pty.replug()
    assert os.readlink(pty.port) != old_terminal
    port = open_port(pty.port)
    read_until(port, b"R00 Q0")  # input is lost until the board has started
    port.write(b"F21 P2 Q2\r\n")
    assert b"R21 P2 V0 Q2" in read_until(port, b"R02 Q2")  # the approval died with the reset
    port.close()


def test_faults_injected_from_the_test_thread_reach_the_host(
    pty: PtyFirmware, host: serial.Serial
) -> None:
    with pty.locked() as firmware:
        firmware.inject_garbage(b"\x00junk R7\r\n")
    assert read_until(host, b"\x00junk R7", timeout_s=0.5)


def test_locked_brings_the_firmware_up_to_the_clock(pty: PtyFirmware, clock: ScaledClock) -> None:
    with pty.locked() as firmware:
        firmware.receive(b"F22 P2 V1\r\n", clock.now_s())
        firmware.receive(b"G00 X1000 Y0 Z0\r\n", clock.now_s())
    time.sleep(0.02)
    with pty.locked() as firmware:
        assert 0 < firmware.position_mm[0] < 1000


def test_stop_removes_a_private_link_directory(clock: ScaledClock) -> None:
    pty = PtyFirmware(VirtualFarmduino(), clock).start()
    link_dir = Path(pty.port).parent
    pty.stop()
    assert not link_dir.exists()
