"""Commerce input at the edge: amounts bounded like their Decimal(12, 2) columns, 64-bit
ids, and lists a key's scopes do not cover answered 403 (never a 500, never written)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from rapport.commerce.models import Order, Product
from rapport.commerce.money import parse_amount
from rapport.commerce.tests.conftest import api_for
from rapport.commerce.tests.factories import CustomerFactory, ProductFactory, commerce_user

pytestmark = pytest.mark.django_db

OUT_OF_RANGE = ["1e+300", "-1e+300", "100000000000", 1e300, "NaN", "Infinity", "1e-300"]


@pytest.fixture
def user() -> Any:
    return commerce_user()


@pytest.fixture
def api(user: Any) -> Any:
    return api_for(user)


def _problem_fields(response: Any) -> set[str]:
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    return {e["field"] for e in response.json()["errors"]}


@pytest.mark.parametrize("amount", OUT_OF_RANGE)
def test_a_price_out_of_range_is_a_422_and_nothing_is_written(api: Any, amount: Any) -> None:
    created = api.post("/products", {"sku": "X1", "name": "X", "price": amount})
    assert _problem_fields(created) == {"price"}
    assert not Product.objects.exists()
    product = ProductFactory(price="4.20")
    patched = api.patch(f"/products/{product.pk}", {"price": amount})
    assert _problem_fields(patched) == {"price"}
    product.refresh_from_db()
    assert str(product.price) == "4.20"


@pytest.mark.parametrize("amount", OUT_OF_RANGE)
@pytest.mark.parametrize("field", ["tax", "shipping", "total"])
def test_order_amounts_out_of_range_are_a_422(api: Any, user: Any, field: str, amount: Any) -> None:
    customer = CustomerFactory(owner=user)
    body = {"customer_id": customer.pk, "currency": "EUR", field: amount}
    assert _problem_fields(api.post("/orders", body)) == {field}
    assert _problem_fields(api.put("/orders/external/erp-1", body)) == {field}
    assert not Order.objects.exists()
    order = api.post("/orders", {"customer_id": customer.pk, "currency": "EUR", "total": "5.00"})
    assert order.status_code == 201, order.content
    patched = api.patch(f"/orders/{order.json()['id']}", {field: amount})
    assert _problem_fields(patched) == {field}
    assert str(Order.objects.get().total) == "5.00"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"sku": "A", "unit_price": "1e300"}, "lines.0.unit_price"),
        ({"sku": "A", "unit_price": "1.00", "quantity": 10**30}, "lines.0.quantity"),
        ({"product_id": 10**23, "unit_price": "1.00"}, "lines.0.product_id"),
        ({"sku": "A", "unit_price": [1]}, "lines.0.unit_price"),
    ],
)
def test_malformed_order_lines_are_a_422(api: Any, user: Any, line: Any, field: str) -> None:
    customer = CustomerFactory(owner=user)
    response = api.post("/orders", {"customer_id": customer.pk, "currency": "EUR", "lines": [line]})
    assert field in _problem_fields(response)
    malformed = api.post("/orders", {"customer_id": customer.pk, "lines": {"0": line}})
    assert "lines" in _problem_fields(malformed)
    assert not Order.objects.exists()


def test_parse_amount_refuses_huge_amounts_with_a_message_not_an_exception() -> None:
    for value in ["1e+300", "-1e+300", "1E+30"]:
        with pytest.raises(ValidationError, match=r"larger than the largest amount"):
            parse_amount(value, allow_negative=True)


@pytest.mark.parametrize("path", ["/orders", "/products", "/shipments"])
def test_a_key_without_commerce_scopes_gets_403_not_an_empty_list(user: Any, path: str) -> None:
    api = api_for(user, ["customers.customer:read"])
    response = api.get(path)
    assert response.status_code == 403, response.content
    assert response.json()["type"].endswith("/forbidden")
    assert api_for(user).get(path).status_code == 200


@pytest.mark.parametrize(("field", "message"), [("owner_id", "user"), ("team_id", "team")])
def test_assigning_an_order_to_no_such_user_or_team_is_a_422(field: str, message: str) -> None:
    boss = commerce_user("all")
    api = api_for(boss)
    customer = CustomerFactory(owner=boss)
    body = {"customer_id": customer.pk, "currency": "EUR", "total": "5.00", field: 424242}
    response = api.post("/orders", body)
    assert response.json()["errors"] == [
        {"field": field, "message": f"There is no {message} #424242."}
    ]
    assert not Order.objects.exists()
