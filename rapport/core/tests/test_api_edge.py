"""Validation at the API's edge: undeclared query parameters, hostile cursors and
integers past 64 bits are 4xx problems for every endpoint, never a 500 or a silent no-op."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from rapport.commerce.tests.conftest import api_for
from rapport.commerce.tests.factories import ALL_TYPES
from rapport.core.api_fields import INT64_MAX
from rapport.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from rapport.core.params import parse_id_param, parse_int_param
from rapport.customers.tests.api_support import ApiClient
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BIG = "99999999999999999999999"


@pytest.fixture
def admin_api() -> Any:
    admin = UserFactory(is_superuser=True)
    scopes = [f"{t}:write" for t in ALL_TYPES] + [
        "customers.customer:write",
        "integrations.webhookendpoint:write",
    ]
    return api_for(admin, scopes), admin


def _endpoint(api: Any) -> int:
    created = api.post("/webhooks", {"url": "https://hooks.example.com/in", "event_types": ["*"]})
    assert created.status_code == 201, created.content
    return int(created.json()["id"])


@pytest.mark.parametrize(
    "path",
    [
        "/products",
        "/orders",
        "/shipments",
        "/duplicates",
        "/persons",
        "/webhooks",
        "/webhooks/{endpoint}/deliveries",
        "/webhook-event-types",
        "/me",
    ],
)
def test_an_undeclared_query_parameter_is_a_400_naming_it(admin_api: Any, path: str) -> None:
    api, _ = admin_api
    url = path.format(endpoint=_endpoint(api)) if "{endpoint}" in path else path
    assert api.get(url).status_code == 200, url
    response = api.get(url + "?owner__password__startswith=pbkdf2")
    assert response.status_code == 400, (url, response.content)
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/unknown-parameter")
    assert [e["field"] for e in body["errors"]] == ["owner__password__startswith"]


def test_declared_parameters_still_work_and_unknown_ones_on_writes_are_refused(
    admin_api: Any,
) -> None:
    api, _ = admin_api
    assert api.get("/products?limit=5&sort=-name&q=tea").status_code == 200
    created = api.post("/products?dry_run=1", {"sku": "A", "name": "A", "price": "1.00"})
    assert created.status_code == 400
    assert created.json()["errors"] == [
        {"field": "dry_run", "message": "Not a parameter of this endpoint."}
    ]


def test_authentication_answers_before_the_unknown_parameter() -> None:
    response = ApiClient(None).get("/products?owner__password__startswith=x")
    assert response.status_code == 401


def _cursor(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


HOSTILE_CURSORS = [
    {"s": "id", "v": ["x"]},
    {"s": "id", "v": [[1]]},
    {"s": "id", "v": [{"dt": "yesterday"}]},
    {"s": "id", "v": [10**30]},
    {"s": "id", "v": [True]},
    {"s": "id", "v": []},
    {"s": "id", "v": [1, 2, 3, 4, 5]},
    {"s": "id", "v": 1},
    {"s": "id", "v": [1], "x": 1},
    {"s": "-ordered_at", "v": [1]},
    ["id", [1]],
    b'{"s": "id", "v": [Infinity]}',
    b'{"s": "id", "v": [NaN]}',
    b'{"s": "id", "v": [1e400]}',
    b"not json",
]


@pytest.mark.parametrize("data", HOSTILE_CURSORS, ids=repr)
def test_the_one_cursor_decoder_refuses_what_it_did_not_write(data: Any) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(_cursor(data), "id")


def test_the_cursor_decoder_reads_back_what_it_wrote() -> None:
    import datetime as dt
    from decimal import Decimal

    values = [dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), 7]
    assert decode_cursor(encode_cursor("-at", values), "-at") == values
    assert decode_cursor(encode_cursor("t", [Decimal("1.50"), 3]), "t") == [Decimal("1.50"), 3]
    assert decode_cursor(encode_cursor("p", [0.25, INT64_MAX]), "p") == [0.25, INT64_MAX]
    with pytest.raises(InvalidCursor):
        decode_cursor("A" * 5000, "id")


@pytest.mark.parametrize(
    "data",
    [
        {"s": "id", "v": [[1]]},
        {"s": "id", "v": ["a"]},
        {"s": "-id", "v": ["x"]},
        {"s": "expected_delivery", "v": ["not a date", 1]},
        {"s": "expected_delivery", "v": [[1], 1]},
        b'{"s": "id", "v": [Infinity]}',
    ],
    ids=repr,
)
@pytest.mark.parametrize("path", ["/shipments", "/orders", "/products", "/persons"])
def test_a_tampered_cursor_is_a_400_on_every_list(admin_api: Any, path: str, data: Any) -> None:
    api, _ = admin_api
    sort = ""
    if isinstance(data, dict) and data["s"].lstrip("-") == "expected_delivery":
        if path != "/shipments":
            return
        sort = "&sort=expected_delivery"
    response = api.get(f"{path}?cursor={_cursor(data)}{sort}")
    assert response.status_code == 400, response.content
    assert response.json()["type"].endswith("/invalid-cursor")


@pytest.mark.parametrize(
    "path",
    [
        f"/orders?customer_id={BIG}",
        f"/shipments?customer_id={BIG}",
        f"/shipments?order_id={BIG}",
        f"/persons?owner={BIG}",
        f"/persons?team={BIG}",
        f"/products/{BIG}",
        f"/orders/{BIG}",
        f"/persons/{BIG}",
        f"/notes?customer_id={BIG}",
        f"/relationships?customer_id={BIG}",
        f"/merges/{BIG}",
        f"/webhooks/{BIG}",
        f"/persons?limit={BIG}",
    ],
)
def test_integers_past_64_bits_are_a_422_not_an_overflow(admin_api: Any, path: str) -> None:
    api, _ = admin_api
    response = api.get(path)
    assert response.status_code == 422, (path, response.content)
    assert response.json()["type"].endswith("/validation")


def _integer_schemas(node: Any, where: str = "") -> list[tuple[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "integer":
            found.append((where, node))
        for key, child in node.items():
            found += _integer_schemas(child, f"{where}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += _integer_schemas(child, f"{where}/{i}")
    return found


def test_every_integer_the_api_accepts_is_bounded_to_64_bits(client: Any) -> None:
    """A new endpoint taking a bare `int` would let a 23-digit number reach the database."""
    schema = client.get("/api/v1/openapi.json").json()
    inputs: list[tuple[str, Any]] = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            for param in operation.get("parameters", []):
                inputs += _integer_schemas(param["schema"], f"{method} {path} {param['name']}")
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                inputs += _integer_schemas(media["schema"], f"{method} {path} body")
    # Request bodies refer to components; walk those the bodies name (inputs only).
    components = schema["components"]["schemas"]
    input_names = {
        name for name in components if name.endswith(("In", "Patch", "Params")) or "Upsert" in name
    }
    for name in sorted(input_names):
        if name.endswith("Out"):
            continue
        inputs += _integer_schemas(components[name], name)
    assert inputs, "the walk found no integers at all"
    unbounded = [where for where, node in inputs if node.get("maximum", INT64_MAX + 1) > INT64_MAX]
    assert not unbounded, unbounded


def test_the_integer_parameter_parser() -> None:
    assert parse_int_param("n", " 42 ") == 42
    assert parse_int_param("n", "-7") == -7
    assert parse_id_param("owner", str(INT64_MAX)) == INT64_MAX
    for bad in [BIG, "1_000", "٣", "1.5", "", "abc", "0", "-1", str(INT64_MAX + 1)]:
        with pytest.raises(ValidationError) as exc:
            parse_id_param("owner", bad)
        assert list(exc.value.message_dict) == ["owner"]
