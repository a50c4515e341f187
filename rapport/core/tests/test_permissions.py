"""Record scope: own / team / all, decided in one place for every interface."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from rapport.core.permissions import Scope, can, require, scope_queryset
from rapport.customers.models import Customer
from rapport.identity.tests.factories import TeamFactory, UserFactory, api_key_for, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    other = UserFactory()
    mine_owner = UserFactory()
    records = {
        "own": Customer.objects.create(display_name="Own", owner=mine_owner),
        "team": Customer.objects.create(display_name="Team", owner=other, team=north),
        "other": Customer.objects.create(display_name="Other", owner=other, team=south),
    }
    return north, mine_owner, records


def visible(user) -> set[str]:
    return set(
        scope_queryset(Customer.objects.all(), actor=user).values_list("display_name", flat=True)
    )


def test_own_scope_sees_only_own_records(world):
    _, owner, _ = world
    owner.role = user_with(Scope.OWN).role
    owner.save()
    assert visible(owner) == {"Own"}


def test_team_scope_adds_team_records(world):
    north, owner, _ = world
    owner.role = user_with(Scope.TEAM).role
    owner.save()
    owner.teams.add(north)
    assert visible(owner) == {"Own", "Team"}


def test_all_scope_sees_everything(world):
    _, owner, _ = world
    owner.role = user_with(Scope.ALL).role
    owner.save()
    assert visible(owner) == {"Own", "Team", "Other"}


def test_missing_action_sees_nothing_and_may_not_write(world):
    _, owner, records = world
    owner.role = user_with(Scope.ALL, actions=("view",)).role
    owner.save()
    assert visible(owner) == {"Own", "Team", "Other"}
    assert not can(owner, "edit", records["own"])
    with pytest.raises(PermissionDenied):
        require(owner, "delete", records["own"])


def test_user_without_role_sees_nothing(world):
    _, owner, _ = world
    assert visible(owner) == set()


def test_inactive_user_loses_every_grant(world):
    _, owner, _ = world
    owner.role = user_with(Scope.ALL).role
    owner.is_active = False
    owner.save()
    assert visible(owner) == set()


def test_api_key_scopes_narrow_the_users_grant(world):
    _, owner, records = world
    owner.role = user_with(Scope.ALL).role
    owner.save()
    key, _ = api_key_for(owner, ["customers.customer:read"])
    owner.api_key = key
    assert can(owner, "view", records["other"])
    assert not can(owner, "edit", records["own"])
    key.scopes = ["orders:write"]
    assert visible(owner) == set()


def test_catalogue_types_without_owner_follow_the_action_grant_only():
    from rapport.commerce.models import Product

    product = Product.objects.create(sku="SKU-1", name="Mug", price="9.50", currency="EUR")
    own_viewer = user_with(Scope.OWN, actions=("view",), object_types=("commerce.product",))
    assert list(scope_queryset(Product.objects.all(), actor=own_viewer)) == [product]
    assert can(own_viewer, "view", product)
    assert not can(own_viewer, "edit", product)
    nobody = user_with(Scope.ALL, object_types=("customers.customer",))
    assert list(scope_queryset(Product.objects.all(), actor=nobody)) == []
