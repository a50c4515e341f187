"""Marketing pages: lists with pinned query counts, the rule builder (add/remove, errors
beside the rule, live count), segment detail with members and export, tracker settings,
the 360 panels."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rapport.core.permissions import Scope
from rapport.identity.tests.factories import UserFactory
from rapport.marketing.services import SegmentInput, segment_create, web_events_ingest
from rapport.marketing.tests.factories import customer, event, marketer

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _events(n: int) -> None:
    customer(external_id="c1")
    web_events_ingest(
        actor=marketer(),
        events=[event("page_view", customer={"external_id": "c1"}) for _ in range(n)],
    )


@pytest.mark.parametrize("rows", [2, 20])
def test_the_event_list_costs_the_same_for_2_and_20_rows(
    rows: int, django_assert_max_num_queries: Any
) -> None:
    _events(rows)
    client = _client(marketer())
    with django_assert_max_num_queries(12):
        page = client.get("/marketing/events/")
    assert page.status_code == 200
    assert page.content.count(b"<tr>") == rows + 1


@pytest.mark.parametrize("rows", [2, 20])
def test_the_segment_list_costs_the_same_for_2_and_20_rows(
    rows: int, django_assert_max_num_queries: Any
) -> None:
    user = marketer()
    for i in range(rows):
        segment_create(actor=user, data=SegmentInput(name=f"Segment {i:02d}"))
    client = _client(user)
    with django_assert_max_num_queries(12):
        page = client.get("/marketing/segments/")
    assert page.status_code == 200 and b"Segment 00" in page.content


def test_empty_lists_say_what_to_do() -> None:
    client = _client(marketer())
    assert b"No segments yet" in client.get("/marketing/segments/").content
    assert b"No web events yet" in client.get("/marketing/events/").content


def _builder_post(**extra: str) -> dict[str, str]:
    return {
        "name": "Tea lovers",
        "description": "",
        "kind": "dynamic",
        "n::op": "and",
        "n:0:kind": "event",
        "n:0:type": "product_view",
        "n:0:product_sku": "TEA-1",
        "n:0:days": "7",
        **extra,
    }


def test_the_builder_adds_and_removes_conditions_without_saving() -> None:
    client = _client(marketer())
    added = client.post("/marketing/segments/new/", _builder_post(action="add::group"))
    assert added.status_code == 200
    assert b'name="n:1:kind" value="group"' in added.content
    nested = client.post(
        "/marketing/segments/new/",
        _builder_post(**{"n:1:kind": "group", "n:1:op": "or", "action": "add:1:order"}),
    )
    assert b'name="n:1.0:measure"' in nested.content
    removed = client.post("/marketing/segments/new/", _builder_post(action="remove:0"))
    assert b'name="n:0:kind"' not in removed.content


def test_an_invalid_rule_is_shown_beside_the_rule() -> None:
    client = _client(marketer())
    answer = client.post("/marketing/segments/new/", _builder_post(**{"n:0:days": "0"}))
    assert answer.status_code == 422
    html = answer.content.decode()
    rule = html[html.index('data-path="0"') :]
    assert "Give a number from 1 to 3650." in rule[: rule.index("</div>\n\n") + 2000]
    assert 'aria-invalid="true"' in rule


def test_saving_builds_the_segment_and_shows_its_members() -> None:
    ada = customer(external_id="ada", first_name="Ada")
    user = marketer()
    web_events_ingest(
        actor=user,
        events=[event("product_view", product_sku="TEA-1", customer={"external_id": "ada"})],
    )
    client = _client(user)
    saved = client.post("/marketing/segments/new/", _builder_post(action="save"))
    assert saved.status_code == 302, saved.content[:2000]
    detail = client.get(saved["Location"])
    assert ada.display_name.encode() in detail.content
    export = client.get(saved["Location"] + "export/")
    assert b"".join(export.streaming_content).decode().splitlines()[1].startswith(str(ada.pk))


def test_the_live_count_respects_record_scope() -> None:
    rep = marketer(Scope.OWN)
    customer(owner=rep)
    customer()
    body = {"n::op": "and"}
    assert b'data-live-count="1"' in _client(rep).post("/marketing/segments/count/", body).content
    everyone = _client(marketer()).post("/marketing/segments/count/", body).content
    assert b'data-live-count="2"' in everyone
    bad = _client(rep).post("/marketing/segments/count/", {"n::op": "and", "n:0:kind": "x"})
    assert b"Fix 1 problem" in bad.content


def test_another_users_segment_is_a_404_for_an_own_scope_user() -> None:
    segment = segment_create(actor=marketer(), data=SegmentInput(name="Theirs"))
    rep = marketer(Scope.OWN)
    assert _client(rep).get(f"/marketing/segments/{segment.pk}/").status_code == 404


def test_tracker_settings_create_a_key_and_show_its_snippet() -> None:
    admin = UserFactory(is_superuser=True)
    client = _client(admin)
    bad = client.post(
        "/marketing/tracker/",
        {"name": "Shop", "allowed_origins": "shop.example.com", "rate_per_minute": "600"},
    )
    assert bad.status_code == 422 and b"is not an origin" in bad.content
    client.post(
        "/marketing/tracker/",
        {"name": "Shop", "allowed_origins": "https://shop.example.com", "rate_per_minute": "600"},
    )
    page = client.get("/marketing/tracker/")
    assert b"/static/marketing/tracker.js" in page.content and b'data-key="pk_' in page.content
    assert _client(marketer()).get("/marketing/tracker/").status_code == 403


def test_the_customer_page_shows_web_activity_and_segments() -> None:
    ada = customer(external_id="ada")
    user = marketer()
    segment_create(actor=user, data=SegmentInput(name="Everyone here"))
    web_events_ingest(
        actor=user,
        events=[event("product_view", product_sku="TEA-9", customer={"external_id": "ada"})],
    )
    page = _client(user).get(f"/customers/{ada.pk}/")
    assert page.status_code == 200
    assert b'data-panel="web-activity"' in page.content and b"TEA-9" in page.content
    assert b"Everyone here" in page.content
