"""In a real Chromium: build a segment in the rule builder and watch its live count
change as a rule is edited; then its detail page, the events explorer and the tracker
settings (screenshots under the test's folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from rapport.identity.tests.factories import UserFactory
from rapport.marketing.services import tracker_key_create, web_events_ingest
from rapport.marketing.tests.factories import customer, event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots" / "marketing"


def _login(page: Any, live_server: Any, user: Any) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def test_build_a_segment_and_watch_its_live_count(page: Any, live_server: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    admin = UserFactory(is_superuser=True)
    for i, country in enumerate(["NL", "NL", "BE"]):
        customer(external_id=f"c{i}", country=country, display_name=f"Shopper {i}")
    web_events_ingest(
        actor=admin,
        events=[
            event("product_view", product_sku="TEA-1", customer={"external_id": "c0"}),
            event("cart_updated", customer={"external_id": "c1"}),
            event("page_view", visitor_id="anon-1", url="https://shop.example.com/"),
        ],
    )
    tracker_key_create(actor=admin, name="Web shop", allowed_origins=["https://shop.example.com"])
    _login(page, live_server, admin)

    page.goto(f"{live_server.url}/marketing/segments/new/")
    count = page.locator("[data-live-count]")
    # The first condition has no value yet: the count says so instead of guessing.
    expect(page.locator("#live-count")).to_contain_text("Fix 1 problem")
    page.get_by_label("Name").fill("Dutch shoppers")
    page.get_by_label("is", exact=True).fill("NL")
    expect(count).to_have_text("2")
    page.get_by_role("button", name="+ Web behaviour").click()
    page.get_by_label("Product SKU").fill("TEA-1")
    expect(count).to_have_text("1")
    page.get_by_label("In the last … days").fill("0")
    expect(page.locator("#live-count")).to_contain_text("Fix 1 problem")
    page.get_by_label("In the last … days").fill("7")
    expect(count).to_have_text("1")
    page.screenshot(path=str(SHOTS / "segment_builder.png"), full_page=True)
    page.get_by_role("button", name="Create segment").click()
    expect(page.get_by_role("heading", name="Dutch shoppers")).to_be_visible()
    expect(page.get_by_role("link", name="Shopper 0")).to_be_visible()
    page.screenshot(path=str(SHOTS / "segment_detail.png"), full_page=True)

    page.goto(f"{live_server.url}/marketing/segments/")
    expect(page.get_by_role("link", name="Dutch shoppers")).to_be_visible()
    page.screenshot(path=str(SHOTS / "segment_list.png"), full_page=True)
    page.goto(f"{live_server.url}/marketing/events/")
    expect(page.get_by_text("Anonymous")).to_be_visible()
    page.screenshot(path=str(SHOTS / "event_list.png"), full_page=True)
    page.goto(f"{live_server.url}/marketing/tracker/")
    expect(page.locator("textarea.snippet")).to_contain_text("tracker.js")
    page.screenshot(path=str(SHOTS / "tracker.png"), full_page=True)
