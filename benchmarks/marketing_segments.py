"""Benchmark: a segment's live count over many customers.

Seeds N customers (a country each, a tag on one in five, e-mail marketing consent on half),
web events (product views) for one in ten and orders for one in five, then times
`selectors.segment_count` (one COUNT query, as the rule builder's live count runs it) for
several rule sets, R times each, and prints p50/p95 per rule set.

    .venv/bin/python benchmarks/marketing_segments.py --customers 1000000

Target (issue 15): p95 < 1 s at 1,000,000 customers. Seeding writes rows in bulk straight
through the ORM (set-up, not the thing measured); the database lives under --var
(default var/bench-segments/) and is reused when it holds enough customers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COUNTRIES = ["NL", "BE", "DE", "FR", "GB", "US", "SE", "ES", "IT", "PL"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--var", default=str(ROOT / "var" / "bench-segments"))
    parser.add_argument("--database-url", default="")
    return parser.parse_args()


def setup_django(args: argparse.Namespace) -> None:
    Path(args.var).mkdir(parents=True, exist_ok=True)
    os.environ["RAPPORT_VAR_DIR"] = str(Path(args.var).resolve())
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    import django

    django.setup()


def seed(n: int) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from rapport.commerce.models import Order
    from rapport.customers.models import ConsentRecord, Customer, CustomerTag, Tag
    from rapport.marketing.models import WebEvent

    call_command("migrate", verbosity=0, interactive=False)
    have = Customer.objects.count()
    if have >= n:
        print(f"Reusing {have:,} customers.")
        return
    rng = random.Random(7)
    vip = Tag.objects.get_or_create(name="vip")[0]
    now = timezone.now()
    started = time.monotonic()
    batch = 10_000
    for offset in range(have, n, batch):
        size = min(batch, n - offset)
        with transaction.atomic():
            created = Customer.objects.bulk_create(
                [
                    Customer(
                        kind="person",
                        display_name=f"Customer {i}",
                        country=rng.choice(COUNTRIES),
                        external_id=f"seg-{i}",
                    )
                    for i in range(offset, offset + size)
                ],
                batch_size=2000,
            )
            if not all(c.pk for c in created):
                created = list(Customer.objects.filter(pk__gt=0).order_by("-pk")[:size])
            CustomerTag.objects.bulk_create(
                [CustomerTag(customer=c, tag=vip) for c in created if rng.random() < 0.2],
                batch_size=2000,
            )
            ConsentRecord.objects.bulk_create(
                [
                    ConsentRecord(
                        customer=c,
                        channel="email",
                        purpose="marketing",
                        status="granted",
                        method="import",
                    )
                    for c in created
                    if rng.random() < 0.5
                ],
                batch_size=2000,
            )
            WebEvent.objects.bulk_create(
                [
                    WebEvent(
                        event_key=f"seg-{c.pk}-{k}",
                        type="product_view",
                        customer=c,
                        product_sku=f"SKU-{rng.randint(1, 50)}",
                        occurred_at=now - dt.timedelta(days=rng.randint(0, 30)),
                    )
                    for c in created
                    if rng.random() < 0.1
                    for k in range(2)
                ],
                batch_size=2000,
            )
            Order.objects.bulk_create(
                [
                    Order(
                        customer=c,
                        currency="EUR",
                        total=rng.randint(5, 300),
                        status="paid",
                        ordered_at=now - dt.timedelta(days=rng.randint(0, 365)),
                    )
                    for c in created
                    if rng.random() < 0.2
                ],
                batch_size=2000,
            )
        print(f"\r  seeded {offset + size:,}/{n:,} customers", end="", flush=True)
    print(f"\nSeeded in {time.monotonic() - started:.0f} s.")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


RULES: dict[str, dict[str, Any]] = {
    "country = NL": {"op": "and", "rules": [{"kind": "field", "field": "country", "value": "NL"}]},
    "tag vip AND e-mail consent": {
        "op": "and",
        "rules": [
            {"kind": "field", "field": "tag", "value": "vip"},
            {"kind": "consent", "channel": "email", "purpose": "marketing"},
        ],
    },
    "viewed SKU-7 in 7 days AND no order in 7 days": {
        "op": "and",
        "rules": [
            {"kind": "event", "type": "product_view", "product_sku": "SKU-7", "days": 7},
            {"kind": "order", "measure": "count", "op": "eq", "value": 0, "days": 7},
        ],
    },
    "(NL OR BE) AND spent >= 100": {
        "op": "and",
        "rules": [
            {
                "op": "or",
                "rules": [
                    {"kind": "field", "field": "country", "value": "NL"},
                    {"kind": "field", "field": "country", "value": "BE"},
                ],
            },
            {"kind": "order", "measure": "total", "op": "gte", "value": "100"},
        ],
    },
}


def main() -> None:
    args = parse_args()
    setup_django(args)
    seed(args.customers)
    from rapport.core.permissions import system_actor
    from rapport.marketing import selectors

    actor = system_actor()
    print(f"Segment counts over {args.customers:,} customers, {args.repeats} runs each:")
    for label, rules in RULES.items():
        times = []
        count = 0
        for _ in range(args.repeats):
            started = time.perf_counter()
            count = selectors.segment_count(actor=actor, rules=rules)
            times.append(time.perf_counter() - started)
        p95 = statistics.quantiles(times, n=20)[18] if len(times) > 1 else times[0]
        print(
            f"  {label:<48} {count:>9,} match  p50 {statistics.median(times) * 1000:7.0f} ms"
            f"  p95 {p95 * 1000:7.0f} ms"
        )


if __name__ == "__main__":
    main()
