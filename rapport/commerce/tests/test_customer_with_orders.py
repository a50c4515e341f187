"""A customer with orders cannot be deleted (the orders are the business's record); the
refusal is a clear message, and bulk delete skips such customers instead of failing all."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from rapport.commerce.services import LineInput, OrderInput, order_create
from rapport.commerce.tests.factories import commerce_user
from rapport.core.models import OutboxEvent
from rapport.customers.models import Customer
from rapport.customers.services import (
    CustomerInput,
    customer_create,
    customer_delete,
    customers_bulk_delete,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor():
    return commerce_user()


def buyer(actor, name):
    customer = customer_create(actor=actor, data=CustomerInput(first_name=name, last_name="Buyer"))
    order_create(
        actor=actor,
        customer=customer,
        data=OrderInput(
            currency="EUR", lines=[LineInput(sku="MUG", name="Mug", quantity=1, unit_price="9.50")]
        ),
    )
    return customer


def test_deleting_a_customer_with_orders_is_refused_with_a_clear_message(actor):
    customer = buyer(actor, "Ann")
    events_before = OutboxEvent.objects.filter(type="customer.deleted").count()
    with pytest.raises(ValidationError) as refused:
        customer_delete(actor=actor, customer=customer)
    assert "orders" in refused.value.messages[0]
    assert "erase" in refused.value.messages[0]
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert OutboxEvent.objects.filter(type="customer.deleted").count() == events_before


def test_bulk_delete_skips_customers_with_orders_and_deletes_the_rest(actor):
    with_orders = buyer(actor, "Ann")
    without = customer_create(actor=actor, data=CustomerInput(first_name="Bob", last_name="Free"))
    result = customers_bulk_delete(actor=actor, customer_ids=[with_orders.pk, without.pk])
    assert (result.done, result.skipped) == (1, 1)
    assert Customer.objects.filter(pk=with_orders.pk).exists()
    assert not Customer.objects.filter(pk=without.pk).exists()
    deleted = OutboxEvent.objects.filter(type="customer.deleted")
    assert [e.aggregate_id for e in deleted] == [str(without.pk)]


def test_the_360_page_shows_the_customers_orders_in_the_registered_panel(client, actor):
    from django.urls import reverse

    from rapport.commerce.models import Order

    customer = buyer(actor, "Ann")
    order = Order.objects.get(customer=customer)
    client.force_login(actor)
    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    panel = html[html.index('id="panel-orders"') :]
    panel = panel[: panel.index("</section>")]
    assert html.count("Orders &amp; shipments") == 1  # one card, one title
    assert order.number in panel
    assert "9.50 EUR" in panel
    assert "No orders yet" not in panel
