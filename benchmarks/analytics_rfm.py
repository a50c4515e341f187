"""Benchmark: RFM scoring of N customers (the one INSERT ... SELECT with window functions).

    .venv/bin/python -m benchmarks.analytics_rfm --customers 1000000
    .venv/bin/python -m benchmarks.analytics_rfm --customers 1000000 \
        --database-url postgres://postgres@127.0.0.1:5432/rapport_bench_rfm

Seeds N customers straight into a fresh database with 1 to 6 orders each over three years
(one in fifteen cancelled or returned), then times `rfm.score_all()`: aggregate per
customer, NTILE quintiles, ties, the segment grid, the rewrite of the RFM table. Prints
the seed and scoring times, customers scored per second and the segment counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import time
from decimal import Decimal

from benchmarks._impex import FIRST, LAST, setup_django, workdir

BATCH = 10_000
STATUSES = ["delivered"] * 13 + ["cancelled", "returned"]


def seed(customers: int) -> int:
    from django.db import transaction
    from django.utils import timezone

    from rapport.commerce.models import Order
    from rapport.core import bulk
    from rapport.customers.models import Customer

    rng = random.Random(16)
    now = timezone.now()
    orders_made = 0
    for start in range(0, customers, BATCH):
        with transaction.atomic():
            people = []
            for _ in range(start, min(customers, start + BATCH)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                people.append(
                    Customer(first_name=first, last_name=last, display_name=f"{first} {last}",
                             created_at=now, updated_at=now, lifecycle_changed_at=now)
                )  # fmt: skip
            bulk.insert(people, returning_ids=True)
            orders = []
            for person in people:
                # Many one-time buyers, a long tail of regulars (as shops see).
                for _ in range(min(6, 1 + int(rng.expovariate(0.8)))):
                    when = now - dt.timedelta(days=rng.uniform(0, 3 * 365))
                    total = Decimal(rng.randint(500, 30000)) / 100
                    orders.append(
                        Order(customer_id=person.pk, currency="EUR", total=total,
                              subtotal=total, status=rng.choice(STATUSES), ordered_at=when,
                              status_changed_at=when, created_at=now, updated_at=now)
                    )  # fmt: skip
            bulk.insert(orders)
            orders_made += len(orders)
    return orders_made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    folder = workdir()
    vendor = setup_django(args.database_url, folder)
    try:
        started = time.perf_counter()
        orders = seed(args.customers)
        seeded = time.perf_counter() - started
        print(f"{vendor}: seeded {args.customers:,} customers, {orders:,} orders in {seeded:.1f} s")

        from rapport.analytics import rfm

        started = time.perf_counter()
        run = rfm.score_all()
        took = time.perf_counter() - started
        print(
            f"RFM scoring: {run.scored:,} customers in {took:.2f} s "
            f"({run.scored / took:,.0f} customers/s, {orders / took:,.0f} orders/s)"
        )
        print("segments: " + ", ".join(f"{k} {v:,}" for k, v in sorted(run.segments.items())))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
