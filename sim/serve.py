"""Simulated robots for people: firmwares on pseudo-terminals that any program can open.

`potager sim firmware` runs these so a student can try `potager robot --port ...` or
FarmBot-compatible tools without hardware.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TextIO

from potager.clock import Clock, ScaledClock
from potager.robots import AXES, RobotProfile, get_profile
from sim.firmware import MOVE_REPORT_S, VirtualFarmduino
from sim.pty import PtyFirmware


def firmware_for(
    profile: RobotProfile, boot_at_s: float = 0.0, report_interval_s: float = MOVE_REPORT_S
) -> VirtualFarmduino:
    """A blank Farmduino of the profile's board on a bed of the profile's real size.

    `boot_at_s` is the clock time it is powered on: the clock's present, or the firmware
    would report every idle period since clock time 0 at once.
    """
    firmware = VirtualFarmduino(
        board=profile.board, boot_at_s=boot_at_s, report_interval_s=report_interval_s
    )
    for axis in AXES:
        firmware.set_travel_mm(axis, profile.length_mm(axis))
    return firmware


@contextlib.contextmanager
def simulated_robots(
    profile: RobotProfile, count: int, clock: Clock
) -> Iterator[list[PtyFirmware]]:
    """`count` simulated robots on their own pseudo-terminals, stopped on exit."""
    robots = [
        PtyFirmware(firmware_for(profile, boot_at_s=clock.now_s()), clock).start()
        for _ in range(count)
    ]
    try:
        yield robots
    finally:
        for robot in robots:
            robot.stop()


def serve_firmwares(profile_name: str, count: int, time_scale: float, out: TextIO) -> None:
    """Run `count` simulated robots until interrupted, printing one port per line."""
    profile = get_profile(profile_name)
    with simulated_robots(profile, count, ScaledClock(time_scale)) as robots:
        for robot in robots:
            print(robot.port, file=out, flush=True)
        print(
            f"{count} simulated {profile.name} firmware(s) running; Ctrl-C stops.",
            file=out,
            flush=True,
        )
        threading.Event().wait()
