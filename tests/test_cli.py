"""The `potager` command, run as a user would: separate processes, a simulated robot's port."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

POTAGER = [sys.executable, "-m", "potager"]


def potager(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*POTAGER, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def ports() -> Iterator[list[str]]:
    server = subprocess.Popen(
        [*POTAGER, "sim", "firmware", "--count", "2", "--time-scale", "100"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    found = [server.stdout.readline().strip() for _ in range(2)]
    try:
        yield found
    finally:
        server.terminate()
        server.wait(10)


def robot(port: str, *args: str) -> dict[str, object]:
    done = potager("robot", "--port", port, "--json", *args)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert isinstance(outcome, dict)
    return outcome


def test_help_lists_the_commands() -> None:
    done = potager("--help")
    assert done.returncode == 0
    for command in ("demo", "robot", "sim"):
        assert command in done.stdout


def test_sim_firmware_serves_several_robots(ports: list[str]) -> None:
    assert len(set(ports)) == 2
    info = robot(ports[0], "info")
    assert str(info["firmware_version"]).startswith("6.6.26")
    assert info["estopped"] is False


def test_move_and_pins_from_the_command_line(ports: list[str]) -> None:
    moved = robot(ports[1], "move", "100", "200", "-50", "--speed", "80")
    assert moved["position_mm"] == {"x_mm": 100.0, "y_mm": 200.0, "z_mm": -50.0}
    robot(ports[1], "pin-write", "10", "1")
    assert robot(ports[1], "pin-read", "10")["value"] == 1
    robot(ports[1], "find-home", "x")
    assert robot(ports[1], "go-home")["position_mm"] == {"x_mm": 0.0, "y_mm": 0.0, "z_mm": 0.0}


def test_human_output_is_readable(ports: list[str]) -> None:
    done = potager("robot", "--port", ports[0], "info")
    assert done.returncode == 0, done.stderr
    assert "firmware  6.6.26" in done.stdout
    assert "position  X" in done.stdout


def test_estop_blocks_moves_until_unlock(ports: list[str]) -> None:
    assert robot(ports[0], "estop")["estopped"] is True
    refused = potager("robot", "--port", ports[0], "move", "10", "10", "0")
    assert refused.returncode == 1
    assert "e-stopped; unlock it first" in refused.stderr
    assert robot(ports[0], "unlock")["estopped"] is False
    robot(ports[0], "move", "10", "10", "0")


def test_failures_exit_non_zero_with_a_clear_message(ports: list[str]) -> None:
    outside = potager("robot", "--port", ports[0], "move", "99999", "0", "0")
    assert outside.returncode == 1
    assert "X = 99999 mm is outside the bed" in outside.stderr
    assert "Traceback" not in outside.stderr
    missing = potager("robot", "--port", "/dev/does-not-exist", "--json", "info")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["ok"] is False
    assert "cannot open serial port /dev/does-not-exist" in missing.stderr


def test_a_reader_leaving_early_is_not_an_error(tmp_path: Path) -> None:
    # 20,000 indices of JSON overflow the 64 KB pipe, so the write really meets a closed pipe
    points = tmp_path / "points.csv"
    rows = "".join(f"{i % 5000},{i % 2000}\n" for i in range(20000))
    points.write_text("x_mm,y_mm\n" + rows)
    piped = subprocess.run(
        f"{sys.executable} -m potager plan tour {points} --order xy_ascending --json | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in piped.stderr
    assert "BrokenPipe" not in piped.stderr
