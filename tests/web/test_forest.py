"""The "Per site" section and the figure downloads: a forest plot only for trials on several
sites, real SVG and PNG files, and share links that serve them until they are revoked."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.web.conftest import OBSERVED_AT, Seeded
from trials.design import Factor, rcbd
from trials.plots import BedArea, lay_out
from trials.store import (
    BedIn,
    ObservationIn,
    PlotIn,
    SiteIn,
    TrialStore,
    VariableIn,
    store_laid_out_trial,
)
from web.app import create_app

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
YIELD_KG = {"Témoin": 4.0, "Ambre": 5.5, "Bora": 7.0}
SITE_SHIFT_KG = {"Lyon": 0.0, "Rennes": 1.5}
FIGURES = {
    "fieldmap.svg": "image/svg+xml",
    "fieldmap.png": "image/png",
    "forest.svg": "image/svg+xml",
    "forest.png": "image/png",
}


@dataclass(frozen=True)
class Network:
    """The seeded app with a trial on two sites added, and a signed-in researcher."""

    app: FastAPI
    client: TestClient
    seeded: Seeded
    trial_id: int


def two_site_trial(
    store: TrialStore, name: str, controls: list[str], ambre_gain_at_rennes_kg: float = 0.0
) -> int:
    """The same RCBD book laid at Lyon, then again (plot numbers after Lyon's) at Rennes."""
    book = rcbd(Factor("variety", list(YIELD_KG), controls=controls), 3, seed=7)
    rectangles = lay_out(book, BedArea(0, 0, 3000, 1500), 600, 300)
    trial_id = store_laid_out_trial(
        store, name=name, site="Lyon", bed=f"Lyon {name}", bed_size_mm=(3000, 1500),
        book=book, rectangles=rectangles,
    )  # fmt: skip
    rennes = store.site_id("Rennes") or store.create_site(SiteIn(name="Rennes"))
    bed = store.create_bed(
        BedIn(site_id=rennes, name=f"Rennes {name}", size_x_mm=3000, size_y_mm=1500)
    )
    offset = len(book.plots)
    store.add_plots(
        trial_id,
        bed,
        [
            PlotIn(
                plot=p.plot + offset, block=p.block, row=p.row, col=p.col,
                treatment=p.treatment, check=p.check, x_min_mm=r.x_min_mm,
                x_max_mm=r.x_max_mm, y_min_mm=r.y_min_mm, y_max_mm=r.y_max_mm,
            )
            for p, r in zip(book.plots, rectangles, strict=True)
        ],
    )  # fmt: skip
    store.define_variable(trial_id, VariableIn(name="yield", unit="kg", minimum=0))
    store.record_observations(
        [
            ObservationIn(
                trial_id=trial_id, plot=p.plot, variable="yield",
                value=YIELD_KG[p.treatment] + SITE_SHIFT_KG[p.site or ""] + 0.1 * (p.plot % 4)
                + (ambre_gain_at_rennes_kg if (p.site, p.treatment) == ("Rennes", "Ambre") else 0),
                observed_at=OBSERVED_AT, recorder_kind="person", recorder="alice",
            )
            for p in store.plots(trial_id)
        ]
    )  # fmt: skip
    return trial_id


@pytest.fixture
def network(seeded: Seeded) -> Network:
    app = create_app(seeded.url)
    trial_id = two_site_trial(app.state.services.trials, "Réseau blé 2026", ["Témoin"])
    client = TestClient(app)
    signed = client.post("/login", data={"name": seeded.user, "password": seeded.password})
    assert signed.status_code == 200
    return Network(app, client, seeded, trial_id)


def section(page: str) -> str:
    start = page.index('id="per-site"')
    return page[start : page.index("</section>", start)]


def test_the_per_site_section_shows_only_for_a_trial_on_several_sites(network: Network) -> None:
    page = network.client.get(f"/trials/{network.trial_id}").text
    per_site = section(page)
    assert "<svg" in per_site and "difference from Témoin" in per_site
    assert "consistent across sites" in per_site
    assert f'href="/trials/{network.trial_id}/forest.png?variable=yield"' in page
    single = network.client.get(f"/trials/{network.seeded.trial_id}").text
    assert 'id="per-site"' not in single and "forest.svg" not in single
    assert "fieldmap.png?variable=height" in single


def test_the_per_site_section_says_when_the_sites_disagree(network: Network) -> None:
    trial_id = two_site_trial(network.app.state.services.trials, "Désaccord", ["Témoin"], 3.0)
    assert "differs between sites" in section(network.client.get(f"/trials/{trial_id}").text)


def test_the_per_site_section_says_why_without_a_control(network: Network) -> None:
    no_check = two_site_trial(network.app.state.services.trials, "Sans témoin", [])
    page = network.client.get(f"/trials/{no_check}").text
    assert "no control" in section(page) and "forest.svg" not in page
    assert network.client.get(f"/trials/{no_check}/forest.png").status_code == 404


def test_the_forest_plot_is_drawn_once_per_data_version(network: Network) -> None:
    dashboards = network.app.state.services.dashboards
    first = dashboards.get(network.trial_id, "yield")
    assert first.per_site is not None and first.per_site.svg is not None
    assert dashboards.get(network.trial_id, "yield").per_site is first.per_site


@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_downloads_are_real_svg_and_png_files(network: Network, name: str) -> None:
    response = network.client.get(f"/trials/{network.trial_id}/{name}?variable=yield")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(FIGURES[name])
    assert f'filename="trial-{network.trial_id}-{name}"' in response.headers["content-disposition"]
    if name.endswith(".png"):
        assert response.content.startswith(PNG_MAGIC)
    else:
        assert response.content.lstrip().startswith(b"<?xml") and b"<svg" in response.content


def test_the_field_map_download_follows_the_chosen_variable(network: Network) -> None:
    url = f"/trials/{network.seeded.trial_id}/fieldmap.png"
    height, leaf = (
        network.client.get(url, params={"variable": v}) for v in ("height", "leaf_area")
    )
    assert height.content.startswith(PNG_MAGIC) and leaf.content.startswith(PNG_MAGIC)
    assert height.content != leaf.content


def test_a_single_site_trial_has_no_forest_plot_to_download(network: Network) -> None:
    response = network.client.get(f"/trials/{network.seeded.trial_id}/forest.svg")
    assert response.status_code == 404
    assert "two sites or more" in response.json()["detail"]


def test_a_share_link_serves_the_figures_until_it_is_revoked(network: Network) -> None:
    accounts = network.app.state.services.accounts
    user_id = accounts.user_id(network.seeded.user)
    link_id, token = accounts.share(network.trial_id, user_id, "jury")
    anonymous = TestClient(network.app)
    shared_page = anonymous.get(f"/shared/{token}").text
    assert f'href="/shared/{token}/forest.svg?variable=yield"' in shared_page
    for name, media_type in FIGURES.items():
        response = anonymous.get(f"/shared/{token}/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(media_type)
    assert anonymous.get(f"/shared/{token}/forest.png").content.startswith(PNG_MAGIC)
    accounts.revoke_share(link_id)
    for name in FIGURES:
        assert anonymous.get(f"/shared/{token}/{name}").status_code == 404
