"""Link and simulator figures: round trip over the pty, loopback throughput, move timing.

References, measured in the same run:
- round trip: the bare pseudo-terminal (a thread answering the same four lines with plain
  os.read/os.write), so the ratio shows what our link stack adds; target <= 2 ms beyond the
  firmware's own time (the simulator's own time for F83 is zero);
- loopback: the 10,000 commands/s target;
- move timing: the closed-form ramp formula of reference section 2.2 (planner.motion),
  target within 1 %.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
import tty

from controller.link import LoopbackLink, SerialLink
from controller.params import profile_configuration
from controller.protocol import Move, ReadVersion
from planner.motion import move_time_s
from potager.clock import SystemClock, VirtualClock
from potager.robots import get_profile
from sim.serve import firmware_for, simulated_robots

ROUND_TRIPS = 2000
LOOPBACK_COMMANDS = 20000
REPLY = b"R08 *F83 Q1\r*\r\nR01 Q1\r\nR83 6.6.26.I.genesisK16 Q1\r\nR02 Q1\r\n"


def _percentiles_ms(samples_s: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_s)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def bare_pty_round_trip_s() -> list[float]:
    """The reference: one request line out, four reply lines back, nothing else."""
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            data = os.read(master, 256)
            if b"\n" in data:
                os.write(master, REPLY)

    threading.Thread(target=answer, daemon=True).start()
    samples = []
    for _ in range(ROUND_TRIPS):
        start = time.perf_counter()
        os.write(slave, b"F83 Q1\r\n")
        received = b""
        while received.count(b"\n") < 4:
            received += os.read(slave, 256)
        samples.append(time.perf_counter() - start)
    stop.set()
    os.write(slave, b"\n")
    os.close(slave)
    return samples


def link_round_trip_s() -> list[float]:
    profile = get_profile("genesis")
    clock = SystemClock()
    with (
        simulated_robots(profile, 1, clock) as (robot,),
        SerialLink(robot.port, clock=clock) as link,
    ):
        samples = []
        for _ in range(ROUND_TRIPS):
            start = time.perf_counter()
            link.execute(ReadVersion())
            samples.append(time.perf_counter() - start)
    return samples


def loopback_commands_per_s() -> float:
    link = LoopbackLink(firmware_for(get_profile("genesis")), VirtualClock()).open()
    start = time.perf_counter()
    for _ in range(LOOPBACK_COMMANDS):
        link.execute(ReadVersion())
    return LOOPBACK_COMMANDS / (time.perf_counter() - start)


MOVES = [
    ("genesis", (0, 0, 0), (10, 0, 0)),
    ("genesis", (0, 0, 0), (100, 0, 0)),
    ("genesis", (0, 0, 0), (1000, 0, 0)),
    ("genesis", (0, 0, 0), (2900, 1200, 0)),
    ("genesis", (0, 0, 0), (0, 0, -100)),
    ("genesis", (0, 0, -400), (0, 0, 0)),
    ("express", (0, 0, 0), (0, 900, 0)),
    ("express", (0, 0, 0), (2000, 300, -50)),
]


def simulated_move_s(
    profile_name: str, start: tuple[float, float, float], end: tuple[float, float, float]
) -> float:
    """Clock seconds from sending a G00 to its R02, on the simulator through loopback."""
    profile = get_profile(profile_name)
    clock = VirtualClock()
    link = LoopbackLink(firmware_for(profile), clock)
    link.set_configuration(profile_configuration(profile))
    link.open()
    if start != (0, 0, 0):
        link.execute(Move(*start), timeout_s=600)
    began_s = clock.now_s()
    link.execute(Move(*end), timeout_s=600)
    return clock.now_s() - began_s


def main() -> bool:
    ok = True
    reference = bare_pty_round_trip_s()
    ours = link_round_trip_s()
    (ref_median, ref_p99), (our_median, our_p99) = _percentiles_ms(reference), _percentiles_ms(ours)
    print(f"\n== round trip over a pseudo-terminal, F83, {ROUND_TRIPS} commands")
    print(f"{'':24}{'median ms':>11}{'p99 ms':>9}")
    print(f"{'bare pty (reference)':24}{ref_median:11.3f}{ref_p99:9.3f}")
    print(f"{'SerialLink + simulator':24}{our_median:11.3f}{our_p99:9.3f}")
    print(
        f"ratio to reference: median {our_median / ref_median:.1f}x, p99 {our_p99 / ref_p99:.1f}x;"
        f" target median <= 2 ms: {'met' if our_median <= 2 else 'MISSED'}"
    )
    ok &= our_median <= 2

    rate = loopback_commands_per_s()
    print(f"\n== loopback throughput, F83, {LOOPBACK_COMMANDS} commands")
    print(
        f"{rate:,.0f} commands/s; target 10,000/s, ratio {rate / 10000:.2f}: "
        f"{'met' if rate >= 10000 else 'MISSED'}"
    )
    ok &= rate >= 10000

    print("\n== simulated move time vs the closed-form formula (reference 2.2)")
    print(f"{'profile':12}{'from':>22}{'to':>22}{'formula s':>11}{'sim s':>9}{'error %':>9}")
    worst = 0.0
    for name, start, end in MOVES:
        formula = move_time_s(get_profile(name), start, end)
        simulated = simulated_move_s(name, start, end)
        error = (simulated - formula) / formula * 100
        worst = max(worst, abs(error))
        print(f"{name:12}{start!s:>22}{end!s:>22}{formula:11.3f}{simulated:9.3f}{error:9.2f}")
    print(f"worst error {worst:.2f} %; target within 1 %: {'met' if worst <= 1 else 'MISSED'}")
    ok &= worst <= 1
    return ok
