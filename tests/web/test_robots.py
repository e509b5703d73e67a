"""Robots from the web: live status, control limited to the operator's own site, an
emergency stop that stops a job in the middle of a move, watering a plant and running a
sequence (simulated robots on real ptys)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.gantry import Gantry
from controller.link import SerialLink
from potager.cli_web import simulated_hub
from potager.clock import ScaledClock
from potager.db import make_engine, session_factory, upgrade_database
from potager.farm import Farm as FarmMap
from potager.farm import Plant, Tool, ToolSlot
from potager.robots import get_profile
from sim.pty import PtyFirmware
from sim.serve import simulated_robots
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


LETTUCE = Plant(name="lettuce 1", x_mm=500, y_mm=300, z_mm=-200)
GARDEN = FarmMap(
    plants=[LETTUCE],
    tool_slots=[
        ToolSlot(tool=Tool.WATERING_NOZZLE, x_mm=6, y_mm=100, z_mm=-340, flow_rate_ml_s=25)
    ],
)


@pytest.fixture
def garden(tmp_path: Path) -> Iterator[tuple[Farm, PtyFirmware]]:
    """A robot that knows its garden, and its simulated firmware (to watch the valve)."""
    url = f"sqlite:///{tmp_path / 'web.sqlite3'}"
    upgrade_database(url)
    site_id = TrialStore(session_factory(make_engine(url))).create_site(SiteIn(name="Home farm"))
    profile, clock = get_profile("genesis"), ScaledClock(20.0)
    with (
        simulated_robots(profile, 1, clock) as (robot,),
        Gantry(SerialLink(robot.port, clock=clock), profile) as gantry,
    ):
        hub = RobotHub()
        hub.add("sim-1", "Simulated robot 1", site_id, gantry, GARDEN)
        yield Farm(url, hub), robot


def test_an_operator_waters_a_plant_the_valve_opens_over_it_then_closes(
    garden: tuple[Farm, PtyFirmware],
) -> None:
    farm, robot = garden
    valve = farm.hub.profile("sim-1").water_valve_pin
    other, other_csrf = farm.signed_in("op-other")
    form = {"plant": "lettuce 1", "water_ml": 100}
    assert other.post("/robots/sim-1/water", data={**form, "csrf": other_csrf}).status_code == 403
    client, csrf = farm.signed_in("op-home")
    page = client.get("/robots").text
    assert (
        "<option>lettuce 1</option>" in page
        and 'name="x_mm" type="number" step="any" size="6" required' not in page
    )
    assert client.post("/robots/sim-1/water", data={**form, "csrf": csrf}).status_code == 200
    open_over: list[tuple[float, float]] = []

    def watch() -> bool:
        status = farm.hub.status("sim-1")
        if robot.firmware.pins.get(valve):
            open_over.append((status.x_mm, status.y_mm))
        return status.job is None

    wait_for(watch)
    assert open_over and set(open_over) == {(LETTUCE.x_mm, LETTUCE.y_mm)}
    assert robot.firmware.pins.get(valve, 0) == 0
    status = farm.hub.status("sim-1")
    assert any("done: water lettuce 1 with 100 ml" in line for line in status.log)
    assert (status.x_mm, status.y_mm) != (LETTUCE.x_mm, LETTUCE.y_mm)  # nozzle put back


def test_watering_through_the_api_is_checked_before_the_robot_moves(
    garden: tuple[Farm, PtyFirmware],
) -> None:
    farm, _ = garden
    client, _ = farm.signed_in("op-home")
    unknown = client.post("/api/robots/sim-1/water", json={"plant": "carrot", "water_ml": 50})
    assert unknown.status_code == 422 and "lettuce 1" in unknown.text
    both = {"plant": "lettuce 1", "x_mm": 10, "y_mm": 10, "water_ml": 50}
    assert client.post("/api/robots/sim-1/water", json=both).status_code == 422
    off_bed = client.post("/api/robots/sim-1/water", json={"x_mm": 9000, "y_mm": 10, "water_ml": 5})
    assert off_bed.status_code == 422
    too_much = client.post("/api/robots/sim-1/water", json={"plant": "lettuce 1", "water_ml": 1e6})
    assert too_much.status_code == 422
    assert farm.hub.status("sim-1").job is None
    started = client.post(
        "/api/robots/sim-1/water", json={"x_mm": 700, "y_mm": 400, "water_ml": 50}
    )
    assert started.status_code == 202 and started.json()["job"] == "water X 700 Y 400 with 50 ml"
    busy = client.post("/api/robots/sim-1/water", json={"plant": "lettuce 1", "water_ml": 50})
    assert busy.status_code == 409
    wait_for(lambda: farm.hub.status("sim-1").job is None)
    assert any("done: water X 700 Y 400" in line for line in farm.hub.status("sim-1").log)


def test_an_operator_runs_an_example_sequence_from_the_robots_page(farm: Farm) -> None:
    client, csrf = farm.signed_in("op-home")
    page = client.get("/robots").text
    assert 'value="example:water-lettuces"' in page
    assert (
        'name="plant"' not in page
        and 'name="x_mm" type="number" step="any" size="6" required' in page
    )  # a garden without plants: water by position
    form = {"sequence": "example:water-lettuces", "csrf": csrf}
    viewer, viewer_csrf = farm.signed_in("viewer")
    assert (
        viewer.post("/robots/sim-1/sequence", data={**form, "csrf": viewer_csrf}).status_code == 403
    )
    assert (
        client.post("/robots/sim-1/sequence", data={**form, "sequence": "../etc"}).status_code
        == 422
    )
    missing = client.post("/robots/sim-1/sequence", data={**form, "sequence": "example:nope"})
    assert missing.status_code == 404
    assert client.post("/robots/sim-1/sequence", data=form).status_code == 200
    assert farm.hub.status("sim-1").job == "sequence 'water-lettuces' by op-home"
    wait_for(lambda: farm.hub.status("sim-1").job is None, timeout_s=60)
    log = farm.hub.status("sim-1").log
    assert any("done: sequence 'water-lettuces'" in line for line in log), log
