"""Fixtures: virtual Farmduinos booted and read, blank or configured like a Genesis."""

from __future__ import annotations

import pytest

from tests.sim.harness import Board, booted


@pytest.fixture
def blank() -> Board:
    """A freshly booted board: firmware defaults, not configured."""
    return booted()


@pytest.fixture
def board() -> Board:
    """A board configured as the controller configures a Genesis."""
    configured = booted()
    configured.configure()
    return configured
