"""The commerce API: CRUD, problem details for bad input, keyset pages, ETag / If-Match."""

from __future__ import annotations

import datetime as dt

import pytest

from rapport.commerce.models import Order, Product, Shipment
from rapport.commerce.services import LineInput, OrderRow, orders_bulk_upsert
from rapport.commerce.tests.conftest import api_for
from rapport.commerce.tests.factories import CustomerFactory, ProductFactory, commerce_user
from rapport.customers.models import Interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return commerce_user()


@pytest.fixture
def api(user):
    return api_for(user)


@pytest.fixture
def customer(user):
    return CustomerFactory(owner=user)


def test_product_crud(api) -> None:
    created = api.post(
        "/products",
        {"sku": "TEA-9", "name": "Gyokuro", "price": "18.50", "currency": "jpy", "category": "Tea"},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["price"], body["currency"], body["version"]) == ("18.50", "JPY", 1)
    pid = body["id"]

    got = api.get(f"/products/{pid}")
    assert got["ETag"] == f'"{pid}-1"'
    patched = api.patch(f"/products/{pid}", {"price": "19.00"}, HTTP_IF_MATCH=f'"{pid}-1"')
    assert patched.status_code == 200
    assert (patched.json()["price"], patched["ETag"]) == ("19.00", f'"{pid}-2"')
    stale = api.patch(f"/products/{pid}", {"price": "20.00"}, HTTP_IF_MATCH=f'"{pid}-1"')
    assert stale.status_code == 412
    assert stale.json()["type"].endswith("/stale-version")
    assert Product.objects.get(pk=pid).price == 19

    listed = api.get("/products?category=Tea").json()
    assert [p["sku"] for p in listed["items"]] == ["TEA-9"]
    assert api.delete(f"/products/{pid}").status_code == 204
    assert api.get(f"/products/{pid}").status_code == 404


def test_product_bad_input_is_a_problem_with_fields(api) -> None:
    response = api.post(
        "/products", {"sku": "X", "name": "X", "price": "1.234", "currency": "EURO"}
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"price", "currency"}


def test_order_crud_with_lines(api, customer) -> None:
    product = ProductFactory(price="4.20")
    created = api.post(
        "/orders",
        {
            "customer_id": customer.pk,
            "currency": "EUR",
            "channel": "web",
            "shipping": "3.90",
            "lines": [
                {"product_id": product.pk, "quantity": 2},
                {"sku": "GIFT", "name": "Gift wrap", "unit_price": "1.50"},
            ],
        },
    )
    assert created.status_code == 201, created.content
    order = created.json()
    assert (order["subtotal"], order["total"]) == ("9.90", "13.80")
    assert [ln["line_total"] for ln in order["lines"]] == ["8.40", "1.50"]
    assert Interaction.objects.filter(customer=customer, kind="order").count() == 1

    detail = api.get(f"/orders/{order['id']}")
    assert detail["ETag"] == f'"{order["id"]}-1"'
    assert detail.json()["shipments"] == []

    status = api.post(
        f"/orders/{order['id']}/status", {"status": "paid"}, HTTP_IF_MATCH=detail["ETag"]
    )
    assert status.status_code == 200
    assert status.json()["status"] == "paid"
    stale = api.patch(f"/orders/{order['id']}", {"number": "X"}, HTTP_IF_MATCH=detail["ETag"])
    assert stale.status_code == 412
    bad_move = api.post(f"/orders/{order['id']}/status", {"status": "pending"})
    assert bad_move.status_code == 422
    assert bad_move.json()["errors"][0]["field"] == "status"

    patched = api.patch(f"/orders/{order['id']}", {"lines": [{"sku": "A", "unit_price": "2.00"}]})
    assert patched.status_code == 200
    assert (patched.json()["subtotal"], patched.json()["total"]) == ("2.00", "5.90")

    assert api.delete(f"/orders/{order['id']}").status_code == 204
    assert not Order.objects.exists()


def test_order_problem_details_for_bad_input(api, customer, user) -> None:
    cases = [
        ({"currency": "EUX", "total": "5.00"}, "currency"),
        (
            {"currency": "EUR", "lines": [{"sku": "A", "unit_price": "1.00", "quantity": -2}]},
            "lines.0.quantity",
        ),
        ({"currency": "EUR", "lines": [{"sku": "A", "unit_price": "-1.00"}]}, "lines.0.unit_price"),
        ({"currency": "EUR", "total": "5.00", "status": "shipped-ish"}, "status"),
        ({"currency": "EUR"}, "lines"),
    ]
    for body, field in cases:
        response = api.post("/orders", {"customer_id": customer.pk, **body})
        assert response.status_code == 422, (body, response.content)
        assert response["Content-Type"] == "application/problem+json"
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()
    unknown = api.post("/orders", {"customer_id": 999999, "currency": "EUR", "total": "1.00"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"] == [
        {"field": "customer_id", "message": "No customer #999999 that you may see."}
    ]
    malformed = api.post("/orders", {"customer_id": "abc"})
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "customer_id"
    assert not Order.objects.exists()


def test_put_by_external_id_is_an_idempotent_upsert(api, customer) -> None:
    body = {"customer_id": customer.pk, "currency": "EUR", "total": "42.00", "status": "paid"}
    first = api.put("/orders/external/SHOP-77", body)
    second = api.put("/orders/external/SHOP-77", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["version"] == 1
    assert Order.objects.filter(external_id="SHOP-77").count() == 1


def test_shipment_crud_and_status_endpoint(api, customer) -> None:
    order = api.post("/orders", {"customer_id": customer.pk, "currency": "EUR", "total": "9.00"})
    order_id = order.json()["id"]
    created = api.post(
        "/shipments",
        {
            "order_id": order_id,
            "carrier": "DHL",
            "tracking_number": "JJD0001",
            "tracking_url": "https://www.dhl.com/track?id=JJD0001",
            "expected_delivery": "2030-05-02",
        },
    )
    assert created.status_code == 201, created.content
    sid = created.json()["id"]
    moved = api.post(
        f"/shipments/{sid}/status",
        {"status": "in_transit", "location": "Leipzig"},
        HTTP_IF_MATCH=f'"{sid}-1"',
    )
    assert moved.status_code == 200
    body = moved.json()
    assert body["status"] == "in_transit"
    assert [e["location"] for e in body["events"]] == ["Leipzig", ""]
    assert moved["ETag"] == f'"{sid}-2"'
    patched = api.patch(f"/shipments/{sid}", {"tracking_number": "JJD0002"})
    assert patched.json()["tracking_number"] == "JJD0002"
    refused = api.patch(f"/shipments/{sid}", {"tracking_url": "javascript:alert(1)"})
    assert refused.status_code == 422
    assert api.get(f"/orders/{order_id}").json()["shipments"][0]["id"] == sid
    assert api.get(f"/shipments?order_id={order_id}").json()["items"][0]["id"] == sid
    assert api.delete(f"/shipments/{sid}").status_code == 204
    assert not Shipment.objects.exists()
    missing = api.post("/shipments", {"order_id": 424242, "carrier": "UPS"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "order_id"


def _many_orders(user, n):
    customers = [CustomerFactory(owner=user) for _ in range(7)]
    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    rows = [
        OrderRow(
            external_id=f"E-{i}",
            customer_id=customers[i % 7].pk,
            # Many share a timestamp: the id tie-breaker must keep pages exact.
            ordered_at=base + dt.timedelta(hours=i // 3),
            currency="EUR",
            lines=[
                LineInput(sku="A", name="A", quantity=1 + i % 3, unit_price=f"{1 + i % 5}.25"),
                LineInput(sku="B", name="B", unit_price="0.75"),
            ],
        )
        for i in range(n)
    ]
    result = orders_bulk_upsert(actor=user, rows=rows)
    assert result.created == n


@pytest.mark.parametrize("sort", ["-ordered_at", "ordered_at", "total", "-total", "id"])
def test_keyset_pages_cover_every_order_exactly_once(api, user, sort) -> None:
    _many_orders(user, 95)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        query = f"/orders?limit=20&sort={sort}" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(query).json()
        seen.extend(o["id"] for o in body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 5
    assert len(seen) == 95
    assert set(seen) == set(Order.objects.values_list("id", flat=True))


def test_list_limits_and_filters_are_validated(api, user) -> None:
    assert api.get("/orders?limit=1000").status_code == 422
    assert api.get("/orders?sort=customer__owner__password").status_code == 422
    assert api.get("/orders?status=lost").status_code == 422
    # A tampered cursor is the documented 400 `invalid-cursor` (one decoder for every list).
    garbage = api.get("/orders?cursor=garbage")
    assert garbage.status_code == 400
    assert garbage.json()["type"].endswith("/invalid-cursor")


def test_api_lists_make_a_constant_number_of_queries(
    api, user, django_assert_max_num_queries
) -> None:
    _many_orders(user, 120)
    orders = list(Order.objects.all()[:60])
    for order in orders:
        Shipment.objects.create(
            order=order, customer_id=order.customer_id, carrier="DHL", owner=user
        )
    api.get("/orders?limit=1")  # warm the key's rate-limit counter and caches
    with django_assert_max_num_queries(8):
        body = api.get("/orders?limit=100").json()
    assert len(body["items"]) == 100
    assert all(len(o["lines"]) == 2 for o in body["items"])
    with django_assert_max_num_queries(8):
        assert len(api.get("/shipments?limit=100").json()["items"]) == 60
    with django_assert_max_num_queries(8):
        assert len(api.get("/products?limit=100").json()["items"]) == 0
    order = orders[0]
    with django_assert_max_num_queries(10):
        assert api.get(f"/orders/{order.pk}").status_code == 200


def test_owner_and_team_cannot_be_mass_assigned_beyond_the_role(user) -> None:
    from rapport.core.permissions import Scope
    from rapport.identity.tests.factories import UserFactory

    rep = commerce_user(Scope.OWN)
    customer = CustomerFactory(owner=rep)
    someone = UserFactory()
    body = {"customer_id": customer.pk, "currency": "EUR", "total": "5.00", "owner_id": someone.pk}
    refused = api_for(rep).post("/orders", body)
    assert refused.status_code == 403
    assert not Order.objects.exists()
    allowed = api_for(user).post("/orders", body)
    assert allowed.status_code == 201
    assert allowed.json()["owner_id"] == someone.pk
    # Unknown fields (e.g. version) are not writable.
    order_id = allowed.json()["id"]
    api_for(user).patch(
        f"/orders/{order_id}", {"version": 99, "created_at": "2000-01-01T00:00:00Z"}
    )
    assert Order.objects.get(pk=order_id).version == 1


def test_openapi_documents_the_commerce_endpoints(api) -> None:
    spec = api.get("/openapi.json").json()
    for path in ("/api/v1/orders", "/api/v1/orders/{order_id}/status", "/api/v1/shipments"):
        assert path in spec["paths"], sorted(spec["paths"])
    order_in = spec["components"]["schemas"]["OrderIn"]["properties"]
    assert "owner_id" in order_in and "version" not in order_in and "subtotal" not in order_in
