"""Benchmark: grouped reports over many customers and interactions.

`--seed` adds customers and timeline entries to a scratch database (set RAPPORT_VAR_DIR or
DATABASE_URL) by plain INSERTs (SQLite) or COPY (PostgreSQL), resumably: rows built from
one model instance's prepared values, varying what reports group by (country, stage,
owner, created, kind, occurred). `customers_pages.py --seed-only` also builds search
words and e-mails, which reports do not read and which take far longer at scale.
Then it prints, for each report, the p50/p95 of the engine's one aggregate query
(`run_report`) as an administrator and as a rep who owns 1 customer in 50, and the p95 of
the report's builder page (Django's test client: query, template, chart data).

    RAPPORT_VAR_DIR=/tmp/bench .venv/bin/python benchmarks/reporting_grouped.py \\
        --seed --customers 1000000 --interactions 10000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

REPORTS: dict[str, dict[str, Any]] = {
    "customers by country": {"source": "customers", "groups": [{"field": "country"}]},
    "customers by stage and country": {
        "source": "customers",
        "groups": [{"field": "lifecycle_stage"}, {"field": "country"}],
    },
    "customers by created month (last 365 days)": {
        "source": "customers",
        "filters": [{"field": "created_at", "op": "last_days", "value": "365"}],
        "groups": [{"field": "created_at", "bucket": "month"}],
    },
    "interactions by kind": {"source": "interactions", "groups": [{"field": "kind"}]},
    "interactions by month and kind": {
        "source": "interactions",
        "groups": [{"field": "occurred_at", "bucket": "month"}, {"field": "kind"}],
    },
    "interactions by week, e-mails only": {
        "source": "interactions",
        "filters": [{"field": "kind", "op": "eq", "value": "email"}],
        "groups": [{"field": "occurred_at", "bucket": "week"}],
    },
}


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _time(run: Any, repeat: int) -> tuple[float, float]:
    run()  # warm the caches once, as a server that has run a while has them
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), _p95(samples)


COUNTRIES = ["GB", "FR", "DE", "US", "NL", "ES", "IT", ""]
STAGES = ["lead", "customer", "subscriber", "churned"]
KINDS = ["note", "email", "call", "web_event", "order", "meeting"]
REPS = 50
BATCH = 100_000
DAYS = 730  # two years of history


def _write(connection: Any, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    raw = connection.connection
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    if connection.vendor == "sqlite":
        raw.execute("BEGIN IMMEDIATE")
        raw.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' for _ in columns)})", rows
        )
        raw.execute("COMMIT")
    else:
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        raw.commit()


def seed(customers: int, interactions: int) -> None:
    """Add customers and interactions up to the numbers asked (set-up, not measured)."""
    import datetime as dt
    import random

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from rapport.core.permissions import Scope
    from rapport.customers.models import Customer, Interaction
    from rapport.identity.models import Role, RolePermission, User

    call_command("migrate", verbosity=0)
    admin = User.objects.filter(email="bench@example.com").first() or User.objects.create_superuser(
        "bench@example.com", "bench-password-123"
    )
    role, created = Role.objects.get_or_create(name="Sales rep (benchmark)")
    if created:
        RolePermission.objects.create(
            role=role, object_type="customers.customer", scope=Scope.OWN, can_view=True
        )
    owners = [admin.pk] + [
        (
            User.objects.filter(email=f"rep{n}@example.com").first()
            or User.objects.create_user(f"rep{n}@example.com", "bench-password-123", role=role)
        ).pk
        for n in range(1, REPS)
    ]
    rng = random.Random(11)
    now = timezone.now()
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        connection.connection.execute("PRAGMA cache_size = -1000000")
    fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
    template = Customer(kind="person", display_name="Bench")
    base = {f.column: f.get_db_prep_save(f.pre_save(template, True), connection) for f in fields}
    varied = ["display_name", "sort_name", "country", "lifecycle_stage", "owner_id", "created_at"]
    columns = [*varied, *(c for c in base if c not in varied)]
    rest = tuple(base[c] for c in columns[len(varied) :])
    have = Customer.objects.count()
    started = time.perf_counter()
    for start in range(have, customers, BATCH):
        rows = []
        for i in range(start, min(start + BATCH, customers)):
            created_at = now - dt.timedelta(minutes=rng.randint(0, DAYS * 1440))
            rows.append(
                (
                    f"Customer {i}",
                    f"customer {i:09d}",
                    rng.choice(COUNTRIES),
                    rng.choice(STAGES),
                    owners[i % REPS],
                    connection.ops.adapt_datetimefield_value(created_at)
                    if connection.vendor == "sqlite"
                    else created_at,
                    *rest,
                )
            )
        _write(connection, Customer._meta.db_table, columns, rows)
        print(f"\r  customers {start + len(rows):,}", end="", flush=True)
    print(f"\ncustomers: {Customer.objects.count():,} ({time.perf_counter() - started:.0f}s)")
    first_id, last_id = (
        Customer.objects.order_by("pk").values_list("pk", flat=True).first() or 0,
        Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
    )
    have = Interaction.objects.count()
    started = time.perf_counter()
    columns = [
        "customer_id", "kind", "channel", "direction", "occurred_at", "summary", "body",
        "source_type", "source_id", "data", "created_at",
    ]  # fmt: skip
    stamp = connection.ops.adapt_datetimefield_value(now) if connection.vendor == "sqlite" else now
    for start in range(have, interactions, BATCH):
        rows = []
        for i in range(start, min(start + BATCH, interactions)):
            occurred = now - dt.timedelta(minutes=rng.randint(0, DAYS * 1440))
            rows.append(
                (
                    rng.randint(first_id, last_id),
                    rng.choice(KINDS),
                    "system",
                    "",
                    connection.ops.adapt_datetimefield_value(occurred)
                    if connection.vendor == "sqlite"
                    else occurred,
                    f"Entry {i}",
                    "",
                    "",
                    "",
                    "{}",
                    stamp,
                )
            )
        _write(connection, Interaction._meta.db_table, columns, rows)
        print(f"\r  interactions {start + len(rows):,}", end="", flush=True)
    print(f"\ninteractions: {Interaction.objects.count():,} ({time.perf_counter() - started:.0f}s)")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", action="store_true", help="Generate the data first.")
    parser.add_argument("--seed-only", action="store_true", help="Generate the data and stop.")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    import django

    django.setup()
    if args.seed or args.seed_only:
        seed(args.customers, args.interactions)
        if args.seed_only:
            return
    from django.db import connection
    from django.test import Client

    from rapport.customers.models import Customer, Interaction
    from rapport.identity.models import User
    from rapport.reporting import engine
    from rapport.reporting.engine import ReportDefinition
    from rapport.reporting.query_params import definition_query

    admin = User.objects.get(email="bench@example.com")
    rep = User.objects.get(email="rep1@example.com")  # own scope: 1 in 50 customers
    print(
        f"{connection.vendor}: {Customer.objects.count():,} customers, "
        f"{Interaction.objects.count():,} interactions; {args.repeat} runs each"
    )
    client = Client()
    client.force_login(admin)
    print(f"{'report':<46} {'who':<6} {'groups':>6} {'p50 ms':>9} {'p95 ms':>9} {'page p95':>9}")
    for name, raw in REPORTS.items():
        definition = ReportDefinition.from_dict(raw)
        for who, user in (("admin", admin), ("rep", rep)):
            groups = len(engine.run_report(definition, actor=user).rows)
            p50, p95 = _time(
                lambda d=definition, u=user: engine.run_report(d, actor=u), args.repeat
            )
            page = ""
            if who == "admin":
                url = f"/reports/new/?{definition_query(definition)}"
                _, page_p95 = _time(lambda url=url: client.get(url), max(3, args.repeat // 2))
                page = f"{page_p95:9.0f}"
            print(f"{name:<46} {who:<6} {groups:>6} {p50:9.0f} {p95:9.0f} {page:>9}")


if __name__ == "__main__":
    main()
