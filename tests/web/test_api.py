"""The web application through FastAPI's test client, on real SQLite and PostgreSQL:
who may see and do what, the dashboard's numbers, share links, downloads, languages."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from trials.design import Factor, rcbd
from trials.plots import BedArea, lay_out
from trials.store import ObservationIn, TrialStore, VariableIn, store_laid_out_trial
from web.accounts import Role
from web.app import create_app

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
EFFECT = {"dry": 10.0, "low": 14.0, "medium": 19.0, "high": 25.0}
PASSWORD = "correct horse battery"


class Site:
    """An app on a fresh database with one RCBD trial and users of every role."""

    def __init__(self, url: str) -> None:
        self.app = create_app(url)
        svc = self.app.state.services
        self.accounts, store = svc.accounts, svc.trials
        self.trial_id = _seed(store, "watering 2026")
        self.other_trial_id = _seed(store, "another trial")
        self.users = {role: self.accounts.create_user(role.value, PASSWORD, role) for role in Role}
        self.tokens = {
            role: self.accounts.issue_api_token(user_id, "tests")
            for role, user_id in self.users.items()
        }

    def client(self) -> TestClient:
        return TestClient(self.app)

    def bearer(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def signed_in(self, role: Role) -> tuple[TestClient, str]:
        """A browser-like client signed in as `role`, and its CSRF token (from a page)."""
        client = self.client()
        done = client.post("/login", data={"name": role.value, "password": PASSWORD})
        assert done.status_code == 200
        page = client.get(f"/trials/{self.trial_id}").text
        match = re.search(r'name="csrf" value="([^"]+)"', page)
        assert match is not None
        return client, match.group(1)


def _seed(store: TrialStore, name: str) -> int:
    book = rcbd(Factor("watering", list(EFFECT), controls=["dry"]), 4, seed=3)
    rectangles = lay_out(book, BedArea(0, 0, 3000, 2000), 500, 400)
    trial_id = store_laid_out_trial(
        store, name=name, site="La Ferme", bed=f"bed {name}", bed_size_mm=(3000, 2000),
        book=book, rectangles=rectangles,
    )  # fmt: skip
    store.define_variable(trial_id, VariableIn(name="cover", unit="%", minimum=0, maximum=100))
    store.record_observations(
        [
            ObservationIn(
                trial_id=trial_id, plot=p.plot, variable="cover",
                value=EFFECT[p.treatment] + 0.7 * ((p.plot * 7) % 5 - 2) + p.block,
                observed_at=T0, recorder_kind="robot", recorder="bot-1",
            )
            for p in book.plots
        ]
    )  # fmt: skip
    return trial_id


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    yield Site(database_url)


def test_nothing_is_shown_without_an_account(site: Site) -> None:
    client = site.client()
    page = client.get(f"/trials/{site.trial_id}", follow_redirects=False)
    assert (
        page.status_code == 303
        and page.headers["location"] == f"/login?next=/trials/{site.trial_id}"
    )
    assert client.get("/api/trials").status_code == 401
    assert client.get("/api/trials", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_signing_in_sets_a_safe_cookie_and_a_wrong_password_says_nothing_more(site: Site) -> None:
    client = site.client()
    wrong = client.post("/login", data={"name": "researcher", "password": "nope nope"})
    nobody = client.post("/login", data={"name": "ghost", "password": "nope nope"})
    assert wrong.status_code == nobody.status_code == 401
    assert "Wrong name or password." in wrong.text and "Wrong name or password." in nobody.text
    done = client.post(
        "/login", data={"name": "viewer", "password": PASSWORD, "next": "//evil.example"},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/"
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_the_api_gives_the_trial_its_plots_and_its_analysis(site: Site) -> None:
    client = site.client()
    trials = client.get("/api/trials", headers=site.bearer(Role.VIEWER)).json()
    assert {t["name"] for t in trials} == {"watering 2026", "another trial"}
    detail = client.get(f"/api/trials/{site.trial_id}", headers=site.bearer(Role.VIEWER)).json()
    assert len(detail["plots"]) == 16 and detail["trial"]["site"] == "La Ferme"
    analysis = client.get(
        f"/api/trials/{site.trial_id}/analysis", headers=site.bearer(Role.VIEWER)
    ).json()
    result = analysis["analysis"]
    assert analysis["variable"] == "cover" and result["design"] == "rcbd"
    assert result["p"] < 0.001 and result["f"] > 20 and result["lsd"] > 0
    means = {m["treatment"]: m for m in result["means"]}
    assert means["high"]["letters"] != means["dry"]["letters"]
    assert means["dry"]["percent_of_control"] == pytest.approx(100.0)
    assert means["high"]["percent_of_control"] > 150


def test_observations_need_a_role_that_records_and_are_all_or_nothing(site: Site) -> None:
    client, url = site.client(), f"/api/trials/{site.trial_id}/observations"
    first = client.get(f"/api/trials/{site.trial_id}", headers=site.bearer(Role.VIEWER))
    batch = [{"plot": first.json()["plots"][0]["plot"], "variable": "cover", "value": 30.0}]
    assert client.post(url, json=batch, headers=site.bearer(Role.VIEWER)).status_code == 403
    bad = [*batch, {"plot": 99, "variable": "cover", "value": 10.0}]
    refused = client.post(url, json=bad, headers=site.bearer(Role.OPERATOR))
    assert refused.status_code == 422 and "has no plot 99" in refused.text
    assert len(client.get(url, headers=site.bearer(Role.VIEWER)).json()) == 16
    stored = client.post(url, json=batch, headers=site.bearer(Role.OPERATOR))
    assert stored.status_code == 201
    rows = client.get(url, headers=site.bearer(Role.VIEWER)).json()
    (mine,) = [r for r in rows if r["recorder"] == "operator"]
    assert mine["recorder_kind"] == "robot" and mine["value"] == 30.0


def test_the_home_page_lists_the_trials_and_the_sites_with_their_beds(site: Site) -> None:
    client, _ = site.signed_in(Role.VIEWER)
    page = client.get("/").text
    assert "watering 2026" in page and "another trial" in page
    sites = page[page.index('id="sites"') :]
    assert "La Ferme" in sites and "Bed bed watering 2026: 3000 x 2000 mm" in sites


def test_the_dashboard_explains_the_analysis_in_plain_words(site: Site) -> None:
    client, _ = site.signed_in(Role.VIEWER)
    page = client.get(f"/trials/{site.trial_id}").text
    assert "unlikely to be chance" in page and 'id="field-map"' in page and "<svg" in page
    assert re.search(r"F = \d+\.\d\d, p = [0-9.e-]+, CV = [\d.]+ %", page)
    assert 'id="share"' not in page  # a viewer may not share


def test_a_share_link_opens_one_trial_read_only_until_revoked(site: Site) -> None:
    client, csrf = site.signed_in(Role.RESEARCHER)
    forged = client.post(f"/trials/{site.trial_id}/share", data={"label": "school"})
    assert forged.status_code == 403  # no CSRF token
    made = client.post(
        f"/trials/{site.trial_id}/share", data={"label": "school", "csrf": csrf}
    ).text
    link = re.search(r'id="new-link" href="([^"]+)"', made)
    assert link is not None
    path = link.group(1).removeprefix("http://testserver")
    stranger = site.client()
    shared = stranger.get(path)
    assert shared.status_code == 200 and "watering 2026" in shared.text
    assert 'id="share"' not in shared.text and "another trial" not in shared.text
    assert stranger.get(path + "/observations.csv").status_code == 200
    assert stranger.get(f"/trials/{site.other_trial_id}", follow_redirects=False).status_code == 303
    link_id = site.accounts.share_links(site.trial_id)[0].id
    revoked = client.post(f"/trials/{site.trial_id}/share/{link_id}/revoke", data={"csrf": csrf})
    assert revoked.status_code == 200
    assert stranger.get(path).status_code == 404
    assert stranger.get(path + "/observations.csv").status_code == 404


def test_an_expired_share_link_is_refused(site: Site) -> None:
    user = site.users[Role.RESEARCHER]
    _, token = site.accounts.share(site.trial_id, user, "old", datetime.now(UTC) - timedelta(1))
    assert site.client().get(f"/shared/{token}").status_code == 404


def test_only_researchers_and_teachers_share(site: Site) -> None:
    client, csrf = site.signed_in(Role.OPERATOR)
    denied = client.post(f"/trials/{site.trial_id}/share", data={"label": "x", "csrf": csrf})
    assert denied.status_code == 403


def test_downloads_are_the_trials_own(site: Site) -> None:
    client, _ = site.signed_in(Role.VIEWER)
    base = f"/trials/{site.trial_id}"
    book = list(csv.DictReader(io.StringIO(client.get(f"{base}/fieldbook.csv").text)))
    assert len(book) == 16 and {row["treatment"] for row in book} == set(EFFECT)
    observations = client.get(f"{base}/observations.csv").text.splitlines()
    assert observations[0].startswith("plot,") and len(observations) == 17
    brapi = json.loads(client.get(f"{base}/brapi.json").text)
    assert brapi["trials"][0]["trialName"] == "watering 2026"
    svg = client.get(f"{base}/means.svg")
    assert svg.headers["content-type"] == "image/svg+xml" and svg.text.lstrip().startswith("<?xml")
    png = client.get(f"{base}/means.png")
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(f"{base}/secrets.txt").status_code == 404


def test_pages_speak_the_browsers_language_or_the_chosen_one(site: Site) -> None:
    client = site.client()
    assert "Se connecter" in client.get("/login", headers={"Accept-Language": "fr-FR,fr"}).text
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "de, en;q=0.5"}).text
    client.get("/language/fr")
    assert "Se connecter" in client.get("/login").text


def test_an_observations_csv_is_imported_whole_or_refused_with_its_rows(site: Site) -> None:
    client, csrf = site.signed_in(Role.RESEARCHER)
    url = f"/trials/{site.trial_id}/import"
    plot = client.get(f"/api/trials/{site.trial_id}", headers=site.bearer(Role.VIEWER)).json()
    first = plot["plots"][0]["plot"]
    good = f"plot;variable;value;observed_at\n{first};cover;31,5;2026-06-02T09:00:00+00:00\n"
    done = client.post(url, data={"csrf": csrf}, files={"file": ("obs.csv", good, "text/csv")})
    assert done.status_code == 200 and "1 observations imported" in done.text
    bad = f"plot,variable,value\n{first},cover,40\n999,cover,10\n{first},cover,140\n"
    refused = client.post(url, data={"csrf": csrf}, files={"file": ("obs.csv", bad, "text/csv")})
    assert refused.status_code == 422
    assert "2 of 3 rows are invalid" in refused.text and "999" in refused.text
    binary = client.post(
        url, data={"csrf": csrf}, files={"file": ("photo.csv", b"\xff\xd8\xff\xe0JFIF", "text/csv")}
    )
    assert binary.status_code == 422 and "not a text CSV" in binary.text
    huge = "plot,variable,value\n" + "1,cover,1\n" * 300_000
    too_big = client.post(url, data={"csrf": csrf}, files={"file": ("big.csv", huge, "text/csv")})
    assert too_big.status_code == 422 and "over 2 MB" in too_big.text
    rows = client.get(f"/api/trials/{site.trial_id}/observations", headers=site.bearer(Role.VIEWER))
    assert len(rows.json()) == 17  # the 16 seeded and the one good import
    viewer, viewer_csrf = site.signed_in(Role.VIEWER)
    forbidden = viewer.post(
        url, data={"csrf": viewer_csrf}, files={"file": ("obs.csv", good, "text/csv")}
    )
    assert forbidden.status_code == 403
