"""Web fixtures: a seeded trial database, the app on it, a live server and a real browser.

The seeded database is built once per test session (migrations and an Argon2 hash take a
while) and copied for each test, so a test that shares or revokes a link cannot leak into
another. It holds one RCBD trial, 4 varieties x 4 blocks, with two numeric variables whose
means differ clearly by variety, and a researcher with a password and an API token.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, sync_playwright

from potager.db import make_engine, session_factory, upgrade_database
from tests.agent.conftest import Broker, running_broker
from tests.conftest import unavailable
from trials.design import Factor, rcbd
from trials.plots import BedArea, lay_out
from trials.store import ObservationIn, TrialStore, VariableIn, store_laid_out_trial
from web.accounts import Accounts, Role
from web.app import create_app

VARIETIES = ["Ambre", "Bora", "Corail", "Dune"]
# Means per variety, far apart next to the block effect, so the ANOVA finds them.
HEIGHT_MM = {"Ambre": 180.0, "Bora": 240.0, "Corail": 300.0, "Dune": 360.0}
LEAF_AREA_CM2 = {"Ambre": 90.0, "Bora": 70.0, "Corail": 50.0, "Dune": 30.0}
BLOCK_SHIFT = {1: -6.0, 2: 2.0, 3: 5.0, 4: -1.0}
OBSERVED_AT = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Seeded:
    """A seeded database and the secrets to get in."""

    url: str
    trial_id: int
    trial_name: str
    variables: tuple[str, str]
    user: str
    password: str
    api_token: str


def seed_database(url: str) -> Seeded:
    """Migrate the database at `url` and fill it with the trial and the researcher."""
    upgrade_database(url)
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        store = TrialStore(sessions)
        trial_id = _store_trial(store, "Variétés de laitue 2026")
        accounts = Accounts(sessions)
        user_id = accounts.create_user("alice", "correct horse battery", Role.RESEARCHER)
        token = accounts.issue_api_token(user_id, "tests")
    finally:
        engine.dispose()
    return Seeded(
        url=url,
        trial_id=trial_id,
        trial_name="Variétés de laitue 2026",
        variables=("height", "leaf_area"),
        user="alice",
        password="correct horse battery",
        api_token=token,
    )


def _store_trial(store: TrialStore, name: str) -> int:
    book = rcbd(Factor("variety", VARIETIES), 4, seed=20260415)
    rectangles = lay_out(book, BedArea(0, 0, 3000, 1500), 600, 300)
    trial_id = store_laid_out_trial(
        store, name=name, site="Lycée agricole", bed="A", bed_size_mm=(3000, 1500),
        book=book, rectangles=rectangles,
    )  # fmt: skip
    store.define_variable(trial_id, VariableIn(name="height", unit="mm", minimum=0))
    store.define_variable(trial_id, VariableIn(name="leaf_area", unit="cm2", minimum=0))
    store.record_observations(
        [
            ObservationIn(
                trial_id=trial_id, plot=plot.plot, variable=variable, value=means[plot.treatment]
                + BLOCK_SHIFT[plot.block or 1] + (plot.plot % 3), observed_at=OBSERVED_AT,
                recorder_kind="robot", recorder="bot-1", source="camera",
            )
            for plot in book.plots
            for variable, means in (("height", HEIGHT_MM), ("leaf_area", LEAF_AREA_CM2))
        ]
    )  # fmt: skip
    return trial_id


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    path = tmp_path_factory.mktemp("seeded") / "potager.sqlite3"
    return seed_database(f"sqlite:///{path}")


@pytest.fixture
def seeded(seeded_template: Seeded, tmp_path: Path) -> Seeded:
    """This test's own copy of the seeded database."""
    copy = tmp_path / "potager.sqlite3"
    shutil.copyfile(seeded_template.url.removeprefix("sqlite:///"), copy)
    return replace(seeded_template, url=f"sqlite:///{copy}")


@pytest.fixture
def seeded_url(seeded: Seeded) -> str:
    return seeded.url


@pytest.fixture
def app(seeded_url: str) -> FastAPI:
    return create_app(seeded_url)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port; its base URL."""
    with serving(app) as base_url:
        yield base_url


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """uvicorn serving `app` on 127.0.0.1 in a daemon thread, stopped on exit; its base URL."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.01)
        host, port = listener.getsockname()
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def _chromium() -> str:
    found = shutil.which("chromium")
    if found is None:
        unavailable("Debian's chromium is not installed (make test installs it)")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium driven by Playwright (its own browser download is not used)."""
    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go, for a person (or CI) to look at."""
    folder = Path(os.environ.get("POTAGER_ARTIFACTS", "test-artifacts")) / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A Mosquitto of the test's own (`tests.agent.conftest`), not yet started."""
    yield from running_broker(tmp_path)
