"""web_events_ingest: idempotency, validation per event, stitching, orders, timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.commerce.models import Order
from rapport.core.models import OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers.models import Interaction
from rapport.marketing.models import VisitorIdentity, WebEvent
from rapport.marketing.services import web_events_ingest
from rapport.marketing.tests.factories import customer, event, marketer

pytestmark = pytest.mark.django_db


def test_a_retried_batch_never_counts_twice() -> None:
    actor = marketer()
    batch = [event("page_view", visitor_id="v1", url="https://shop.test/") for _ in range(3)]
    first = web_events_ingest(actor=actor, events=batch)
    again = web_events_ingest(actor=actor, events=batch)
    assert (first.accepted, first.duplicate) == (3, 0)
    assert (again.accepted, again.duplicate) == (0, 3)
    assert [r.status for r in again.results] == ["duplicate"] * 3
    assert WebEvent.objects.count() == 3


def test_the_same_key_twice_in_one_batch_is_a_duplicate() -> None:
    one = event("page_view", visitor_id="v1")
    result = web_events_ingest(actor=marketer(), events=[one, dict(one)])
    assert [r.status for r in result.results] == ["accepted", "duplicate"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"type": "Bad Type"}, "type"),
        ({"type": "custom.wishlist_added"}, None),
        ({"occurred_at": "2026-12-04T10:00:00"}, "occurred_at"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"occurred_at": "2001-01-01T00:00:00Z"}, "occurred_at"),
        ({"properties": {"blob": "x" * 20_000}}, "properties"),
        ({"visitor_id": "has spaces"}, "visitor_id"),
        ({"url": "https://x.test/" + "a" * 2100}, "url"),
        ({"extra": 1}, "extra"),
        ({"type": "order_placed"}, "order"),
    ],
)
def test_each_bad_event_fails_alone_with_its_error(bad: dict[str, Any], field: str | None) -> None:
    good = event("page_view", visitor_id="v1")
    result = web_events_ingest(actor=marketer(), events=[good, {**event(), **bad}])
    assert result.results[0].status == "accepted"
    if field is None:
        assert result.results[1].status == "accepted"
        return
    assert result.results[1].status == "failed"
    assert result.results[1].errors[0]["field"].startswith(field)


def test_a_batch_over_the_limit_is_refused_whole() -> None:
    with pytest.raises(ValidationError):
        web_events_ingest(actor=marketer(), events=[event() for _ in range(1001)])


def test_writing_events_needs_the_create_grant() -> None:
    reader = marketer()
    reader.role.permissions.filter(object_type="marketing.webevent").update(can_create=False)
    reader = type(reader).objects.get(pk=reader.pk)
    with pytest.raises(PermissionDenied):
        web_events_ingest(actor=reader, events=[event()])


def test_identifying_stitches_the_visitor_with_its_history() -> None:
    actor = marketer()
    ada = customer(email="ada@example.com")
    web_events_ingest(
        actor=actor,
        events=[
            event("page_view", visitor_id="v-ada", ago=dt.timedelta(hours=3)),
            event(
                "product_view", visitor_id="v-ada", product_sku="TEA-1", ago=dt.timedelta(hours=2)
            ),
            event("page_view", visitor_id="v-other"),
        ],
    )
    assert WebEvent.objects.filter(customer__isnull=False).count() == 0
    login = web_events_ingest(
        actor=actor,
        events=[event("login", visitor_id="v-ada", customer={"email": "ADA@example.com"})],
    )
    assert login.results[0].customer_id == ada.pk
    assert WebEvent.objects.filter(visitor_id="v-ada", customer=ada).count() == 3
    assert WebEvent.objects.get(visitor_id="v-other").customer_id is None
    assert VisitorIdentity.objects.get(visitor_id="v-ada").customer_id == ada.pk
    assert OutboxEvent.objects.filter(type="visitor.identified").count() == 1
    # Later anonymous events of the stitched visitor are the customer's.
    later = web_events_ingest(actor=actor, events=[event("cart_updated", visitor_id="v-ada")])
    assert later.results[0].customer_id == ada.pk


def test_an_unknown_identity_is_accepted_anonymously_and_said() -> None:
    result = web_events_ingest(
        actor=marketer(),
        events=[event("signup", visitor_id="v9", customer={"external_id": "nobody"})],
    )
    outcome = result.results[0]
    assert outcome.status == "accepted" and outcome.customer_id is None
    assert outcome.errors[0]["field"] == "customer"


def test_signup_goes_on_the_timeline_page_views_do_not() -> None:
    ada = customer(external_id="shop-1")
    web_events_ingest(
        actor=marketer(),
        events=[
            event("page_view", customer={"external_id": "shop-1"}),
            event("signup", customer={"external_id": "shop-1"}, visitor_id="v1"),
        ],
    )
    entries = Interaction.objects.filter(customer=ada, kind="web_event")
    assert [e.summary for e in entries] == ["Signed up on the website"]


def _order_event(key: str, status: str = "paid", total: str = "25.00") -> dict[str, Any]:
    return event(
        "order_placed",
        idempotency_key=key,
        customer={"external_id": "shop-1"},
        order={
            "external_id": "web-1001",
            "number": "1001",
            "status": status,
            "currency": "eur",
            "lines": [{"sku": "TEA-1", "name": "Green tea", "quantity": 2, "unit_price": total}],
        },
    )


def test_order_placed_upserts_the_order_in_commerce_once() -> None:
    ada = customer(external_id="shop-1")
    actor = marketer()
    first = web_events_ingest(actor=actor, events=[_order_event("o-1")])
    assert first.accepted == 1, first.results
    order = Order.objects.get(external_id="web-1001")
    assert order.customer_id == ada.pk and order.total == 50 and order.currency == "EUR"
    assert web_events_ingest(actor=actor, events=[_order_event("o-1")]).duplicate == 1
    # An update event (another key) changes the same order, never a second one.
    web_events_ingest(actor=actor, events=[_order_event("o-2", status="shipped")])
    assert Order.objects.filter(external_id="web-1001").count() == 1
    assert Order.objects.get(external_id="web-1001").status == "shipped"


def test_an_order_of_an_unknown_customer_fails_and_is_not_stored() -> None:
    result = web_events_ingest(actor=marketer(), events=[_order_event("o-1")])
    assert result.results[0].status == "failed"
    assert not WebEvent.objects.exists() and not Order.objects.exists()


def test_a_bad_order_fails_its_event_only() -> None:
    customer(external_id="shop-1")
    bad = _order_event("o-1")
    bad["order"]["status"] = "teleported"
    result = web_events_ingest(actor=marketer(), events=[bad, event("page_view", visitor_id="x")])
    assert [r.status for r in result.results] == ["failed", "accepted"]
    assert result.results[0].errors[0]["field"].startswith("order")


def test_a_batch_of_known_customers_announces_them_once() -> None:
    ada = customer(external_id="shop-1")
    web_events_ingest(
        actor=marketer(Scope.OWN),
        events=[event("page_view", customer={"external_id": "shop-1"}) for _ in range(5)],
    )
    ingested = OutboxEvent.objects.get(type="web_events.ingested")
    assert ingested.data["customer_ids"] == [ada.pk]
    # Views are quiet: no per-event outbox row.
    assert not OutboxEvent.objects.filter(type="web_event.received").exists()


def test_the_tracker_path_sends_browser_events_only() -> None:
    from rapport.core.permissions import system_actor

    result = web_events_ingest(
        actor=system_actor(),
        browser_only=True,
        events=[
            event("page_view", visitor_id="v1"),
            event("signup", visitor_id="v1"),
            event("page_view", visitor_id="v1", customer={"email": "a@b.c"}),
            event("page_view"),
        ],
    )
    assert [r.status for r in result.results] == ["accepted", "failed", "failed", "failed"]
