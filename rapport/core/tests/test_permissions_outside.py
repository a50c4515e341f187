"""Outside actors (a portal customer, a partner's user): only their customers' records,
only to view them, never a staff action; staff rules are untouched (test_permissions)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from rapport.commerce import services as commerce
from rapport.commerce.models import Order, Product
from rapport.core.permissions import (
    ACTIONS,
    PartnerUser,
    PortalCustomer,
    Scope,
    can,
    require,
    scope_queryset,
)
from rapport.customers.models import Customer
from rapport.identity.tests.factories import user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    staff = user_with(
        Scope.ALL,
        ACTIONS,
        object_types=("customers.customer", "commerce.order", "commerce.product"),
    )
    ada = Customer.objects.create(display_name="Ada")
    bob = Customer.objects.create(display_name="Bob")
    cy = Customer.objects.create(display_name="Cy")
    orders = {
        c.display_name: commerce.order_create(
            actor=staff,
            customer=c,
            data=commerce.OrderInput(currency="EUR", total=Decimal("10.00"), lines=[]),
        )
        for c in (ada, bob, cy)
    }
    Product.objects.create(sku="TEA-1", name="Tea", price=Decimal("5"), currency="EUR")
    return ada, bob, cy, orders


def test_a_portal_customer_sees_only_their_own_record_and_orders(world):
    ada, bob, _cy, orders = world
    portal = PortalCustomer(customer_id=ada.pk)
    assert list(scope_queryset(Customer.objects.all(), actor=portal)) == [ada]
    assert list(scope_queryset(Order.objects.all(), actor=portal)) == [orders["Ada"]]
    # Types that hang on no customer (the catalogue) are out of reach, owned or not.
    assert not scope_queryset(Product.objects.all(), actor=portal).exists()
    assert can(portal, "view", ada) and can(portal, "view", orders["Ada"])
    assert not can(portal, "view", bob)
    assert not can(portal, "view", orders["Bob"])
    with pytest.raises(PermissionDenied):
        require(portal, "view", bob)


@pytest.mark.parametrize("action", ["create", "edit", "delete", "export"])
def test_a_portal_customer_passes_no_staff_action_even_on_their_own_record(world, action):
    ada, _bob, _cy, orders = world
    portal = PortalCustomer(customer_id=ada.pk)
    assert not scope_queryset(Customer.objects.all(), actor=portal, action=action).exists()
    for target in (ada, orders["Ada"], Customer, "commerce.order"):
        with pytest.raises(PermissionDenied):
            require(portal, action, target)
    assert portal.is_admin is False


def test_a_partner_user_sees_the_partners_customers_and_their_records(world):
    ada, bob, cy, orders = world
    partner = PartnerUser(partner_id=7, partner_customer_ids=frozenset({ada.pk, bob.pk}))
    assert set(scope_queryset(Customer.objects.all(), actor=partner)) == {ada, bob}
    assert set(scope_queryset(Order.objects.all(), actor=partner)) == {
        orders["Ada"],
        orders["Bob"],
    }
    assert not can(partner, "view", cy)
    with pytest.raises(PermissionDenied):
        require(partner, "edit", ada)
