"""A small world for sales tests: a pipeline, and users with own/team/all scope."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from rapport.core.permissions import Scope
from rapport.identity.tests.factories import TeamFactory, UserFactory, api_key_for
from rapport.sales import services
from rapport.sales.tests.factories import (
    SALES_TYPES,
    CustomerFactory,
    make_pipeline,
    sales_user,
)


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

    def patch(self, path: str, body: Any, **headers: Any) -> Any:
        return self._send("patch", path, body, **headers)

    def delete(self, path: str, **headers: Any) -> Any:
        return self._send("delete", path, **headers)


def api_for(user: Any, scopes: list[str] | None = None) -> ApiClient:
    _, raw = api_key_for(user, scopes or [f"{t}:write" for t in SALES_TYPES])
    return ApiClient(raw)


@dataclass
class World:
    rep: Any  # own scope, team North
    manager: Any  # team scope, team North
    boss: Any  # all scope
    admin: Any
    north: Any
    south: Any
    pipeline: Any
    customers: dict[str, Any]
    deals: dict[str, Any]
    leads: dict[str, Any]


@pytest.fixture
def pipeline(db: Any) -> Any:
    return make_pipeline()


@pytest.fixture
def world(db: Any, pipeline: Any) -> World:
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    rep = sales_user(Scope.OWN, teams=[north])
    manager = sales_user(Scope.TEAM, teams=[north])
    boss = sales_user(Scope.ALL)
    admin = UserFactory(is_superuser=True)
    other_north, other_south = UserFactory(), UserFactory()
    customers = {
        "rep": CustomerFactory(owner=rep, team=north, display_name="Rep's customer"),
        "north": CustomerFactory(owner=other_north, team=north, display_name="North customer"),
        "south": CustomerFactory(owner=other_south, team=south, display_name="South customer"),
    }
    owners = {"rep": (rep, north), "north": (other_north, north), "south": (other_south, south)}
    deals, leads = {}, {}
    for key, customer in customers.items():
        owner, team = owners[key]
        deals[key] = services.deal_create(
            actor=admin,
            customer=customer,
            data=services.DealInput(
                name=f"Deal {key}", amount="1000.00", owner_id=owner.pk, team_id=team.pk
            ),
        )
        leads[key] = services.lead_create(
            actor=admin,
            data=services.LeadInput(
                first_name="Lead",
                last_name=key.capitalize(),
                email=f"{key}@lead.example",
                owner_id=owner.pk,
                team_id=team.pk,
            ),
        )
    return World(
        rep=rep,
        manager=manager,
        boss=boss,
        admin=admin,
        north=north,
        south=south,
        pipeline=pipeline,
        customers=customers,
        deals=deals,
        leads=leads,
    )
