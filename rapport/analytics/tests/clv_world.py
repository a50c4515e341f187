"""A small shop for the lifetime value tests: customers whose orders follow the BG/NBD
process (seeded), with the cases the features must get right: two orders on one day,
cancelled and returned orders, another currency, orders after the calibration end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from django.utils import timezone

from rapport.commerce.models import Order
from rapport.customers.models import Customer

CALIBRATION_END = dt.date(2026, 6, 30)
START = dt.date(2025, 1, 1)


@dataclass
class World:
    customers: list[Customer]
    # (customer id, day, amount) of the orders that count, for the NumPy reference.
    counted: list[tuple[int, dt.date, float]] = field(default_factory=list)


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 15)))


def build(
    n: int = 60, *, seed: int = 7, owners: list[Any] | None = None, prefix: str = ""
) -> World:
    rng = np.random.default_rng(seed)
    span = (CALIBRATION_END - START).days
    customers = [
        Customer.objects.create(
            display_name=f"Shopper {i}",
            external_id=f"{prefix}C{i:03d}",
            owner=owners[i % len(owners)] if owners else None,
            lifecycle_stage="customer" if i % 3 else "lead",
        )
        for i in range(n)
    ]
    world = World(customers=customers)
    orders: list[Order] = []
    for i, customer in enumerate(customers):
        first = START + dt.timedelta(days=int(rng.integers(0, span - 10)))
        rate = rng.gamma(1.5, 1 / 20)  # purchases a day
        dropout = rng.beta(1, 4)
        days = [first]
        while rng.random() > dropout:
            nxt = days[-1] + dt.timedelta(days=max(1, int(rng.exponential(1 / rate))))
            if nxt > CALIBRATION_END + dt.timedelta(days=120):
                break
            days.append(nxt)
        mean_spend = float(rng.gamma(4, 10))
        for day in days:
            amount = Decimal(f"{max(1.0, rng.normal(mean_spend, mean_spend / 4)):.2f}")
            orders.append(_order(prefix, customer, day, amount, len(orders)))
            if day <= CALIBRATION_END:
                world.counted.append((customer.pk, day, float(amount)))
        if i % 7 == 0:  # a second order the same day: one purchase day, totals summed
            orders.append(_order(prefix, customer, first, Decimal("5.00"), len(orders), hour=18))
            world.counted.append((customer.pk, first, 5.0))
        if i % 5 == 0:  # cancelled and returned orders do not count
            orders.append(
                _order(
                    prefix,
                    customer,
                    first + dt.timedelta(days=3),
                    Decimal("99.00"),
                    len(orders),
                    status="cancelled",
                )
            )
            orders.append(
                _order(
                    prefix,
                    customer,
                    first + dt.timedelta(days=4),
                    Decimal("77.00"),
                    len(orders),
                    status="returned",
                )
            )
        if i % 6 == 0:  # nor does another currency
            orders.append(
                _order(
                    prefix,
                    customer,
                    first + dt.timedelta(days=2),
                    Decimal("50.00"),
                    len(orders),
                    currency="USD",
                )
            )
    Order.objects.bulk_create(orders)
    return world


def _order(
    prefix: str,
    customer: Customer,
    day: dt.date,
    total: Decimal,
    n: int,
    *,
    hour: int = 10,
    status: str = "delivered",
    currency: str = "EUR",
) -> Order:
    return Order(
        customer=customer,
        owner=customer.owner,
        external_id=f"{prefix}O{n:05d}",
        number=f"{prefix}N{n:05d}",
        status=status,
        currency=currency,
        subtotal=total,
        total=total,
        ordered_at=_at(day, hour),
    )
