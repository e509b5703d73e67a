"""Controller fixtures: a simulated Genesis on a real pseudo-terminal, driven by a Gantry,
on a clock 200 times faster than real time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller.gantry import Gantry
from controller.link import SerialLink
from potager.clock import ScaledClock
from potager.robots import get_profile
from sim.pty import PtyFirmware
from sim.serve import firmware_for

PROFILE = get_profile("genesis")
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
