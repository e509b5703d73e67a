"""In real headless Chromium: a student's sequence with a mistake shown at its line, then
dry-run; a student runs a saved sequence on the robot their teacher assigned and watches
it, the teacher sees it in the class view; an operator presses the emergency stop during a
simulated robot's job and sees it stop (the robot is a simulated Farmduino on a real
pseudo-terminal)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from potager.cli_web import simulated_hub
from tests.web.conftest import Seeded, serving
from web.accounts import Account, Accounts, Role
from web.app import create_app
from web.classroom import Classroom

PASSWORD = "correct horse battery"
OVER_THERE = "name: over there\nsteps:\n  - {kind: move, x: 300, y: 200, z: 0}\n"


@pytest.fixture
def robot_server(seeded: Seeded) -> Iterator[str]:
    """The seeded app with one simulated robot of the seeded trial's site, served; lou is
    in tess's class, with that robot assigned and a sequence saved."""
    with simulated_hub(seeded.url, 1, "Lycée agricole", time_scale=5.0) as hub:
        app = create_app(seeded.url, hub)
        accounts: Accounts = app.state.services.accounts
        classroom: Classroom = app.state.services.classroom
        site_id = hub.status("sim-1").site_id
        accounts.create_user("olga", PASSWORD, Role.OPERATOR, site_id)
        lou = accounts.create_user("lou", PASSWORD, Role.STUDENT)
        tess = accounts.create_user("tess", PASSWORD, Role.TEACHER, site_id)
        classroom.enrol(lou, tess)
        classroom.assign(Account(tess, "tess", Role.TEACHER, site_id), lou, "sim-1", site_id)
        classroom.save(lou, "over there", OVER_THERE, "genesis", True)
        with serving(app) as base_url:
            yield base_url


PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


def _signed_in_page(
    browser: Browser, base_url: str, name: str, viewport: ViewportSize | None = None
) -> Page:
    page = browser.new_page(viewport=viewport)
    _sign_in(page, base_url, name)
    return page


def _sign_in(page: Page, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}/")


def test_a_students_mistake_is_shown_at_its_line_then_the_sequence_dry_runs(
    browser: Browser, robot_server: str, artifacts: Path
) -> None:
    page = _signed_in_page(browser, robot_server, "lou")
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
    page = _signed_in_page(browser, robot_server, "olga", PHONE)
    page.goto(f"{robot_server}/robots")
    robot = page.locator('[data-robot="sim-1"]')
    robot.locator(".move input[name=x_mm]").fill("2000")
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


def test_a_student_runs_a_saved_sequence_on_their_robot_and_the_teacher_sees_it(
    browser: Browser, robot_server: str, artifacts: Path
) -> None:
    phone = _signed_in_page(browser, robot_server, "lou", PHONE)
    phone.goto(f"{robot_server}/editor")
    row = phone.locator('[data-sequence="over there"]')
    expect(row).to_contain_text("yes")
    phone.screenshot(path=artifacts / "editor-saved-phone.png", full_page=True)
    row.get_by_role("button", name="Run on robot").click()
    expect(phone).to_have_url(f"{robot_server}/robots")
    robot = phone.locator('[data-robot="sim-1"]')
    expect(robot.locator('[data-field="log"]')).to_contain_text(
        "done: sequence 'over there' by lou", timeout=15_000
    )  # pushed live
    at_300_200 = re.compile(r"X 300(\.0)? · Y 200(\.0)? ")
    expect(robot.locator('[data-field="position"]')).to_contain_text(at_300_200)
    expect(robot.locator('[data-field="job"]')).to_have_text("idle")
    expect(robot.locator(".water-form")).to_have_count(0)  # students do not drive
    expect(phone.locator("#estop-sim-1")).to_be_visible()  # but may stop what they started
    phone.screenshot(path=artifacts / "robots-student-run-phone.png", full_page=True)
    phone.close()
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = _signed_in_page(browser, robot_server, "tess", viewport)
        page.get_by_role("link", name="My class").click()
        student = page.locator('[data-student="lou"]')
        expect(student.locator('[data-robot="sim-1"]')).to_be_visible()
        expect(student.locator('[data-sequence="over there"]')).to_contain_text("done · sim-1")
        page.screenshot(path=artifacts / f"class-{name}.png", full_page=True)
        page.close()
