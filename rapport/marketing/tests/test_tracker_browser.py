"""In a real Chromium: a shop page on another origin embeds tracker.js; its page view
lands in the events table. With Do-Not-Track on, or before consent, nothing is sent."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from rapport.identity.tests.factories import UserFactory
from rapport.marketing.models import WebEvent
from rapport.marketing.services import tracker_key_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOP_PAGE = """<!doctype html><html><head><title>Tea shop</title>
<script>{consent}</script></head><body><h1>Green tea</h1>
<script async src="{rapport}/static/marketing/tracker.js" data-key="{key}"></script>
</body></html>"""


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()


def _open_shop(page: Any, live_server: Any, shop: tuple[str, Path], consent: str) -> str:
    origin, folder = shop
    key = tracker_key_create(
        actor=UserFactory(is_superuser=True), name="Tea shop", allowed_origins=[origin]
    )
    (folder / "index.html").write_text(
        SHOP_PAGE.format(consent=consent, rapport=live_server.url, key=key.public_key)
    )
    page.goto(f"{origin}/index.html")
    page.wait_for_function("typeof window.rapport === 'function'")
    return origin


def test_a_page_view_lands_in_the_events_table(page: Any, live_server: Any, shop: Any) -> None:
    _open_shop(page, live_server, shop, "window.rapportConsent = true;")
    with page.expect_response(lambda r: "/api/v1/collect" in r.url) as response:
        page.evaluate("rapport('flush')")
    assert response.value.status == 200
    row = WebEvent.objects.get()
    assert row.type == "page_view" and row.url.endswith("/index.html") and row.visitor_id
    cookie = next(c for c in page.context.cookies() if c["name"] == "rp_vid")
    assert cookie["value"] == row.visitor_id


def _nothing_sent(page: Any, live_server: Any) -> None:
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/api/v1/collect" in r.url else None)
    page.evaluate("rapport('product', 'TEA-1'); rapport('flush')")
    # A round trip after the flush: any beacon it made would have been seen before.
    with page.expect_response(lambda r: "/healthz" in r.url):
        page.evaluate(f"fetch('{live_server.url}/healthz', {{mode: 'no-cors'}})")
    assert sent == []
    assert not WebEvent.objects.exists()


def test_do_not_track_sends_nothing(page: Any, live_server: Any, shop: Any) -> None:
    page.add_init_script("Object.defineProperty(navigator, 'doNotTrack', {get: () => '1'})")
    _open_shop(page, live_server, shop, "window.rapportConsent = true;")
    _nothing_sent(page, live_server)
    assert not [c for c in page.context.cookies() if c["name"] == "rp_vid"]


def test_nothing_before_consent_then_the_waiting_events(
    page: Any, live_server: Any, shop: Any
) -> None:
    _open_shop(page, live_server, shop, "")
    _nothing_sent(page, live_server)
    with page.expect_response(lambda r: "/api/v1/collect" in r.url):
        page.evaluate("rapport('consent', true); rapport('flush')")
    assert sorted(WebEvent.objects.values_list("type", flat=True)) == ["page_view", "product_view"]
