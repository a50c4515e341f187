"""Factories for commerce tests: customers (directly, as the core tests do), products."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory

from rapport.commerce.models import Product
from rapport.core.permissions import ACTIONS, Scope
from rapport.customers.models import Customer
from rapport.identity.tests.factories import user_with

ALL_TYPES = ("customers.customer", "commerce.order", "commerce.shipment", "commerce.product")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    display_name = factory.Sequence(lambda n: f"Customer {n}")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Example"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = "Tea"
    price = Decimal("12.50")
    currency = "EUR"


def commerce_user(
    scope: Scope | str = Scope.ALL, actions: tuple[str, ...] = ACTIONS, **kwargs: Any
) -> Any:
    """A user whose role grants `scope`/`actions` on customers, orders, shipments, products."""
    return user_with(scope, actions, object_types=ALL_TYPES, **kwargs)
