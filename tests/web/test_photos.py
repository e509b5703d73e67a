"""Plots' photos through FastAPI's test client, on SQLite and PostgreSQL: uploads checked by
their content and all-or-nothing, the dashboard's photos in date order, the files served
only through their trial's pages and live share links, and who may add one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from potager.db import utc_now
from trials.photos import MAX_PHOTO_BYTES, photo_dir_for
from web.accounts import Role

from .test_api import T0, Site


def _image(width_px: int, height_px: int, seed: int) -> np.ndarray:
    """A leafy-looking picture: green blobs on brown soil, different for each seed."""
    rng = np.random.default_rng(seed)
    image = np.full((height_px, width_px, 3), (40, 70, 110), np.uint8)
    for x, y in rng.integers(0, (width_px, height_px), size=(12, 2)):
        cv2.circle(image, (int(x), int(y)), int(rng.integers(10, 40)), (40, 160, 60), -1)
    return image


def _encoded(suffix: str, seed: int, width_px: int = 640, height_px: int = 480) -> bytes:
    done, data = cv2.imencode(suffix, _image(width_px, height_px, seed))
    assert done
    return data.tobytes()


JPEG = _encoded(".jpg", 1)
PNG = _encoded(".png", 2, width_px=200, height_px=150)


class PhotoSite(Site):
    """The API tests' site (a trial, another trial, a user of every role) with its photos
    in a folder of the test's own."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.photo_dir: Path = self.app.state.services.photos.root
        self.plots = [p.plot for p in self.app.state.services.trials.plots(self.trial_id)]

    def upload(
        self,
        client: TestClient,
        csrf: str | None,
        data: bytes,
        plot: int | None = None,
        trial_id: int | None = None,
        taken_at: str | None = None,
    ) -> Response:
        given = (("csrf", csrf), ("taken_at", taken_at), ("plot", str(plot or self.plots[0])))
        form = {k: v for k, v in given if v is not None}
        return client.post(
            f"/trials/{trial_id or self.trial_id}/photos",
            data=form,
            files={"file": ("photo.jpg", data, "image/jpeg")},  # whatever the file holds
            follow_redirects=False,
        )

    def files(self) -> list[Path]:
        return sorted(p for p in self.photo_dir.rglob("*") if p.is_file())

    def photo_count(self) -> int:
        found = self.app.state.services.trials.plot_photos(self.trial_id)
        return sum(len(plot.photos) for plot in found)


@pytest.fixture
def site(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PhotoSite]:
    # photos go beside a SQLite file, or in the data directory for PostgreSQL: the test's
    monkeypatch.setenv("POTAGER_DATA_DIR", str(tmp_path))
    yield PhotoSite(database_url)


def _thumbnails(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+/thumb)" loading="lazy"', page)


def _notice(page: str) -> str:
    found = re.search(r'id="notice"[^>]*>([^<]*)<', page)
    assert found is not None
    return found.group(1)


def test_photos_show_per_plot_oldest_first_and_are_served_as_sent(site: PhotoSite) -> None:
    client, csrf = site.signed_in(Role.RESEARCHER)
    later = site.upload(client, csrf, PNG, taken_at=(T0 + timedelta(days=14)).isoformat())
    earlier = site.upload(client, csrf, JPEG, taken_at=T0.isoformat())
    assert later.status_code == earlier.status_code == 303
    assert later.headers["location"] == f"/trials/{site.trial_id}#plot-{site.plots[0]}-photos"
    page = client.get(f"/trials/{site.trial_id}").text
    base = f"/trials/{site.trial_id}/photos"
    first, second = _thumbnails(page)
    assert first.startswith(base) and second.startswith(base)
    assert "2026-06-01" in page and "2026-06-15" in page
    assert page.index("2026-06-01") < page.index("2026-06-15")
    jpeg, png = (client.get(url.removesuffix("/thumb")) for url in (first, second))
    assert (jpeg.content, jpeg.headers["content-type"]) == (JPEG, "image/jpeg")
    assert (png.content, png.headers["content-type"]) == (PNG, "image/png")
    assert "immutable" in png.headers["cache-control"]
    thumbnail = client.get(first)
    assert thumbnail.headers["content-type"] == "image/jpeg"
    small = cv2.imdecode(np.frombuffer(thumbnail.content, np.uint8), cv2.IMREAD_COLOR)
    assert small.shape == (240, 320, 3)  # 640 x 480 down to 320 wide
    narrow = client.get(second)  # a photo narrower than a thumbnail is not enlarged
    shape = cv2.imdecode(np.frombuffer(narrow.content, np.uint8), cv2.IMREAD_COLOR).shape
    assert narrow.headers["content-type"] == "image/jpeg" and shape == (150, 200, 3)
    assert len(site.files()) == 4


def test_the_api_twin_takes_a_multipart_photo_with_a_bearer_token(site: PhotoSite) -> None:
    client, url = site.client(), f"/api/trials/{site.trial_id}/plots/{site.plots[1]}/photos"
    schema = client.get("/openapi.json").json()["paths"]
    assert "post" in schema["/api/trials/{trial_id}/plots/{plot}/photos"]
    files = {"file": ("field.png", PNG, "image/png")}
    stored = client.post(url, files=files, headers=site.bearer(Role.OPERATOR))
    assert stored.status_code == 201
    body = stored.json()
    assert body["plot"] == site.plots[1]
    served = client.get(body["url"], headers=site.bearer(Role.VIEWER))
    assert served.content == PNG
    naive = client.post(
        url, files=files, data={"taken_at": "2026-06-01T09:00"}, headers=site.bearer(Role.TEACHER)
    )
    assert naive.status_code == 422 and "timezone" in naive.text
    viewer = client.post(url, files=files, headers=site.bearer(Role.VIEWER))
    assert viewer.status_code == 403
    not_photo = client.post(
        url, files={"file": ("a.jpg", b"hello", "image/jpeg")}, headers=site.bearer(Role.ADMIN)
    )
    assert not_photo.status_code == 422 and "not a JPEG or PNG photo" in not_photo.text
    assert site.photo_count() == 1


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"plot 3 looked fine today\n", 422, "this file is not a JPEG or PNG photo: its content"),
        (JPEG[: len(JPEG) // 2], 422, "this file is not a JPEG or PNG photo: the photo is not"),
        (JPEG + bytes(MAX_PHOTO_BYTES), 413, "the file is over 8 MB"),
    ],
    ids=["text named .jpg", "truncated JPEG", "oversize"],
)
def test_a_file_that_is_not_a_whole_photo_is_refused_and_nothing_kept(
    site: PhotoSite, data: bytes, status: int, message: str
) -> None:
    client, csrf = site.signed_in(Role.TEACHER)
    refused = site.upload(client, csrf, data)
    assert refused.status_code == status
    assert _notice(refused.text).startswith(message)
    assert site.files() == [] and site.photo_count() == 0


def test_only_the_trials_plots_and_roles_that_may_upload(site: PhotoSite) -> None:
    client, csrf = site.signed_in(Role.OPERATOR)
    assert site.upload(client, csrf, JPEG, plot=9999).status_code == 404
    assert site.upload(client, csrf, JPEG, trial_id=9999).status_code == 404
    assert site.upload(client, None, JPEG).status_code == 403  # no CSRF token
    assert site.upload(client, "forged", JPEG).status_code == 403
    for role in (Role.VIEWER, Role.STUDENT):
        other, other_csrf = site.signed_in(role)
        assert site.upload(other, other_csrf, JPEG).status_code == 403
    assert site.files() == [] and site.photo_count() == 0
    # a photo of another trial is not reachable through this one's pages
    other_trial = site.upload(client, csrf, JPEG, trial_id=site.other_trial_id)
    assert other_trial.status_code == 303
    other_page = client.get(f"/trials/{site.other_trial_id}").text
    (thumbnail,) = _thumbnails(other_page)
    photo_id = thumbnail.split("/")[-2]
    assert client.get(f"/trials/{site.other_trial_id}/photos/{photo_id}").status_code == 200
    assert client.get(f"/trials/{site.trial_id}/photos/{photo_id}").status_code == 404
    assert client.get(f"/trials/{site.trial_id}/photos/{photo_id}/thumb").status_code == 404
    signed_out = site.client().get(thumbnail, follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")


def test_share_links_show_the_photos_until_revoked_or_expired(site: PhotoSite) -> None:
    client, csrf = site.signed_in(Role.RESEARCHER)
    assert site.upload(client, csrf, JPEG).status_code == 303
    owner = site.users[Role.RESEARCHER]
    link_id, token = site.accounts.share(site.trial_id, owner, "école")
    _, expired = site.accounts.share(site.trial_id, owner, "old", utc_now() - timedelta(days=1))
    visitor = site.client()
    page = visitor.get(f"/shared/{token}").text
    (thumbnail,) = _thumbnails(page)
    assert thumbnail.startswith(f"/shared/{token}/photos/")
    assert 'id="photo-upload"' not in page  # no upload form on a read-only view
    assert visitor.get(thumbnail).headers["content-type"] == "image/jpeg"
    assert visitor.get(thumbnail.removesuffix("/thumb")).content == JPEG
    photo_path = thumbnail.removeprefix(f"/shared/{token}")
    assert visitor.get(f"/shared/{expired}{photo_path}").status_code == 404
    site.accounts.revoke_share(link_id)
    assert visitor.get(thumbnail).status_code == 404
    assert visitor.get(thumbnail.removesuffix("/thumb")).status_code == 404


def test_without_photos_only_those_who_may_add_one_see_a_section(site: PhotoSite) -> None:
    viewer, _ = site.signed_in(Role.VIEWER)
    page = viewer.get(f"/trials/{site.trial_id}").text
    assert 'id="photos"' not in page
    assert 'id="photo-upload"' not in page
    teacher, _ = site.signed_in(Role.TEACHER)
    page = teacher.get(f"/trials/{site.trial_id}", headers={"Accept-Language": "fr"}).text
    assert 'id="photos"' not in page
    assert "Ajouter une photo" in page
    assert page.count('<option value="') >= len(site.plots)  # one form, every plot offered
    assert _thumbnails(page) == []


def test_photos_go_beside_a_sqlite_database_else_in_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POTAGER_DATA_DIR", str(tmp_path / "data"))
    assert photo_dir_for(f"sqlite:///{tmp_path}/demo/potager.sqlite3") == (
        tmp_path / "demo" / "photos"
    )
    assert photo_dir_for("postgresql+psycopg://u@host/db") == tmp_path / "data" / "photos"
    assert photo_dir_for("sqlite://") == tmp_path / "data" / "photos"
