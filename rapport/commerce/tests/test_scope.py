"""Record scope (own / team / all) on the order list, detail, 360 panel, transit and API."""

from __future__ import annotations

import pytest
from django.test import Client

from rapport.commerce import selectors
from rapport.commerce.panels import customer_panel_context
from rapport.commerce.tests.conftest import api_for

pytestmark = pytest.mark.django_db

EXPECTED = {
    "rep": {"ORD-REP"},
    "manager": {"ORD-REP", "ORD-NORTH"},
    "boss": {"ORD-REP", "ORD-NORTH", "ORD-SOUTH"},
}


@pytest.mark.parametrize("who", ["rep", "manager", "boss"])
def test_order_list_selector_page_and_api(world, who) -> None:
    user = getattr(world, who)
    numbers = set(selectors.order_list(actor=user).values_list("number", flat=True))
    assert numbers == EXPECTED[who]

    client = Client()
    client.force_login(user)
    html = client.get("/commerce/orders/").content.decode()
    for number in ("ORD-REP", "ORD-NORTH", "ORD-SOUTH"):
        assert (number in html) == (number in EXPECTED[who])

    body = api_for(user).get("/orders").json()
    assert {o["number"] for o in body["items"]} == EXPECTED[who]


@pytest.mark.parametrize("who", ["rep", "manager", "boss"])
def test_order_detail_page_and_api(world, who) -> None:
    user = getattr(world, who)
    client = Client()
    client.force_login(user)
    api = api_for(user)
    for key, order in world.orders.items():
        visible = order.number in EXPECTED[who]
        page = client.get(f"/commerce/orders/{order.pk}/")
        assert page.status_code == (200 if visible else 404), (key, page.status_code)
        response = api.get(f"/orders/{order.pk}")
        assert response.status_code == (200 if visible else 404)
        if not visible:
            assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("who", ["rep", "manager", "boss"])
def test_customer_panel_shows_only_visible_orders_and_shipments(world, who) -> None:
    user = getattr(world, who)
    for key, customer in world.customers.items():
        context = customer_panel_context(actor=user, customer=customer)
        visible = f"ORD-{key.upper()}" in EXPECTED[who]
        assert [o.number for o in context["recent_orders"]] == (
            [f"ORD-{key.upper()}"] if visible else []
        )
        assert context["order_count"] == (1 if visible else 0)
        assert len(context["in_transit"]) == (1 if visible else 0)


@pytest.mark.parametrize("who", ["rep", "manager", "boss"])
def test_goods_in_transit_and_shipments_api(world, who) -> None:
    user = getattr(world, who)
    expected = {f"TRK-{n.split('-')[1].lower()}" for n in EXPECTED[who]}
    page = selectors.shipments_in_transit(actor=user)
    assert {s.tracking_number for s in page.items} == expected
    body = api_for(user).get("/shipments?in_transit=true").json()
    assert {s["tracking_number"] for s in body["items"]} == expected


def test_a_rep_cannot_change_an_order_they_cannot_see(world) -> None:
    api = api_for(world.rep)
    south = world.orders["south"]
    response = api.post(f"/orders/{south.pk}/status", {"status": "paid"})
    assert response.status_code == 404
    client = Client()
    client.force_login(world.rep)
    assert (
        client.post(f"/commerce/orders/{south.pk}/status/", {"status": "paid"}).status_code == 404
    )
    south.refresh_from_db()
    assert south.status == "shipped"


def test_a_read_only_api_key_may_not_write(world) -> None:
    api = api_for(world.boss, ["commerce.order:read", "customers.customer:read"])
    assert api.get("/orders").status_code == 200
    response = api.post(
        "/orders",
        {"customer_id": world.customers["south"].pk, "currency": "EUR", "total": "5.00"},
    )
    assert response.status_code == 403
    assert response.json()["type"].endswith("/forbidden")
