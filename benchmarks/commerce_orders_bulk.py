"""Throughput of `commerce.services.orders_bulk_upsert` (the path order imports use).

Generates customers and N orders of two lines each, upserts them in chunks of 1,000 (each
order with its audit row, outbox event and timeline entry), then upserts the same rows
again (the idempotent re-run: nothing changes, nothing is written), and prints orders/s.

    .venv/bin/python benchmarks/commerce_orders_bulk.py --orders 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench \
        .venv/bin/python benchmarks/commerce_orders_bulk.py

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
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--chunk", type=int, default=1_000)
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL"):
        folder = tempfile.mkdtemp(prefix="rapport-bench-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from rapport.commerce import services
    from rapport.customers.models import Customer
    from rapport.identity.models import User

    call_command("migrate", verbosity=0)
    actor = User.objects.filter(email="bench@example.com").first()
    if actor is None:
        actor = User.objects.create_superuser("bench@example.com", "bench-password-not-used")
    Customer.objects.bulk_create(
        [Customer(display_name=f"Bench customer {i}") for i in range(args.customers)],
        batch_size=2_000,
    )
    ids = list(Customer.objects.values_list("pk", flat=True))
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    stamp = int(time.time())
    rows = [
        services.OrderRow(
            external_id=f"BENCH-{stamp}-{i}",
            customer_id=ids[i % len(ids)],
            ordered_at=base + dt.timedelta(minutes=i),
            currency="EUR",
            lines=[
                services.LineInput(sku="A", name="A", quantity=2, unit_price="9.95"),
                services.LineInput(sku="B", name="B", unit_price="3.10"),
            ],
            tax="1.00",
        )
        for i in range(args.orders)
    ]
    print(f"database: {connection.vendor}, {args.orders} orders, chunks of {args.chunk}")
    for label in ("create", "re-run (unchanged)"):
        started = time.perf_counter()
        for start in range(0, len(rows), args.chunk):
            with transaction.atomic():
                services.orders_bulk_upsert(actor=actor, rows=rows[start : start + args.chunk])
        elapsed = time.perf_counter() - started
        print(f"{label:20s} {elapsed:7.1f} s  {len(rows) / elapsed:9,.0f} orders/s")


if __name__ == "__main__":
    main()
