"""The demo loader: idempotent, consistent totals, repeat-purchase shape, goods in transit."""

from __future__ import annotations

import pytest
from django.db.models import Count, Sum
from django.utils import timezone

from rapport.commerce import demo
from rapport.commerce.models import Order, OrderLine, Product, Shipment
from rapport.commerce.tests.factories import CustomerFactory
from rapport.customers.models import Interaction
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_without_customers_only_the_catalogue_loads() -> None:
    demo.load()
    assert Product.objects.count() == 60
    assert not Order.objects.exists()


def test_demo_orders_are_consistent_and_loading_twice_adds_nothing() -> None:
    UserFactory(is_superuser=True)
    CustomerFactory.create_batch(300)
    demo.load()
    orders = Order.objects.count()
    assert orders > 300
    counts = (orders, Shipment.objects.count(), Interaction.objects.count())
    demo.load()
    assert counts == (Order.objects.count(), Shipment.objects.count(), Interaction.objects.count())

    # Every order's total is its lines plus tax plus shipping, to the cent.
    sums = dict(
        OrderLine.objects.values("order").annotate(s=Sum("line_total")).values_list("order", "s")
    )
    for order in Order.objects.all():
        assert order.subtotal == sums[order.pk]
        assert order.total == order.subtotal + order.tax + order.shipping

    # Many one-time buyers and a few heavy ones.
    per_customer = list(
        Order.objects.values("customer").annotate(n=Count("id")).values_list("n", flat=True)
    )
    assert sum(1 for n in per_customer if n == 1) > len(per_customer) / 3
    assert max(per_customer) >= 8
    assert Shipment.objects.filter(status__in=["in_transit", "out_for_delivery"]).exists()
    assert Interaction.objects.filter(kind="order").count() == orders
    assert Interaction.objects.filter(kind="shipment").count() >= Shipment.objects.count()
    # Nothing happened in the future.
    now = timezone.now()
    assert not Order.objects.filter(ordered_at__gt=now).exists()
    assert not Interaction.objects.filter(occurred_at__gt=now).exists()
