"""The pages in a real headless Chromium: signing in, the dashboard, share links, French.

Screenshots of the dashboard at phone and desktop widths go to the test artifacts folder
($POTAGER_ARTIFACTS, default test-artifacts/), for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.web.conftest import Seeded

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


def _sign_in(page: Page, base_url: str, seeded: Seeded, password: str | None = None) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=name]", seeded.user)
    page.fill("input[name=password]", password or seeded.password)
    page.get_by_role("button", name="Sign in").click()


def _researcher(browser: Browser, base_url: str, seeded: Seeded) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    _sign_in(page, base_url, seeded)
    expect(page).to_have_url(f"{base_url}/")
    return context, page


def test_sign_in_then_switch_the_dashboard_variable(
    browser: Browser, live_server: str, seeded: Seeded, artifacts: Path
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    _sign_in(page, live_server, seeded, password="not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")

    _sign_in(page, live_server, seeded)
    expect(page).to_have_url(f"{live_server}/")
    page.get_by_role("link", name=seeded.trial_name).click()
    expect(page).to_have_url(f"{live_server}/trials/{seeded.trial_id}")
    field_map = page.locator("#field-map")
    expect(field_map.locator("svg")).to_be_visible()
    heading = page.locator("section", has=field_map).locator("h2")
    expect(heading).to_contain_text("height")
    expect(page.locator("#analysis .one-line")).not_to_be_empty()
    expect(page.locator("#means tbody tr")).to_have_count(4)
    first_map = field_map.inner_html()

    page.select_option("#variable", "leaf_area")
    expect(page).to_have_url(re.compile(r"\?variable=leaf_area$"))
    expect(heading).to_contain_text("leaf_area")
    expect(page.locator("#variable")).to_have_value("leaf_area")
    assert field_map.inner_html() != first_map
    page.screenshot(path=artifacts / "dashboard-desktop.png", full_page=True)

    phone = browser.new_context(
        storage_state=context.storage_state(), viewport=PHONE, is_mobile=True, has_touch=True
    )
    phone_page = phone.new_page()
    phone_page.goto(page.url)
    expect(phone_page.locator("#field-map svg")).to_be_visible()
    phone_page.screenshot(path=artifacts / "dashboard-phone.png", full_page=True)
    phone.close()
    context.close()


def test_share_link_reads_only_until_revoked(
    browser: Browser, live_server: str, seeded: Seeded
) -> None:
    context, page = _researcher(browser, live_server, seeded)
    page.goto(f"{live_server}/trials/{seeded.trial_id}")
    share = page.locator("#share")
    share.locator("input[name=label]").fill("jury du lycée")
    share.get_by_role("button", name="Create a read-only link").click()
    new_link = page.locator("#new-link")
    expect(new_link).to_be_visible()
    link = new_link.get_attribute("href")
    assert link is not None and link.startswith(f"{live_server}/shared/")

    visitor = browser.new_context(viewport=DESKTOP)
    assert visitor.cookies() == []
    shared = visitor.new_page()
    response = shared.goto(link)
    assert response is not None and response.status == 200
    expect(shared.locator("h1")).to_have_text(seeded.trial_name)
    expect(shared.locator("#field-map svg")).to_be_visible()
    expect(shared.locator("#share")).to_have_count(0)
    expect(shared.get_by_role("button", name="Sign out")).to_have_count(0)

    share.locator("li", has_text="jury du lycée").get_by_role("button", name="Revoke").click()
    expect(page).to_have_url(f"{live_server}/trials/{seeded.trial_id}")
    expect(page.locator("#share li", has_text="jury du lycée")).to_contain_text("revoked")
    gone = shared.goto(link)
    assert gone is not None and gone.status == 404
    visitor.close()
    context.close()


def test_login_page_in_french_for_a_french_browser(browser: Browser, live_server: str) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_server}/login")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("form button[type=submit]")).to_have_text("Se connecter")
    context.close()
