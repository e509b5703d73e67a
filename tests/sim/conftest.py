"""Fixtures: virtual Farmduinos booted and read, blank or configured like a Genesis."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture(scope="session")
def sim_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of the simulator's vision models for every season test of the session."""
    return tmp_path_factory.mktemp("sim-models")
