"""The API CRUD builder (`core.api_crud`), proved on commerce's products, orders and
shipments (the first resources declared with it), plus its schema-from-dataclass helper."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from rapport.commerce import services
from rapport.commerce.models import Order, Product, Shipment
from rapport.commerce.services import LineInput, OrderInput, ShipmentInput
from rapport.commerce.tests.conftest import api_for
from rapport.commerce.tests.factories import CustomerFactory, ProductFactory, commerce_user
from rapport.core.api_crud import input_from, schema_from_dataclass
from rapport.core.api_fields import Money
from rapport.core.permissions import Scope
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def user() -> Any:
    return commerce_user()


@pytest.fixture
def api(user: Any) -> Any:
    return api_for(user)


# --- ETag / If-Match ---------------------------------------------------------------------


def test_a_stale_if_match_is_a_412_and_changes_nothing(api: Any) -> None:
    product = ProductFactory(price="4.20")
    stale = f'"{product.pk}-0"'
    patched = api.patch(f"/products/{product.pk}", {"price": "5.00"}, HTTP_IF_MATCH=stale)
    assert patched.status_code == 412
    assert patched["Content-Type"] == "application/problem+json"
    assert patched.json()["type"].endswith("/stale-version")
    deleted = api.delete(f"/products/{product.pk}", HTTP_IF_MATCH=stale)
    assert deleted.status_code == 412
    product.refresh_from_db()
    assert (str(product.price), product.version) == ("4.20", 1)


def test_the_current_etag_or_star_or_no_if_match_at_all_may_write(api: Any) -> None:
    product = ProductFactory(price="4.20")
    url = f"/products/{product.pk}"
    etag = api.get(url)["ETag"]
    assert etag == f'"{product.pk}-1"'
    first = api.patch(url, {"price": "5.00"}, HTTP_IF_MATCH=etag)
    assert (first.status_code, first["ETag"]) == (200, f'"{product.pk}-2"')
    assert api.patch(url, {"name": "Sencha"}, HTTP_IF_MATCH="*").status_code == 200
    # As before the builder: If-Match is optional (a client that sends none takes the risk).
    blind = api.patch(url, {"category": "Green"})
    assert (blind.status_code, blind.json()["version"]) == (200, 4)
    assert api.delete(url).status_code == 204
    assert not Product.objects.exists()


# --- Idempotency-Key ---------------------------------------------------------------------


def test_a_create_retried_with_its_idempotency_key_is_replayed_not_repeated(api: Any) -> None:
    body = {"sku": "TEA-1", "name": "Sencha", "price": "9.90"}
    first = api.post("/products", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.content
    pid = first.json()["id"]
    assert first["ETag"] == f'"{pid}-1"'
    assert first["Location"] == f"/api/v1/products/{pid}"
    # Spelled as every other answer (dates, amounts), so a replay cannot differ.
    assert api.get(f"/products/{pid}").json() == first.json()
    again = api.post("/products", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["ETag"] == first["ETag"]
    assert Product.objects.count() == 1
    # The same key for another request is refused; a new key creates (and hits the SKU).
    reused = api.post("/products", {**body, "name": "Other"}, HTTP_IDEMPOTENCY_KEY="k-1")
    assert reused.status_code == 422
    assert reused.json()["type"].endswith("/idempotency-key-reused")
    clash = api.post("/products", body, HTTP_IDEMPOTENCY_KEY="k-2")
    assert clash.status_code == 422
    assert [e["field"] for e in clash.json()["errors"]] == ["sku"]


def test_a_failed_create_is_not_remembered_under_its_key(api: Any, user: Any) -> None:
    customer = CustomerFactory(owner=user)
    body = {"customer_id": customer.pk, "currency": "EUR"}  # no lines and no total: 422
    assert api.post("/orders", body, HTTP_IDEMPOTENCY_KEY="o-1").status_code == 422
    # Nothing was stored under the key, so the corrected request may use it.
    fixed = {**body, "total": "5.00"}
    created = api.post("/orders", fixed, HTTP_IDEMPOTENCY_KEY="o-1")
    assert created.status_code == 201, created.content
    assert created["ETag"] == f'"{created.json()["id"]}-1"'
    replay = api.post("/orders", fixed, HTTP_IDEMPOTENCY_KEY="o-1")
    assert (replay.status_code, replay["Idempotent-Replayed"]) == (201, "true")
    assert replay.json() == created.json()
    assert Order.objects.count() == 1


# --- Record scope and the key's scopes ---------------------------------------------------


def test_records_outside_the_actors_scope_are_404_for_every_item_operation() -> None:
    rep = commerce_user(Scope.OWN)
    admin = UserFactory(is_superuser=True)
    theirs = services.order_create(
        actor=admin,
        customer=CustomerFactory(owner=UserFactory()),
        data=OrderInput(currency="EUR", lines=[LineInput(sku="A", name="A", unit_price="2.00")]),
    )
    shipment = services.shipment_create(
        actor=admin, order=theirs, data=ShipmentInput(carrier="DHL")
    )
    api = api_for(rep)
    for url in (f"/orders/{theirs.pk}", f"/shipments/{shipment.pk}"):
        for response in (api.get(url), api.patch(url, {"carrier": "UPS"}), api.delete(url)):
            assert response.status_code == 404, (url, response.content)
            assert response.json()["type"].endswith("/not-found")
    assert api.get("/orders").json()["items"] == []
    assert Order.objects.filter(pk=theirs.pk).exists()
    assert Shipment.objects.filter(pk=shipment.pk).exists()


def test_a_key_without_the_types_scope_is_a_403_on_every_operation(user: Any) -> None:
    product = ProductFactory()
    reader = api_for(user, ["commerce.product:read"])
    assert reader.get(f"/products/{product.pk}").status_code == 200
    for response in (
        reader.post("/products", {"sku": "B", "name": "B", "price": "1.00"}),
        reader.patch(f"/products/{product.pk}", {"name": "X"}),
        reader.delete(f"/products/{product.pk}"),
    ):
        assert response.status_code == 403, response.content
        assert response.json()["type"].endswith("/forbidden")
    stranger = api_for(user, ["customers.customer:read"])
    for response in (stranger.get("/products"), stranger.get(f"/products/{product.pk}")):
        assert response.status_code == 403
    assert Product.objects.get().name == product.name


# --- Lists -------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["price", "-price", "name", "sku", "-id"])
def test_cursor_pages_cover_every_product_exactly_once(api: Any, sort: str) -> None:
    for n in range(23):
        # Few distinct prices: the id tie-breaker must keep the pages exact.
        ProductFactory(price=Decimal(n % 4) + Decimal("0.50"))
    seen: list[int] = []
    cursor = ""
    for _ in range(10):
        body = api.get(f"/products?limit=5&sort={sort}" + (f"&cursor={cursor}" if cursor else ""))
        assert body.status_code == 200, body.content
        seen += [p["id"] for p in body.json()["items"]]
        cursor = body.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 23
    assert set(seen) == set(Product.objects.values_list("pk", flat=True))
    if sort.lstrip("-") == "price":
        prices = [Product.objects.get(pk=pk).price for pk in seen]
        assert prices == sorted(prices, reverse=sort.startswith("-"))


def test_list_parameters_are_validated_and_unknown_ones_refused(api: Any) -> None:
    ProductFactory(category="Tea")
    ProductFactory(category="Coffee", active=False)
    assert [p["category"] for p in api.get("/products?active=false").json()["items"]] == ["Coffee"]
    unknown = api.get("/products?colour=red")
    assert unknown.status_code == 400
    assert unknown.json()["type"].endswith("/unknown-parameter")
    assert api.get("/products?sort=cost").status_code == 422
    assert api.get("/products?limit=0").status_code == 422
    other_sort = api.get("/products?limit=1").json()["next_cursor"]
    refused = api.get(f"/products?sort=price&cursor={other_sort}")
    assert refused.status_code == 400
    assert refused.json()["type"].endswith("/invalid-cursor")
    item = api.get(f"/products/{Product.objects.first().pk}?expand=all")
    assert item.status_code == 400


def test_lists_make_the_same_few_queries_however_many_rows(
    api: Any, user: Any, django_assert_num_queries: Any
) -> None:
    """The counts the hand-written endpoints made before the builder: one query a page,
    plus one for the order lines."""
    for _ in range(30):
        customer = CustomerFactory(owner=user)
        order = services.order_create(
            actor=user,
            customer=customer,
            data=OrderInput(
                currency="EUR",
                lines=[
                    LineInput(sku="A", name="A", unit_price="1.00"),
                    LineInput(sku="B", name="B", unit_price="2.00"),
                ],
            ),
        )
        services.shipment_create(actor=user, order=order, data=ShipmentInput(carrier="DHL"))
        ProductFactory()
    api.get("/products?limit=1")  # the key's lookup and rate-limit counter are warm now
    with django_assert_num_queries(2):
        orders = api.get("/orders?limit=100").json()["items"]
    assert len(orders) == 30 and all(len(o["lines"]) == 2 for o in orders)
    with django_assert_num_queries(1):
        assert len(api.get("/shipments?limit=100").json()["items"]) == 30
    with django_assert_num_queries(1):
        assert len(api.get("/products?limit=100").json()["items"]) == 30
    with django_assert_num_queries(4):
        assert api.get(f"/orders/{orders[0]['id']}").status_code == 200


def test_operation_ids_and_paths_stay_those_of_the_hand_written_endpoints(api: Any) -> None:
    spec = api.get("/openapi.json").json()
    item = spec["paths"]["/api/v1/shipments/{shipment_id}"]
    assert item["get"]["operationId"] == "rapport_commerce_api_get_shipment"
    assert item["patch"]["operationId"] == "rapport_commerce_api_update_shipment"
    assert spec["paths"]["/api/v1/orders"]["post"]["summary"] == "Create an order with its lines"
    listed = spec["paths"]["/api/v1/products"]["get"]
    assert listed["operationId"] == "rapport_commerce_api_list_products"
    assert [p["name"] for p in listed["parameters"]] == [
        "cursor",
        "limit",
        "q",
        "category",
        "active",
        "sort",
    ]
    assert "201" in spec["paths"]["/api/v1/products"]["post"]["responses"]
    assert "204" in spec["paths"]["/api/v1/products/{product_id}"]["delete"]["responses"]
    patch = spec["components"]["schemas"]["ShipmentPatch"]["properties"]
    assert "status" not in patch and "tracking_number" in patch


# --- Schemas from dataclasses ------------------------------------------------------------


@dataclasses.dataclass
class _Line:
    quantity: int = 1
    label: str = ""


@dataclasses.dataclass
class _Thing:
    name: str | None = None
    amount: Any = None
    owner_id: int | None = None
    count: int = 0
    lines: list[_Line] | None = None


def _line_schema() -> Any:
    return schema_from_dataclass(_Line, name="TestLineIn")


def test_a_schema_takes_the_dataclass_fields_and_bounds_its_integers() -> None:
    line = _line_schema()
    schema = schema_from_dataclass(
        _Thing,
        name="TestThingIn",
        types={"amount": Money, "lines": list[line]},  # type: ignore[valid-type]
        required=("name",),
    )
    assert list(schema.model_fields) == ["name", "amount", "owner_id", "count", "lines"]
    props = schema.model_json_schema()["properties"]
    assert props["owner_id"]["anyOf"][0]["maximum"] == 2**63 - 1
    assert props["count"]["maximum"] == 2**63 - 1 and props["count"]["default"] == 0
    with pytest.raises(ValidationError) as exc:
        schema(amount="1.234", owner_id=0, count=10**30)
    assert {e["loc"][0] for e in exc.value.errors()} == {"name", "amount", "owner_id", "count"}
    thing = input_from(schema(name="A", amount="2.50", lines=[{"quantity": 3}]))
    assert thing == _Thing(name="A", amount=Decimal("2.50"), lines=[_Line(quantity=3)])


def test_a_partial_schema_converts_only_the_fields_sent() -> None:
    patch = schema_from_dataclass(
        _Thing,
        name="TestThingPatch",
        partial=True,
        types={"amount": Money, "lines": list[_line_schema()]},  # type: ignore[misc]
    )
    assert not any(f.is_required() for f in patch.model_fields.values())
    sent = patch(count=3, name=None, lines=[{"label": "x"}])
    assert input_from(sent, partial=True) == _Thing(
        count=3, name=None, lines=[_Line(quantity=1, label="x")]
    )
    assert input_from(patch(), partial=True) == _Thing()


def test_a_loosely_typed_or_unknown_field_must_be_spelled_out() -> None:
    with pytest.raises(TypeError, match="amount is typed Any"):
        schema_from_dataclass(_Thing, name="X1", types={"lines": list[int]})
    with pytest.raises(TypeError, match="nests a dataclass"):
        schema_from_dataclass(_Thing, name="X2", types={"amount": Money})
    with pytest.raises(TypeError, match="no field"):
        schema_from_dataclass(_Thing, name="X3", exclude=("colour",))


def test_the_derived_commerce_bodies_are_the_ones_the_services_take() -> None:
    from rapport.commerce.api import OrderIn, OrderPatch, ShipmentIn

    body = OrderIn(customer_id=1, lines=[{"sku": "A", "unit_price": "1.00"}], total="1.00")
    data = input_from(body)
    assert isinstance(data, OrderInput) and isinstance(data.lines[0], LineInput)
    assert (data.lines[0].quantity, data.total) == (1, Decimal("1.00"))
    assert input_from(OrderPatch(number="N-1"), partial=True) == OrderInput(number="N-1")
    shipment = input_from(ShipmentIn(order_id=1, carrier="DHL", shipped_at=dt.datetime(2026, 1, 1)))
    assert (shipment.tracking_number, shipment.location) == ("", "")


# --- Problem details ---------------------------------------------------------------------


def test_an_unforeseen_error_is_a_logged_500_problem(
    api: Any, monkeypatch: Any, caplog: Any
) -> None:
    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("boom")

    from rapport.commerce import selectors

    # commerce's list adapter looks the selector up at call time.
    monkeypatch.setattr(selectors, "product_list", broken)
    response = api.get("/products")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert (body["type"], body["instance"]) == (
        "https://rapport.dev/problems/internal",
        "/api/v1/products",
    )
    assert "Unhandled API error on /api/v1/products" in caplog.text


def test_every_known_error_has_its_problem_and_headers() -> None:
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from rapport.core.api import problem_of
    from rapport.core.errors import Conflict, RateLimited
    from rapport.core.pagination import InvalidCursor

    assert problem_of(RuntimeError()) is None
    cases = [
        (InvalidCursor(), 400, "invalid-cursor"),
        (PermissionDenied("No."), 403, "forbidden"),
        (Http404(), 404, "not-found"),
        (Product.DoesNotExist(), 404, "not-found"),
        (Conflict(), 412, "stale-version"),
        (RateLimited(), 429, "rate-limited"),
    ]
    for exc, status, kind in cases:
        found = problem_of(exc)
        assert found is not None and (found.status, found.type) == (status, kind), exc
    limited = problem_of(RateLimited())
    assert limited is not None and limited.headers == {"Retry-After": "60"}
