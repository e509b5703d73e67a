"""A teacher's class: robots assigned to students (only one's own students, only robots of
one's own site), saved sequences, and students running them only on their assigned robots
(a simulated robot on a real pty; one of another site on an in-process firmware)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.gantry import Gantry
from controller.link import LoopbackLink
from potager.cli_web import simulated_hub
from potager.db import make_engine, session_factory, upgrade_database
from potager.robots import get_profile
from sim.serve import firmware_for
from tests.web.test_robots import wait_for
from trials.store import SiteIn, TrialStore
from web.accounts import Accounts, Role
from web.app import create_app
from web.classroom import Classroom
from web.robots import RobotHub

PASSWORD = "correct horse battery"
EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
TO_300_200 = "name: over there\nsteps:\n  - {kind: move, x: 300, y: 200, z: 0}\n"
FAR_AWAY = "name: far away\nsteps:\n  - {kind: move, x: 2500, y: 0, z: 0}\n"


class School:
    """Two schools' robots on one server: sim-1 (a pty) at home, far-1 at the other school.

    tess teaches at home and has lou; theo (no site) has max; olga operates at home.
    """

    def __init__(self, url: str, hub: RobotHub, home: int, other: int) -> None:
        self.hub, self.app = hub, create_app(url, hub)
        accounts: Accounts = self.app.state.services.accounts
        self.classroom: Classroom = self.app.state.services.classroom
        roles = {
            "tess": (Role.TEACHER, home),
            "theo": (Role.TEACHER, None),
            "lou": (Role.STUDENT, None),
            "max": (Role.STUDENT, None),
            "olga": (Role.OPERATOR, home),
            "ada": (Role.ADMIN, None),
        }
        self.ids = {
            name: accounts.create_user(name, PASSWORD, role, site)
            for name, (role, site) in roles.items()
        }
        self.tokens = {name: accounts.issue_api_token(i, "tests") for name, i in self.ids.items()}
        self.classroom.enrol(self.ids["lou"], self.ids["tess"])
        self.classroom.enrol(self.ids["max"], self.ids["theo"])

    def bearer(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def api(self, name: str) -> TestClient:
        return TestClient(self.app, headers=self.bearer(name))

    def signed_in(self, name: str) -> tuple[TestClient, str]:
        client = TestClient(self.app)
        assert client.post("/login", data={"name": name, "password": PASSWORD}).status_code == 200
        found = re.search(r'name="csrf" value="([^"]+)"', client.get("/editor").text)
        assert found is not None
        return client, found.group(1)

    def assignment(self, student: str, robot_id: str) -> str:
        return f"/api/class/students/{self.ids[student]}/robots/{robot_id}"


@contextmanager
def open_school(url: str) -> Iterator[School]:
    upgrade_database(url)
    store = TrialStore(session_factory(make_engine(url)))
    home = store.create_site(SiteIn(name="Home school"))
    other = store.create_site(SiteIn(name="Other school"))
    profile = get_profile("genesis")
    with simulated_hub(url, 1, "Home school", time_scale=20.0) as hub:
        far = Gantry(LoopbackLink(firmware_for(profile)), profile).connect()
        hub.add("far-1", "Robot of the other school", other, far)
        yield School(url, hub, home, other)


@pytest.fixture
def school(database_url: str) -> Iterator[School]:
    """On SQLite and on PostgreSQL."""
    with open_school(database_url) as opened:
        yield opened


@pytest.fixture
def sqlite_school(tmp_path: Path) -> Iterator[School]:
    with open_school(f"sqlite:///{tmp_path / 'school.sqlite3'}") as opened:
        yield opened


def test_a_teacher_assigns_robots_to_their_own_students_of_their_own_site(school: School) -> None:
    tess, theo = school.api("tess"), school.api("theo")
    assert tess.put(school.assignment("lou", "sim-1")).status_code == 204
    refused = theo.put(school.assignment("lou", "sim-1"))  # not his class
    assert refused.status_code == 403 and "not in your class" in refused.text
    assert tess.put(school.assignment("max", "sim-1")).status_code == 403  # not hers
    other_site = tess.put(school.assignment("lou", "far-1"))
    assert other_site.status_code == 403 and "another site" in other_site.text
    assert theo.put(school.assignment("max", "far-1")).status_code == 204  # no site
    assert school.api("lou").put(school.assignment("lou", "sim-1")).status_code == 403
    assert school.api("olga").put(school.assignment("lou", "sim-1")).status_code == 403
    assert tess.put(school.assignment("lou", "nope")).status_code == 404
    assert school.api("ada").put(school.assignment("lou", "far-1")).status_code == 204
    (lou,) = tess.get("/api/class").json()
    assert (lou["name"], lou["robots"]) == ("lou", ["far-1", "sim-1"])
    assert [s["name"] for s in school.api("ada").get("/api/class").json()] == ["lou", "max"]
    assert tess.delete(school.assignment("lou", "far-1")).status_code == 204
    assert school.classroom.assigned_robots(school.ids["lou"]) == ["sim-1"]
    assert school.api("lou").get("/api/class").status_code == 403


def test_the_class_page_lists_the_teachers_students_and_assigns_by_form(school: School) -> None:
    client, csrf = school.signed_in("tess")
    form = {"student_id": school.ids["lou"], "robot_id": "sim-1", "action": "assign"}
    assert client.post("/class/robots", data=form).status_code == 403  # no CSRF token
    assert client.post("/class/robots", data={**form, "csrf": csrf}).status_code == 200
    refused = client.post("/class/robots", data={**form, "robot_id": "far-1", "csrf": csrf})
    assert refused.status_code == 403
    page = client.get("/class").text
    assert 'data-student="lou"' in page and 'data-student="max"' not in page
    assert '<span data-robot="sim-1">' in page and 'href="/class"' in page
    assert 'value="far-1"' not in page  # the other school's robot is not offered
    student, _ = school.signed_in("lou")
    assert student.get("/class").status_code == 403
    assert 'href="/class"' not in student.get("/editor").text


def test_students_save_open_and_list_their_own_sequences(school: School) -> None:
    client, csrf = school.signed_in("lou")
    saved = client.post(
        "/editor", data={"text": TO_300_200, "name": "over there", "action": "save", "csrf": csrf}
    ).text
    assert 'id="saved"' in saved and 'data-sequence="over there"' in saved
    broken = TO_300_200.replace("kind: move", "kind: mvoe")
    page = client.post(
        "/editor", data={"text": broken, "name": "over there", "action": "save", "csrf": csrf}
    ).text
    assert 'id="saved"' in page and 'id="problems"' in page  # kept, with its problems
    (mine,) = school.classroom.sequences(school.ids["lou"])
    assert (mine.name, mine.checks, mine.text) == ("over there", False, broken)
    unnamed = client.post("/editor", data={"text": broken, "action": "save", "csrf": csrf}).text
    assert 'id="save-error"' in unnamed
    opened = client.get(f"/editor?sequence={mine.id}").text
    assert "kind: mvoe" in opened and 'value="over there"' in opened
    other, _ = school.signed_in("max")
    assert other.get(f"/editor?sequence={mine.id}").status_code == 404
    api = school.api("max")
    done = api.post("/api/sequences", json={"name": "mine", "text": TO_300_200}).json()
    assert done["checks"] is True and done["problems"] == []
    bad = api.post("/api/sequences", json={"name": "bad", "text": broken}).json()
    assert bad["checks"] is False and "mvoe" in bad["problems"][0]
    assert [s["name"] for s in api.get("/api/sequences").json()] == ["bad", "mine"]
    assert api.get(f"/api/sequences/{mine.id}").status_code == 404  # lou's
    assert api.post("/api/sequences", json={"name": " ", "text": ""}).status_code == 422
    assert (
        api.post("/api/sequences", json={"name": "x", "text": "", "profile": "?"}).status_code
        == 422
    )


def test_a_student_runs_a_saved_sequence_only_on_an_assigned_robot(sqlite_school: School) -> None:
    school = sqlite_school
    lou = school.ids["lou"]
    sequence_id = school.classroom.save(lou, "over there", TO_300_200, "genesis", True)
    client, csrf = school.signed_in("lou")
    run = {"sequence_id": sequence_id, "robot_id": "sim-1", "csrf": csrf}
    assert client.post("/editor/run", data=run).status_code == 403  # not assigned yet
    body = {"sequence_id": sequence_id}
    assert school.api("lou").post("/api/robots/sim-1/sequence", json=body).status_code == 403
    assert 'action="/editor/run"' not in client.get("/editor").text
    assert school.api("tess").put(school.assignment("lou", "sim-1")).status_code == 204
    assert '<option value="sim-1">' in client.get("/editor").text
    started = client.post("/editor/run", data=run)
    assert started.status_code == 200 and started.url.path == "/robots"
    wait_for(lambda: school.hub.status("sim-1").job is None)
    status = school.hub.status("sim-1")
    assert (status.x_mm, status.y_mm) == (300.0, 200.0)
    assert any("done: sequence 'over there' by lou" in line for line in status.log)
    ran = school.classroom.sequence(lou, sequence_id)
    assert (ran.last_outcome, ran.last_robot_id) == ("done", "sim-1")
    teacher, _ = school.signed_in("tess")
    assert "done · sim-1" in teacher.get("/class").text
    max_client, max_csrf = school.signed_in("max")
    stranger = {"sequence_id": sequence_id, "robot_id": "sim-1", "csrf": max_csrf}
    assert max_client.post("/editor/run", data=stranger).status_code == 403


def test_a_busy_robot_refuses_a_run_and_the_emergency_stop_ends_it(sqlite_school: School) -> None:
    school = sqlite_school
    lou = school.ids["lou"]
    far_id = school.classroom.save(lou, "far away", FAR_AWAY, "genesis", True)
    school.api("tess").put(school.assignment("lou", "sim-1"))
    api = school.api("lou")
    assert api.post("/api/robots/sim-1/sequence", json={"sequence_id": far_id}).status_code == 202
    wait_for(lambda: school.hub.status("sim-1").x_mm > 50)
    busy = api.post("/api/robots/sim-1/sequence", json={"sequence_id": far_id})
    assert busy.status_code == 409 and "far away" in busy.text
    assert school.classroom.sequence(lou, far_id).last_outcome == "running"
    assert school.api("max").post("/api/robots/sim-1/estop").status_code == 403  # not theirs
    assert api.post("/api/robots/sim-1/estop").status_code == 202  # who may start, may stop
    wait_for(lambda: school.hub.status("sim-1").job is None)
    assert school.classroom.sequence(lou, far_id).last_outcome == "stopped"
    assert school.hub.status("sim-1").x_mm < 2500


def test_a_sequence_is_checked_again_against_the_robot_before_it_runs(
    sqlite_school: School,
) -> None:
    school = sqlite_school
    lou = school.ids["lou"]
    school.api("tess").put(school.assignment("lou", "sim-1"))
    text = (EXAMPLES / "find-weeds.yaml").read_text()
    saved = school.api("lou").post("/api/sequences", json={"name": "weeds", "text": text}).json()
    assert saved["checks"] is True  # the editor's simulator has a camera
    refused = school.api("lou").post(
        "/api/robots/sim-1/sequence", json={"sequence_id": saved["id"]}
    )
    assert refused.status_code == 422 and "plant-detection" in refused.text
    assert school.hub.status("sim-1").job is None
    mixed = {"sequence_id": saved["id"], "example": "water-lettuces"}
    assert school.api("lou").post("/api/robots/sim-1/sequence", json=mixed).status_code == 422
    assert school.classroom.sequence(lou, saved["id"]).last_outcome is None
