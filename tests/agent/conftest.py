"""A real Mosquitto broker of the test's own (`sim.broker`), on a free port, that a test can
stop and start. Missing `mosquitto` fails the tests under CI=true and skips them elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from potager.db import make_engine, session_factory, upgrade_database
from sim.broker import Broker, mosquitto_binary
from tests.conftest import unavailable
from web.inbox import Inbox
from web.ingest import Ingestor

__all__ = ["Broker", "running_broker"]

BROKER_WAIT_S = 40.0
"""A client's reconnect back-off can reach several seconds."""


def running_broker(folder: Path) -> Iterator[Broker]:
    """A broker of the test's own (not yet started), stopped at the end; missing
    `mosquitto` fails under CI=true, skips elsewhere."""
    binary = mosquitto_binary()
    if binary is None:
        unavailable("mosquitto is not installed (make test installs it)")
    running = Broker(binary, folder)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    yield from running_broker(tmp_path)


@pytest.fixture
def inbox(database_url: str) -> Inbox:
    upgrade_database(database_url)
    return Inbox(session_factory(make_engine(database_url)))


@pytest.fixture
def ingestor(inbox: Inbox, broker: Broker) -> Iterator[Ingestor]:
    broker.start()
    with Ingestor(inbox, broker.settings, client_id=f"server-{broker.port}") as running:
        assert running.wait_ready(BROKER_WAIT_S)
        yield running
