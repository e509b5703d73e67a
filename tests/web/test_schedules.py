"""Schedules from the web: seen with their next run and journal, paused and resumed,
switched off, their rule changed without repeating what already ran."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.schedule_rules import EventRule
from controller.scheduler import Scheduler
from potager.clock import VirtualClock
from web.accounts import Role
from web.app import create_app

START = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


class Bench:
    def __init__(self, url: str) -> None:
        self.app = create_app(url)
        svc = self.app.state.services
        self.store = svc.schedules
        rule = EventRule(
            zone="Europe/Paris", start_local=datetime(2026, 6, 1, 7, 0), every=1, unit="days",
            job="water lettuces", params={"amount_ml": 30},
        )  # fmt: skip
        self.water_id = self.store.add("bot", "morning water", rule, grace_s=600)
        clock = VirtualClock()
        scheduler = Scheduler(
            self.store, clock, lambda name, params, context: {"given_ml": 60}, "bot",
            lambda: None, lambda message: None, epoch=START,
        )  # fmt: skip
        scheduler.run_until(START + timedelta(days=2, hours=1))
        for name in ("viewer", "operator"):
            svc.accounts.create_user(name, PASSWORD, Role(name))

    def signed_in(self, name: str) -> tuple[TestClient, str]:
        client = TestClient(self.app)
        client.post("/login", data={"name": name, "password": PASSWORD})
        found = re.search(r'name="csrf" value="([^"]+)"', client.get("/schedules").text)
        return client, found.group(1) if found else ""


@pytest.fixture
def bench(tmp_path: Path) -> Bench:
    return Bench(f"sqlite:///{tmp_path / 'web.sqlite3'}")


def test_the_page_shows_each_schedule_its_next_run_and_the_journal(bench: Bench) -> None:
    client, _ = bench.signed_in("viewer")
    page = client.get("/schedules").text
    assert "morning water" in page and "2026-06-04 05:00 UTC" in page  # 07:00 in Paris
    assert page.count("<td>done</td>") == 3 and "Pause" not in page  # a viewer only reads


def test_an_operator_pauses_and_resumes_a_robot(bench: Bench) -> None:
    viewer, csrf = bench.signed_in("viewer")
    assert viewer.post("/schedules/bot/pause", data={"csrf": csrf}).status_code == 403
    client, csrf = bench.signed_in("operator")
    client.post("/schedules/bot/pause", data={"csrf": csrf})
    assert bench.store.pause_reason("bot") == "paused from the web by operator"
    client.post("/schedules/bot/resume", data={"csrf": csrf})
    assert bench.store.pause_reason("bot") is None


def test_a_schedule_is_switched_off_and_its_rule_changed(bench: Bench) -> None:
    client, csrf = bench.signed_in("operator")
    client.post(f"/schedules/bot/{bench.water_id}/disable", data={"csrf": csrf})
    assert bench.store.schedules("bot") == []
    client.post(f"/schedules/bot/{bench.water_id}/enable", data={"csrf": csrf})
    edit = f"/schedules/bot/{bench.water_id}/edit"
    bad = client.post(edit, data={"csrf": csrf, "rule": "every: [", "grace_s": 60})
    assert "is not valid" in bad.text
    (kept,) = bench.store.schedules("bot")
    assert kept.rule.every == 1 and kept.grace_s == 600
    text = kept.rule.model_dump_json().replace('"every":1', '"every":2')
    client.post(edit, data={"csrf": csrf, "rule": text, "grace_s": 120})
    (changed,) = bench.store.schedules("bot")
    assert changed.rule.every == 2 and changed.grace_s == 120
    assert changed.cursor == kept.cursor  # what already ran stays done
