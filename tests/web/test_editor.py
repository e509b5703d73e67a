"""The sequence editor: problems shown at their line, dry runs with the path drawn."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from web.accounts import Role
from web.app import create_app

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "water-lettuces.yaml"


@pytest.fixture
def student(tmp_path: Path) -> tuple[TestClient, str]:
    app = create_app(f"sqlite:///{tmp_path / 'web.sqlite3'}")
    app.state.services.accounts.create_user("lou", "correct horse battery", Role.STUDENT)
    client = TestClient(app)
    client.post("/login", data={"name": "lou", "password": "correct horse battery"})
    page = client.get("/editor").text
    assert "water the lettuces" in page  # the example to start from
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return client, found.group(1)


def test_a_mistake_is_shown_under_its_own_line(student: tuple[TestClient, str]) -> None:
    client, csrf = student
    text = EXAMPLE.read_text().replace("kind: mount_tool", "kind: mount_tol")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "mount_tol" in t)
    page = client.post("/editor", data={"text": text, "csrf": csrf, "action": "check"}).text
    problems = re.findall(r'data-line="(\d+)">([^<]*)<', page)
    assert problems and all(int(at) == line for at, _ in problems)
    assert "mount_tool" in problems[0][1]  # what would be valid


def test_a_good_sequence_dry_runs_with_its_time_and_path(student: tuple[TestClient, str]) -> None:
    client, csrf = student
    text = EXAMPLE.read_text()
    page = client.post("/editor", data={"text": text, "csrf": csrf, "action": "dry-run"}).text
    assert 'id="verdict"' in page and 'id="dry-run"' in page
    found = re.search(r"Predicted time ([\d.]+) s, path (\d+) mm, (\d+) firmware commands", page)
    assert found is not None and float(found.group(1)) > 10 and int(found.group(2)) > 500
    assert "<svg" in page


def test_the_editor_refuses_a_forged_form(student: tuple[TestClient, str]) -> None:
    client, _ = student
    assert client.post("/editor", data={"text": "steps: []"}).status_code == 403


def test_text_yaml_cannot_read_is_a_problem_not_a_server_error(
    student: tuple[TestClient, str],
) -> None:
    client, csrf = student
    page = client.post("/editor", data={"text": "steps: [\x1f]", "csrf": csrf, "action": "check"})
    assert page.status_code == 200
    assert "column 9: the invisible character U+001F is not allowed" in page.text


def test_a_saved_sequence_opens_only_for_its_owner(student: tuple[TestClient, str]) -> None:
    client, csrf = student
    text = EXAMPLE.read_text()
    saved = client.post(
        "/editor", data={"text": text, "name": "lettuces", "action": "save", "csrf": csrf}
    ).text
    found = re.search(r'href="/editor\?sequence=(\d+)">lettuces<', saved)
    assert found is not None and "Saved as “lettuces”." in saved
    assert 'value="lettuces"' in client.get(f"/editor?sequence={found.group(1)}").text
    assert client.get("/editor?sequence=999").status_code == 404
    assert client.get("/editor?sequence=0").status_code == 422
