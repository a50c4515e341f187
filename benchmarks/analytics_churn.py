"""Churn prediction at scale: feature extraction (SQL GROUP BY over keyset batches of
customers), training on the time split, and scoring every active customer with reasons.

Generates N customers with about four orders each over two years and a complaint ticket
for most defectors (written with bulk_create: this is seed data, not the service path),
then times, separately:

- features: one extraction of every customer as of today (the scoring pass's reads);
- train:    `churn_model_train` (two extractions, both candidates fitted and compared,
             permutation importance, the refit);
- score:    `churn_scores_refresh` (extraction, risk + top-3 reasons, bulk upserts).

    .venv/bin/python benchmarks/analytics_churn.py --customers 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench \
        .venv/bin/python benchmarks/analytics_churn.py --customers 1000000

Without DATABASE_URL it uses a fresh SQLite file in a temporary folder. On PostgreSQL,
point it at an empty database you may throw away.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL"):
        folder = tempfile.mkdtemp(prefix="rapport-bench-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    import django

    django.setup()
    import numpy as np
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from rapport.analytics import churn_features, churn_services
    from rapport.commerce.models import Order
    from rapport.core.permissions import system_actor
    from rapport.customers.models import Customer, Interaction

    call_command("migrate", verbosity=0)
    n = args.customers
    rng = np.random.default_rng(args.seed)
    now = timezone.now()
    day = dt.timedelta(days=1)
    print(f"database: {connection.vendor}, {n:,} customers")

    started = time.perf_counter()
    chunk = 20_000
    orders_total = tickets_total = 0
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        with transaction.atomic():
            customers = Customer.objects.bulk_create(
                [Customer(display_name=f"Bench {start + i}") for i in range(size)],
                batch_size=5_000,
            )
            loyal = rng.random(size) < 0.5
            first = rng.uniform(30, 730, size)  # days before now
            stop = np.where(loyal, 0.0, rng.uniform(0, first))
            gap = rng.uniform(20, 120, size)
            orders, tickets = [], []
            for i, customer in enumerate(customers):
                t = first[i]
                while t > stop[i]:
                    orders.append(
                        Order(
                            customer_id=customer.pk,
                            ordered_at=now - t * day,
                            total=int(rng.integers(10, 120)),
                            currency="EUR",
                            status="cancelled" if rng.random() < 0.03 else "delivered",
                        )
                    )
                    t -= gap[i] * rng.uniform(0.5, 1.5)
                if not loyal[i] and rng.random() < 0.8 and stop[i] > 2:
                    tickets.append(
                        Interaction(
                            customer_id=customer.pk,
                            kind="ticket",
                            channel="email",
                            direction="in",
                            occurred_at=now - (stop[i] - 1) * day,
                            summary="Complaint",
                        )
                    )
            Order.objects.bulk_create(orders, batch_size=5_000)
            Interaction.objects.bulk_create(tickets, batch_size=5_000)
        orders_total += len(orders)
        tickets_total += len(tickets)
    generated = time.perf_counter() - started
    print(
        f"{'generate':10s} {generated:8.1f} s  {orders_total:,} orders, {tickets_total:,} tickets"
    )

    actor = system_actor()
    started = time.perf_counter()
    table = churn_features.extract(now)
    elapsed = time.perf_counter() - started
    print(
        f"{'features':10s} {elapsed:8.1f} s  {len(table):,} active  "
        f"{n / elapsed:10,.0f} customers/s"
    )

    started = time.perf_counter()
    run = churn_services.churn_model_train(actor=actor, now=now)
    elapsed = time.perf_counter() - started
    print(
        f"{'train':10s} {elapsed:8.1f} s  {run.train_size:,} + {run.eval_size:,} rows  "
        f"{run.message}"
    )

    started = time.perf_counter()
    scored = churn_services.churn_scores_refresh(actor=actor, run=run, now=now)
    elapsed = time.perf_counter() - started
    print(f"{'score':10s} {elapsed:8.1f} s  {scored:,} scored  {n / elapsed:10,.0f} customers/s")


if __name__ == "__main__":
    main()
