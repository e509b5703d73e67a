"""The main job on embedded defaults: a simulated robot driven through a real serial link.

A virtual Farmduino runs on a pseudo-terminal with a sped-up clock; the controller opens
that port with pyserial exactly as it would a robot's USB cable, uploads the configuration,
finds home, then visits a row of plants and waters each one with a valve pulse. Every
action is printed with the robot's clock, so what the robot did can be read afterwards.
"""

from __future__ import annotations

import itertools
import sys
import time
from typing import TextIO

from controller.gantry import Gantry
from controller.link import SerialLink
from planner.motion import move_time_s
from potager.clock import ScaledClock
from potager.robots import AXES, Coordinate, RobotProfile, get_profile
from sim.serve import simulated_robots

WATERING_S = 2.0
PLANT_Z_MM = -100.0


def demo_stops(profile: RobotProfile, count: int = 6) -> list[Coordinate]:
    """Plants along two rows across the middle of the bed, in serpentine order."""
    columns = (count + 1) // 2
    step_x_mm = profile.length_x_mm / (columns + 1)
    rows_y_mm = (profile.length_y_mm / 3, 2 * profile.length_y_mm / 3)
    first = [Coordinate(step_x_mm * (i + 1), rows_y_mm[0], PLANT_Z_MM) for i in range(columns)]
    second = [Coordinate(step_x_mm * (i + 1), rows_y_mm[1], PLANT_Z_MM) for i in range(columns)]
    return (first + second[::-1])[:count]


class _Journal:
    """Prints what the robot did, stamped with the robot's clock."""

    def __init__(self, clock: ScaledClock, out: TextIO) -> None:
        self._clock, self._out = clock, out
        self._origin_s = clock.now_s()

    @property
    def elapsed_s(self) -> float:
        return self._clock.now_s() - self._origin_s

    def say(self, text: str) -> None:
        print(f"[{self.elapsed_s:7.1f} s] {text}", file=self._out, flush=True)


def run_demo(
    profile_name: str = "genesis-xl", time_scale: float = 50.0, out: TextIO | None = None
) -> dict[str, float]:
    """Run the demo and return its figures (stops, travel, robot and wall seconds)."""
    out = out or sys.stdout
    profile = get_profile(profile_name)
    clock = ScaledClock(time_scale)
    wall_start_s = time.monotonic()
    with simulated_robots(profile, 1, clock) as (robot,):
        print(
            f"Potager demo: a simulated {profile.name} robot on {robot.port} "
            f"(clock x{time_scale:g})",
            file=out,
        )
        journal = _Journal(clock, out)
        with Gantry(SerialLink(robot.port, clock=clock), profile) as gantry:
            journal.say(f"connected: firmware {gantry.firmware_version}, configuration uploaded")
            for axis in AXES[::-1]:
                gantry.find_home(axis)
                journal.say(f"found home on {axis.upper()}")
            travel_mm = 0.0
            stops = demo_stops(profile)
            for number, stop in enumerate(stops, start=1):
                path = _safe_z_path(gantry.position, stop, profile)
                predicted_s = sum(move_time_s(profile, a, b) for a, b in itertools.pairwise(path))
                departed_s = journal.elapsed_s
                gantry.move_to(*stop, safe_z=True)
                travel_mm += sum(_distance_mm(a, b) for a, b in itertools.pairwise(path))
                journal.say(
                    f"plant {number}/{len(stops)}: at X {stop.x_mm:.0f} Y {stop.y_mm:.0f} "
                    f"Z {stop.z_mm:.0f} after {journal.elapsed_s - departed_s:.1f} s of travel "
                    f"(motion model: {predicted_s:.1f} s)"
                )
                gantry.pulse_pin(profile.water_valve_pin, WATERING_S)
                journal.say(f"watered {WATERING_S:g} s (valve pin {profile.water_valve_pin})")
            gantry.go_home()
            journal.say("back home")
            valve_closed = gantry.read_pin(profile.water_valve_pin) == 0
            robot_s = journal.elapsed_s
    wall_s = time.monotonic() - wall_start_s
    print(
        f"Done: {len(stops)} plants watered, {travel_mm / 1000:.2f} m travelled, "
        f"{robot_s:.0f} s of robot time in {wall_s:.1f} s; valve closed: "
        f"{'yes' if valve_closed else 'NO'}",
        file=out,
    )
    return {"stops": len(stops), "travel_mm": travel_mm, "robot_s": robot_s, "wall_s": wall_s}


def _safe_z_path(start: Coordinate, stop: Coordinate, profile: RobotProfile) -> list[Coordinate]:
    """Up to the safe height, across, down: the corners of a safe-Z move."""
    safe = profile.safe_z_mm
    return [start, start._replace(z_mm=safe), stop._replace(z_mm=safe), stop]


def _distance_mm(a: Coordinate, b: Coordinate) -> float:
    return float(sum((p - q) ** 2 for p, q in zip(a, b, strict=True)) ** 0.5)
