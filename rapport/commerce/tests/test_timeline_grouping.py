"""On the customer timeline an order's shipment updates fold under the order (a timeline
kind commerce registers), in the same number of queries however many orders there are."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from rapport.commerce import services
from rapport.commerce.services import OrderInput, ShipmentInput
from rapport.commerce.tests.factories import CustomerFactory, commerce_user
from rapport.customers.models import Interaction

pytestmark = pytest.mark.django_db


def _order_with_tracking(user, customer, steps=("in_transit", "out_for_delivery", "delivered")):
    order = services.order_create(
        actor=user, customer=customer, data=OrderInput(currency="EUR", total="10.00")
    )
    shipment = services.shipment_create(
        actor=user, order=order, data=ShipmentInput(carrier="DHL", status="pending")
    )
    for step in steps:
        shipment = services.shipment_update_status(
            actor=user, shipment=shipment, status=step, location="Leipzig"
        )
    return order


def _items(html):
    """Top-level timeline items and the entries folded inside each."""
    return [
        (chunk, chunk.count('class="timeline-subitem'))
        for chunk in re.split(r'<li class="timeline-item ', html)[1:]
    ]


def test_shipment_updates_fold_under_their_order():
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    order = _order_with_tracking(user, customer)
    entries = Interaction.objects.filter(customer=customer).count()
    assert entries >= 5  # the order, the shipment and its updates
    client = Client()
    client.force_login(user)
    html = client.get(customer.get_absolute_url()).content.decode()
    items = _items(html)
    assert len(items) == 1
    head, folded = items[0]
    assert f"Order {order.number}" in head.split("timeline-group")[0]
    assert folded == entries - 1
    assert f"{entries - 1} more updates on this order" in head


def test_grouping_keeps_the_360_page_query_count_constant(django_assert_max_num_queries):
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    _order_with_tracking(user, customer, steps=("in_transit",))
    client = Client()
    client.force_login(user)
    client.get(customer.get_absolute_url())
    with django_assert_max_num_queries(40) as few:
        client.get(customer.get_absolute_url())
    for _ in range(6):
        _order_with_tracking(user, customer)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(customer.get_absolute_url()).content.decode()
    assert len(_items(html)) >= 6


def test_other_entries_stay_on_their_own():
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    for i in range(3):
        Interaction.objects.create(customer=customer, kind="note", summary=f"Note {i}")
    client = Client()
    client.force_login(user)
    html = client.get(customer.get_absolute_url()).content.decode()
    assert [folded for _, folded in _items(html)] == [0, 0, 0]
