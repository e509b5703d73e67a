"""Database fixtures: tests that take `database_url` run on SQLite and on PostgreSQL.

SQLite is a fresh file per test. PostgreSQL is the local server (`POTAGER_TEST_POSTGRES_URL`,
default postgres@127.0.0.1:5432): one database is created for the test session, emptied
before each test and dropped at the end. Without a server the PostgreSQL cases fail under
CI=true, so that CI cannot go green on SQLite alone, and skip with the reason elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy.exc import OperationalError

from potager.db import SCRATCH_ADMIN_URL, execute_autocommit, scratch_postgres_database


def unavailable(reason: str) -> NoReturn:
    """A service a test needs is missing: under CI=true the test fails (CI must not go
    green without it), elsewhere it is skipped with the reason."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: it is required)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of its own for this test session, dropped afterwards."""
    try:
        scratch = scratch_postgres_database("potager_test")
        with scratch as url:
            yield url
    except OperationalError as error:  # the server is not there (CREATE DATABASE failed)
        unavailable(f"no PostgreSQL at {SCRATCH_ADMIN_URL}: {error.orig}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'potager.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    execute_autocommit(url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    return url


SIM_TIME_SCALE = "200"
"""The simulated firmware's clock speed-up in command-line tests (`potager ... --time-scale`)."""


@pytest.fixture
def sim_port() -> Iterator[str]:
    """A simulated Farmduino (`potager sim firmware`, its own process) on a pseudo-terminal."""
    server = subprocess.Popen(
        [sys.executable, "-m", "potager", "sim", "firmware", "--profile", "genesis",
         "--time-scale", SIM_TIME_SCALE],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert server.stdout is not None
    try:
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        server.wait(10)
