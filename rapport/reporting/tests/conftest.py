"""A small world for report tests: customers, orders and interactions of three owners in
two teams over several months, and users who see their own, their team's or all."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from rapport.commerce.models import Order
from rapport.commerce.tests.factories import CustomerFactory, commerce_user
from rapport.core.permissions import Scope
from rapport.customers.models import Interaction
from rapport.identity.tests.factories import TeamFactory, UserFactory

COUNTRIES = ["NL", "DE", "FR", "", "NL", "DE", "NL"]
STAGES = ["lead", "customer", "customer", "churned", "subscriber"]
STATUSES = ["paid", "delivered", "cancelled", "pending"]
KINDS = ["email", "call", "note", "order"]


@dataclass
class World:
    rep: Any  # own scope, team North
    manager: Any  # team scope, team North
    boss: Any  # all
    admin: Any
    other: Any  # owns records in North, not a viewer
    customers: list[Any]


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, 30), tzinfo=dt.UTC)


@pytest.fixture
def world(db: Any) -> World:
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    rep = commerce_user(Scope.OWN, teams=[north])
    manager = commerce_user(Scope.TEAM, teams=[north])
    boss = commerce_user(Scope.ALL)
    admin = UserFactory(is_superuser=True)
    other = UserFactory()
    owners = [(rep, north), (other, north), (other, south), (None, None)]
    start = dt.date(2025, 11, 27)
    customers = []
    for i in range(28):
        owner, team = owners[i % len(owners)]
        day = start + dt.timedelta(days=11 * i)
        customer = CustomerFactory(
            owner=owner,
            team=team,
            country=COUNTRIES[i % len(COUNTRIES)],
            lifecycle_stage=STAGES[i % len(STAGES)],
            source="web" if i % 3 else "",
        )
        customer.created_at = _at(day, i % 24)
        customer.save(update_fields=["created_at"])
        customers.append(customer)
        for j in range(i % 3 + 1):
            Order.objects.create(
                customer=customer,
                owner=owner,
                team=team,
                number=f"ORD-{i}-{j}",
                currency="EUR",
                status=STATUSES[(i + j) % len(STATUSES)],
                total=Decimal(f"{10 + i * 3 + j}.{i % 100:02d}"),
                ordered_at=_at(day + dt.timedelta(days=j * 20), (i * 7 + j) % 24),
            )
        for j in range(i % 4 + 1):
            Interaction.objects.create(
                customer=customer,
                kind=KINDS[(i + j) % len(KINDS)],
                summary=f"Entry {i}-{j}",
                occurred_at=_at(day + dt.timedelta(days=j * 5), (i + j) % 24),
            )
    return World(rep, manager, boss, admin, other, customers)
