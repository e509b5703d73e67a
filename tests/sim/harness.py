"""A test's hands on a virtual Farmduino: bytes in, clock jumps from event to event, lines out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.params import profile_configuration
from potager.robots import RobotProfile, get_profile
from sim.firmware import VirtualFarmduino

GENESIS = get_profile("genesis")
ENDINGS = ("R02", "R03", "R09")
REFUSALS = ("R87", "R88")


@dataclass(frozen=True)
class Exchange:
    """What one command brought back, up to and including its final reply."""

    lines: list[str]
    sent_s: float
    ended_s: float

    @property
    def duration_s(self) -> float:
        return self.ended_s - self.sent_s

    @property
    def final(self) -> str:
        return self.lines[-1]


class Board:
    """Drives a `VirtualFarmduino` on its own clock, keeping every line with its time."""

    def __init__(self, firmware: VirtualFarmduino, now_s: float = 0.0) -> None:
        self.firmware = firmware
        self.now_s = now_s
        self.log: list[tuple[float, str]] = []

    def run_until(self, time_s: float) -> list[str]:
        """Let the firmware run to `time_s`; the lines it sent meanwhile."""
        start = len(self.log)
        while (next_s := self.firmware.next_event_s()) is not None and next_s <= time_s:
            self._collect(next_s)
        self._collect(time_s)
        return self.lines_since(start)

    def run_for(self, duration_s: float) -> list[str]:
        return self.run_until(self.now_s + duration_s)

    def send(self, data: bytes) -> list[str]:
        """Bytes from the host, now; the lines the firmware answered at once."""
        start = len(self.log)
        self.firmware.receive(data, self.now_s)
        self._collect(self.now_s)
        return self.lines_since(start)

    def command(self, line: str, limit_s: float = 600.0) -> Exchange:
        """Send `line` (CR LF added) and run until its final reply."""
        start, sent_s = len(self.log), self.now_s
        self.send(line.encode("ascii") + b"\r\n")
        ended_s = self.wait_for(_ends_command, limit_s, since=start)
        lines = self.lines_since(start)
        end = next(i for i, text in enumerate(lines) if _ends_command(text, lines[:i]))
        return Exchange(lines[: end + 1], sent_s, ended_s)

    def wait_for(
        self, wanted: Callable[[str, list[str]], bool], limit_s: float, since: int | None = None
    ) -> float:
        """Run event by event until a line (given the lines before it) is `wanted`; its time."""
        start = len(self.log) if since is None else since
        deadline_s = self.now_s + limit_s
        while True:
            lines = self.lines_since(start)
            for index, text in enumerate(lines):
                if wanted(text, lines[:index]):
                    return self.log[start + index][0]
            next_s = self.firmware.next_event_s()
            if next_s is None or next_s > deadline_s:
                raise AssertionError(f"nothing wanted within {limit_s} s; got {lines}")
            self._collect(next_s)

    def lines_since(self, start: int) -> list[str]:
        return [text for _, text in self.log[start:]]

    def configure(self, profile: RobotProfile = GENESIS) -> None:
        """What the controller uploads on connection, approval last."""
        for param, value in profile_configuration(profile):
            assert self.command(f"F22 P{param} V{value}").final == "R02 Q0"

    def _collect(self, time_s: float) -> None:
        self.now_s = max(self.now_s, time_s)
        sent = self.firmware.advance(self.now_s)
        self.log.extend((self.now_s, line.decode("latin-1")) for line in split_lines(sent))


def split_lines(sent: bytes) -> list[bytes]:
    """Firmware output into lines; every line ends in CR LF, an echo may hold a CR inside."""
    assert not sent or sent.endswith(b"\r\n"), sent
    return sent.split(b"\r\n")[:-1]


def _ends_command(text: str, before: list[str]) -> bool:
    """R02/R03/R09 end a command; R87/R88 do when they answer its echo instead of R01."""
    if text.startswith(ENDINGS):
        return any(line.startswith("R08") for line in before)
    return text.startswith(REFUSALS) and bool(before) and before[-1].startswith("R08")


def booted(**options: Any) -> Board:
    """A board whose startup output is already read, at clock time 0."""
    firmware = VirtualFarmduino(boot_at_s=-1.0, **options)
    board = Board(firmware, now_s=-1.0)
    board.run_until(0.0)
    return board
