"""Network robots on the server's robots page and API: a robot on duty elsewhere (a
simulated Farmduino on a real pty, its own SQLite store) reports through a real Mosquitto;
its site's operator pauses, resumes, stops and runs its sequences from the API and from
real headless Chromium; nobody else may."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from controller.action_journal import JobRun
from potager.db import make_engine, session_factory
from tests.agent.conftest import Broker
from tests.agent.test_agent import ROBOT, OnDuty, record_measurements, robot_on_duty
from tests.agent.test_store_and_forward import WAIT_S, eventually
from tests.web.conftest import Seeded, serving
from trials.store import SiteIn, TrialStore
from web.accounts import Role
from web.app import create_app
from web.network_server import ServerNetwork
from web.robots import RobotHub

PASSWORD = "correct horse battery"


@dataclass
class Network:
    app: FastAPI
    robot: OnDuty

    def client(self, name: str) -> tuple[TestClient, str]:
        client = TestClient(self.app)
        assert client.post("/login", data={"name": name, "password": PASSWORD}).status_code == 200
        found = re.search(r'name="csrf" value="([^"]+)"', client.get("/robots").text)
        return client, found.group(1) if found else ""


@pytest.fixture
def network(seeded: Seeded, broker: Broker, tmp_path: Path) -> Iterator[Network]:
    """The seeded server with a broker connection, and robot greenhouse-1 of site lyon
    reporting to it; olga operates lyon, otto another site."""
    broker.start()
    hub = RobotHub()
    app = create_app(seeded.url, hub)
    services = app.state.services
    trials: TrialStore = services.trials
    lyon = trials.create_site(SiteIn(name="lyon"))
    services.accounts.create_user("olga", PASSWORD, Role.OPERATOR, lyon)
    services.accounts.create_user("otto", PASSWORD, Role.OPERATOR, trials.site_id("Lycée agricole"))
    sessions = session_factory(make_engine(seeded.url))
    with (
        ServerNetwork(sessions, broker.settings, hub, tmp_path / "photos") as server,
        robot_on_duty(tmp_path, broker.settings) as robot,
    ):
        assert server.ingestor.wait_ready(WAIT_S)
        assert eventually(lambda: ROBOT in hub.ids())
        yield Network(app, robot)


def test_the_sites_operator_steers_a_network_robot_through_the_api(network: Network) -> None:
    olga, _ = network.client("olga")
    (status,) = olga.get("/api/robots").json()
    assert status["network"] and status["site"] == "lyon"
    assert status["sequences"] == ["water lettuces"]
    scheduler, gantry = network.robot.duty.scheduler, network.robot.duty.gantry

    assert olga.post(f"/api/robots/{ROBOT}/pause").status_code == 202
    assert eventually(lambda: scheduler.pause_reason == "paused by olga")
    assert eventually(lambda: olga.get("/api/robots").json()[0]["paused"] == "paused by olga")
    ran = olga.post(f"/api/robots/{ROBOT}/run", params={"name": "water lettuces"})
    assert ran.status_code == 202
    assert eventually(lambda: network.robot.count(JobRun) == 1)
    assert eventually(lambda: "command run_sequence: done" in "".join(_log(olga)))

    moved = olga.post(f"/api/robots/{ROBOT}/move", params={"x_mm": 100})
    assert moved.status_code == 422 and "reports over the network" in moved.json()["detail"]
    unknown = olga.post(f"/api/robots/{ROBOT}/run", params={"name": "weed"})
    assert unknown.status_code == 422 and "its sequences: water lettuces" in unknown.text
    assert olga.post(f"/api/robots/{ROBOT}/estop").status_code == 202
    assert eventually(lambda: gantry.estopped)


def test_another_sites_operator_may_watch_but_not_steer(network: Network) -> None:
    otto, _ = network.client("otto")
    assert [status["robot_id"] for status in otto.get("/api/robots").json()] == [ROBOT]
    for command in ("pause", "resume", "unlock", "estop"):
        assert otto.post(f"/api/robots/{ROBOT}/{command}").status_code == 403, command
    assert not network.robot.duty.scheduler.paused and not network.robot.duty.gantry.estopped


def test_the_operator_pauses_and_resumes_from_the_robots_page_in_chromium(
    network: Network, browser: Browser, artifacts: Path
) -> None:
    with serving(network.app) as base_url:
        page = browser.new_page()
        page.goto(f"{base_url}/login")
        page.fill("input[name=name]", "olga")
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{base_url}/robots")
        box = page.locator(f'[data-robot="{ROBOT}"]')
        expect(box).to_contain_text("on the network, site lyon")
        page.click(f"#pause-{ROBOT}")
        expect(box.locator('[data-field="paused"]')).to_contain_text("paused by olga")
        assert network.robot.duty.scheduler.pause_reason == "paused by olga"
        page.screenshot(path=artifacts / "network-robot-paused.png", full_page=True)
        page.click(f"#resume-{ROBOT}")
        expect(box.locator('[data-field="paused"]')).to_have_text("")
        expect(box.locator('[data-field="log"]')).to_contain_text("command resume: done")
        assert not network.robot.duty.scheduler.paused


def _log(client: TestClient) -> list[str]:
    log: list[str] = client.get("/api/robots").json()[0]["log"]
    return log


def test_what_could_not_be_applied_is_listed_for_the_robots_operator(network: Network) -> None:
    record_measurements(network.robot)  # for trials this server does not have
    olga, _ = network.client("olga")
    path = f"/api/robots/{ROBOT}/unapplied"

    def listed() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = olga.get(path).json()
        return found

    assert eventually(lambda: len(listed()) == 4)
    assert sorted(item["kind"] for item in listed()) == ["observation"] * 3 + ["photo"]
    assert all("no trial named" in item["problem"] for item in listed())
    assert "not applied: observation" in "".join(_log(olga))
    otto, _ = network.client("otto")
    assert otto.get(path).status_code == 403
