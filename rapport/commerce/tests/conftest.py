"""A small world for record-scope tests: three users (own, team, all) and orders of three
owners, plus an API client that authenticates with a key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from rapport.commerce import services
from rapport.commerce.services import LineInput, OrderInput, ShipmentInput
from rapport.commerce.tests.factories import ALL_TYPES, CustomerFactory, commerce_user
from rapport.core.permissions import Scope
from rapport.identity.tests.factories import TeamFactory, UserFactory, api_key_for


class ApiClient:
    """JSON calls against /api/v1 with `Authorization: Bearer <key>`."""

    def __init__(self, raw_key: str) -> None:
        self.client = Client()
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}

    def _send(self, method: str, path: str, body: Any = None, **headers: Any) -> Any:
        kwargs: dict[str, Any] = {**self.auth, **headers}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method)("/api/v1" + path, **kwargs)

    def get(self, path: str, **headers: Any) -> Any:
        return self._send("get", path, **headers)

    def post(self, path: str, body: Any, **headers: Any) -> Any:
        return self._send("post", path, body, **headers)

    def put(self, path: str, body: Any, **headers: Any) -> Any:
        return self._send("put", path, body, **headers)

    def patch(self, path: str, body: Any, **headers: Any) -> Any:
        return self._send("patch", path, body, **headers)

    def delete(self, path: str, **headers: Any) -> Any:
        return self._send("delete", path, **headers)


WRITE_SCOPES = [f"{t}:write" for t in ALL_TYPES]


def api_for(user: Any, scopes: list[str] | None = None) -> ApiClient:
    _, raw = api_key_for(user, scopes or WRITE_SCOPES)
    return ApiClient(raw)


@dataclass
class World:
    rep: Any  # own scope, in team North
    manager: Any  # team scope, in team North
    boss: Any  # all scope, no team
    orders: dict[str, Any]  # "rep", "north", "south" -> Order
    customers: dict[str, Any]


@pytest.fixture
def world(db: Any) -> World:
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    rep = commerce_user(Scope.OWN, teams=[north])
    manager = commerce_user(Scope.TEAM, teams=[north])
    boss = commerce_user(Scope.ALL)
    admin = UserFactory(is_superuser=True)
    customers = {
        "rep": CustomerFactory(owner=rep, team=north, display_name="Rep's customer"),
        "north": CustomerFactory(owner=UserFactory(), team=north, display_name="North customer"),
        "south": CustomerFactory(owner=UserFactory(), team=south, display_name="South customer"),
    }
    orders = {}
    for key, customer in customers.items():
        order = services.order_create(
            actor=admin,
            customer=customer,
            data=OrderInput(
                currency="EUR",
                number=f"ORD-{key.upper()}",
                lines=[LineInput(sku="A", name="A", quantity=1, unit_price="10.00")],
            ),
        )
        services.shipment_create(
            actor=admin,
            order=order,
            data=ShipmentInput(carrier="DHL", tracking_number=f"TRK-{key}", status="in_transit"),
        )
        orders[key] = order
    return World(rep=rep, manager=manager, boss=boss, orders=orders, customers=customers)
