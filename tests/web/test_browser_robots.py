"""In real headless Chromium: a student's sequence with a mistake shown at its line, then
dry-run; an operator presses the emergency stop during a simulated robot's job and sees
it stop (the robot is a simulated Farmduino on a real pseudo-terminal)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from potager.cli_web import simulated_hub
from tests.web.conftest import Seeded, serving
from web.accounts import Accounts, Role
from web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def robot_server(seeded: Seeded) -> Iterator[str]:
    """The seeded app with one simulated robot of the seeded trial's site, served."""
    with simulated_hub(seeded.url, 1, "Lycée agricole", time_scale=5.0) as hub:
        app = create_app(seeded.url, hub)
        accounts: Accounts = app.state.services.accounts
        site_id = hub.status("sim-1").site_id
        accounts.create_user("olga", PASSWORD, Role.OPERATOR, site_id)
        accounts.create_user("lou", PASSWORD, Role.STUDENT)
        with serving(app) as base_url:
            yield base_url


def _sign_in(page: Page, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}/")


def test_a_students_mistake_is_shown_at_its_line_then_the_sequence_dry_runs(
    browser: Browser, robot_server: str, artifacts: Path
) -> None:
    page = browser.new_page()
    _sign_in(page, robot_server, "lou")
    page.goto(f"{robot_server}/editor")
    text = page.locator("#text").input_value()
    page.fill("#text", text.replace("kind: mount_tool", "kind: mount_tol"))
    page.get_by_role("button", name="Check").click()
    problem = page.locator(".problem").first
    expect(problem).to_contain_text("mount_tool")
    bad_line = problem.get_attribute("data-line")
    assert bad_line is not None
    expect(page.locator(f'li[value="{bad_line}"] code')).to_contain_text("mount_tol")
    page.screenshot(path=artifacts / "editor-problem.png", full_page=True)
    page.fill("#text", text)
    page.get_by_role("button", name="Dry run on the simulator").click()
    expect(page.locator("#dry-run")).to_contain_text(re.compile(r"Predicted time [\d.]+ s"))
    expect(page.locator("#dry-run svg")).to_be_visible()
    page.close()


def test_the_emergency_stop_stops_a_running_job(
    browser: Browser, robot_server: str, artifacts: Path
) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    _sign_in(page, robot_server, "olga")
    page.goto(f"{robot_server}/robots")
    robot = page.locator('[data-robot="sim-1"]')
    robot.locator("input[name=x_mm]").fill("2000")
    robot.get_by_role("button", name="Move").click()
    job = page.locator('[data-robot="sim-1"] [data-field="job"]')
    expect(job).to_contain_text("move to 2000.0", timeout=10_000)  # pushed live
    page.locator("#estop-sim-1").click()
    state = page.locator('[data-robot="sim-1"] [data-field="estopped"]')
    expect(state).to_have_text("EMERGENCY STOP", timeout=10_000)
    expect(job).to_have_text("idle", timeout=10_000)
    expect(page.locator('[data-robot="sim-1"] [data-field="log"]')).to_contain_text(
        "failed: move to 2000.0"
    )
    position = page.locator('[data-robot="sim-1"] [data-field="position"]').inner_text()
    x_mm = float(re.search(r"X ([\d.]+)", position).group(1))  # type: ignore[union-attr]
    assert 0 < x_mm < 2000
    page.screenshot(path=artifacts / "robots-estop-phone.png", full_page=True)
    page.close()
