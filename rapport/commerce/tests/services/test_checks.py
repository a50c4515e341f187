"""Who may hand a commerce record to whom (`check_assignment`), on the object type's grant."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.commerce import services
from rapport.commerce.models import Order
from rapport.commerce.services import LineInput, OrderInput
from rapport.commerce.tests.factories import CustomerFactory, commerce_user
from rapport.core.permissions import Scope
from rapport.identity.tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


ORDER = "commerce.order"


def _assign(actor, owner_id=None, team_id=None, current=None) -> None:
    services.check_assignment(
        actor=actor, object_type=ORDER, owner_id=owner_id, team_id=team_id, current=current
    )


def test_all_scope_may_assign_anyone_but_only_people_and_teams_that_exist() -> None:
    boss = commerce_user(Scope.ALL)
    _assign(boss, owner_id=UserFactory().pk, team_id=TeamFactory().pk)
    with pytest.raises(ValidationError) as missing:
        _assign(boss, owner_id=999_999, team_id=999_999)
    assert set(missing.value.message_dict) == {"owner_id", "team_id"}


def test_team_scope_assigns_within_its_teams_only() -> None:
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    manager = commerce_user(Scope.TEAM, teams=[north])
    colleague = UserFactory(teams=[north])
    _assign(manager, owner_id=colleague.pk, team_id=north.pk)
    with pytest.raises(PermissionDenied, match="your own teams"):
        _assign(manager, team_id=south.pk)
    with pytest.raises(PermissionDenied, match="people in your teams"):
        _assign(manager, owner_id=UserFactory(teams=[south]).pk)


def test_own_scope_may_keep_or_take_a_record_but_not_give_it_away() -> None:
    north = TeamFactory(name="North")
    rep = commerce_user(Scope.OWN, teams=[north])
    order = Order(owner_id=UserFactory().pk, team_id=north.pk)
    _assign(rep, owner_id=rep.pk, current=order)
    _assign(rep, owner_id=order.owner_id, team_id=north.pk, current=order)
    with pytest.raises(PermissionDenied, match="assigning records to others"):
        _assign(rep, owner_id=UserFactory().pk, current=order)
    with pytest.raises(PermissionDenied):
        _assign(rep, team_id=TeamFactory(name="South").pk, current=order)


def test_order_update_applies_the_rule_before_writing() -> None:
    rep = commerce_user(Scope.OWN)
    order = services.order_create(
        actor=rep,
        customer=CustomerFactory(owner=rep),
        data=OrderInput(currency="EUR", lines=[LineInput(sku="A", name="A", unit_price="1.00")]),
    )
    with pytest.raises(PermissionDenied):
        services.order_update(actor=rep, order=order, data=OrderInput(owner_id=UserFactory().pk))
    assert Order.objects.get(pk=order.pk).owner_id == rep.pk
