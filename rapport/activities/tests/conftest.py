"""Activities test world: a rep (own scope), a manager (team scope) and a boss (all scope)
with customers and activities of three owners; the real SMTP server from identity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from rapport.activities import services
from rapport.activities.services import ActivityInput
from rapport.commerce.tests.factories import CustomerFactory
from rapport.core.permissions import ACTIONS, Scope
from rapport.identity.tests.conftest import Mailbox, smtp  # noqa: F401  (fixture)
from rapport.identity.tests.factories import TeamFactory, UserFactory, user_with

TYPES = ("customers.customer", "activities.activity", "commerce.order")


def activity_user(
    scope: Scope | str = Scope.ALL, actions: tuple[str, ...] = ACTIONS, **kw: Any
) -> Any:
    return user_with(scope, actions, object_types=TYPES, **kw)


def task(actor: Any = None, subject: str = "Follow up", **fields: Any) -> Any:
    data = ActivityInput(kind=fields.pop("kind", "task"), subject=subject, **fields)
    return services.activity_create(actor=actor, data=data)


@dataclass
class World:
    rep: Any
    mate: Any  # own scope, same team as the rep
    manager: Any
    boss: Any
    stranger: Any  # own scope, team South
    customers: dict[str, Any]
    activities: dict[str, Any]  # "rep", "mate", "south" -> Activity


@pytest.fixture
def world(db: Any) -> World:
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    rep = activity_user(Scope.OWN, teams=[north], email="rep@example.com")
    mate = activity_user(Scope.OWN, teams=[north], email="mate@example.com")
    manager = activity_user(Scope.TEAM, teams=[north], email="manager@example.com")
    boss = activity_user(Scope.ALL, email="boss@example.com")
    stranger = activity_user(Scope.OWN, teams=[south], email="stranger@example.com")
    customers = {
        "north": CustomerFactory(owner=rep, team=north, display_name="North customer"),
        "south": CustomerFactory(owner=stranger, team=south, display_name="South customer"),
    }
    soon = timezone.now() + dt.timedelta(hours=2)
    activities = {
        "rep": task(rep, "Rep's task", customer_id=customers["north"].pk, due_at=soon),
        "mate": task(mate, "Mate's task", due_at=soon),
        "south": task(stranger, "South task", due_at=soon),
    }
    return World(rep, mate, manager, boss, stranger, customers, activities)


@pytest.fixture
def admin(db: Any) -> Any:
    return UserFactory(is_superuser=True, email="admin@example.com")
