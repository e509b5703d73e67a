"""Robots from the web: live status, control limited to the operator's own site, and an
emergency stop that stops a job in the middle of a move (simulated robots on real ptys)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from potager.cli_web import simulated_hub
from potager.db import make_engine, session_factory, upgrade_database
from trials.store import SiteIn, TrialStore
from web.accounts import Role
from web.app import create_app
from web.robots import RobotHub

PASSWORD = "correct horse battery"


class Farm:
    def __init__(self, url: str, hub: RobotHub) -> None:
        self.hub, self.app = hub, create_app(url, hub)
        svc = self.app.state.services
        store: TrialStore = svc.trials
        self.home_site = store.site_id("Home farm")
        assert self.home_site is not None
        other_site = store.create_site(SiteIn(name="Other farm"))
        accounts = svc.accounts
        accounts.create_user("op-home", PASSWORD, Role.OPERATOR, self.home_site)
        accounts.create_user("op-other", PASSWORD, Role.OPERATOR, other_site)
        accounts.create_user("viewer", PASSWORD, Role.VIEWER)

    def signed_in(self, name: str) -> tuple[TestClient, str]:
        client = TestClient(self.app)
        assert client.post("/login", data={"name": name, "password": PASSWORD}).status_code == 200
        page = client.get("/robots").text
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        return client, found.group(1) if found else ""


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[Farm]:
    url = f"sqlite:///{tmp_path / 'web.sqlite3'}"
    upgrade_database(url)
    TrialStore(session_factory(make_engine(url))).create_site(SiteIn(name="Home farm"))
    with simulated_hub(url, 1, "Home farm", time_scale=20.0) as hub:
        yield Farm(url, hub)


def wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_everyone_signed_in_sees_the_robots_status(farm: Farm) -> None:
    client, _ = farm.signed_in("viewer")
    page = client.get("/robots").text
    assert "Simulated robot 1" in page and "X 0.0 · Y 0.0 · Z 0.0 mm" in page
    assert 'id="estop-sim-1"' not in page  # a viewer gets no controls
    (status,) = client.get("/api/robots").json()
    assert status["robot_id"] == "sim-1" and status["job"] is None


def test_only_the_sites_operator_may_drive_it(farm: Farm) -> None:
    other, csrf = farm.signed_in("op-other")
    assert 'id="estop-sim-1"' not in other.get("/robots").text
    refused = other.post("/robots/sim-1/move", data={"x_mm": 100, "csrf": csrf})
    assert refused.status_code == 403 and "another site" in refused.text
    viewer, csrf = farm.signed_in("viewer")
    assert viewer.post("/robots/sim-1/estop", data={"csrf": csrf}).status_code == 403
    home, csrf = farm.signed_in("op-home")
    assert home.post("/robots/sim-1/move", data={"x_mm": 100}).status_code == 403  # no CSRF
    moved = home.post("/robots/sim-1/move", data={"x_mm": 100, "y_mm": 50, "csrf": csrf})
    assert moved.status_code == 200
    wait_for(lambda: farm.hub.status("sim-1").job is None)
    status = farm.hub.status("sim-1")
    assert (status.x_mm, status.y_mm) == (100.0, 50.0)
    assert any("done: move to 100.0, 50.0, None" in line for line in status.log)


def test_the_emergency_stop_stops_a_job_in_the_middle_of_a_move(farm: Farm) -> None:
    client, csrf = farm.signed_in("op-home")
    assert client.post("/robots/sim-1/move", data={"x_mm": 2000, "csrf": csrf}).status_code == 200
    wait_for(lambda: farm.hub.status("sim-1").x_mm > 50)  # under way
    busy = client.post("/robots/sim-1/home", data={"csrf": csrf})
    assert busy.status_code == 409 and "move to 2000.0" in busy.text
    assert client.post("/robots/sim-1/estop", data={"csrf": csrf}).status_code == 200
    wait_for(lambda: farm.hub.status("sim-1").job is None)
    status = farm.hub.status("sim-1")
    assert status.estopped and status.x_mm < 2000
    assert any("failed: move to 2000.0" in line for line in status.log)
    stopped_at = status.x_mm
    time.sleep(0.3)
    assert farm.hub.status("sim-1").x_mm == stopped_at  # it stays stopped
    assert client.post("/robots/sim-1/unlock", data={"csrf": csrf}).status_code == 200
    assert not farm.hub.status("sim-1").estopped


def test_the_event_stream_pushes_the_status(farm: Farm) -> None:
    client, _ = farm.signed_in("viewer")
    with client.stream("GET", "/robots/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                assert '"robot_id": "sim-1"' in line
                break
