"""A small shop whose churn is easy to learn, written in bulk for speed: loyal customers
order every few weeks up to today; defectors complain (a ticket) and stop at a random
time. Enough customers in both periods of the time split to train on."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from django.utils import timezone

from rapport.commerce.models import Order
from rapport.customers.models import Customer, Interaction


def build(
    n: int = 160, *, seed: int = 5, now: dt.datetime | None = None, **owned: Any
) -> list[Any]:
    """`n` customers (with `owned` fields, e.g. owner/team) and their history; returns them."""
    now = now or timezone.now()
    rng = random.Random(seed)
    customers = Customer.objects.bulk_create(
        Customer(display_name=f"Shopper {i}", first_name="Shopper", last_name=str(i), **owned)
        for i in range(n)
    )
    orders, tickets = [], []
    for i, customer in enumerate(customers):
        loyal = i % 2 == 0
        start = now - dt.timedelta(days=rng.uniform(400, 700))
        stop = now if loyal else now - dt.timedelta(days=rng.uniform(20, 500))
        when = start
        while when < stop:
            orders.append(
                Order(
                    customer=customer,
                    ordered_at=when,
                    total=Decimal(rng.randint(10, 90)),
                    currency="EUR",
                    status="delivered",
                    owner=customer.owner,
                    team=customer.team,
                )
            )
            when += dt.timedelta(days=rng.uniform(15, 45))
        if not loyal:
            tickets.append(
                Interaction(
                    customer=customer,
                    kind="ticket",
                    channel="email",
                    direction="in",
                    occurred_at=stop + dt.timedelta(days=rng.uniform(1, 10)),
                    summary="Complaint",
                )
            )
    Order.objects.bulk_create(orders)
    Interaction.objects.bulk_create(t for t in tickets if t.occurred_at < now)
    return customers
