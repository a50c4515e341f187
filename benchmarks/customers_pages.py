"""Benchmark: customer search, list page and 360 page at scale.

Generates N customers and M timeline entries in a fresh database (set RAPPORT_VAR_DIR or
DATABASE_URL to a scratch one), then prints server-side timings (p50/p95 over repeated
requests through Django's test client) and query counts.

    RAPPORT_VAR_DIR=/tmp/bench .venv/bin/python benchmarks/customers_pages.py \\
        --customers 100000 --interactions 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import time
from typing import Any

CITIES = {
    "GB": ["London", "Manchester", "Leeds", "Bristol", "Glasgow", "Cardiff"],
    "FR": ["Paris", "Lyon", "Marseille", "Toulouse", "Nantes", "Lille"],
    "DE": ["Berlin", "Hamburg", "München", "Köln", "Leipzig", "Dresden"],
    "US": ["New York", "Chicago", "Austin", "Seattle", "Boston", "Denver"],
}
REPS = 50  # customers are spread over this many owners, as in a real sales team


def _customer(
    owners: list[Any], first: list[str], last: list[str], i: int, rng: random.Random
) -> Any:
    from rapport.customers.models import Customer

    f, la = rng.choice(first).title(), f"{rng.choice(last).title()}{i}"
    country = rng.choice(["GB", "FR", "DE", "US"])
    return Customer(
        kind="person",
        first_name=f,
        last_name=la,
        display_name=f"{f} {la}",
        owner=owners[i % len(owners)],
        primary_email=f"{f}.{la}@example.com".lower(),
        primary_phone=f"+44207946{i % 10000:04d}",
        lifecycle_stage=rng.choice(["lead", "customer", "subscriber", "churned"]),
        country=country,
        city=rng.choice(CITIES[country]),
    )


def _swap(word: str) -> str:
    """`word` with its second and third letters swapped ("Grace" -> "Gacre")."""
    return word[:1] + word[2:3] + word[1:2] + word[3:] if len(word) > 3 else word


def _owners(admin: Any) -> list[Any]:
    """The admin and REPS - 1 sales reps who see their own customers only."""
    from rapport.core.permissions import ACTIONS, Scope
    from rapport.identity.models import Role, RolePermission, User

    role, created = Role.objects.get_or_create(name="Sales rep (benchmark)")
    if created:
        RolePermission.objects.create(
            role=role,
            object_type="customers.customer",
            scope=Scope.OWN,
            **{f"can_{a}": True for a in ACTIONS},
        )
    reps = [
        User.objects.filter(email=f"rep{n}@example.com").first()
        or User.objects.create_user(f"rep{n}@example.com", "bench-password-123", role=role)
        for n in range(1, REPS)
    ]
    return [admin, *reps]


def _seed_customers_raw(
    connection: Any,
    owners: list[Any],
    first: list[str],
    last: list[str],
    have: int,
    total: int,
    rng: random.Random,
) -> None:
    """Customers by plain INSERTs (SQLite) or COPY (PostgreSQL): set-up, not the thing
    measured.

    Each row is a model instance's own prepared values (so every default the model sets is
    there), and `search_text` is the service's `search_text_for`; only its phone part, which
    depends on the phone alone and costs a phonenumbers parse, is computed once per
    distinct phone. The full-text indexes are filled as in production (SQLite: the FTS5
    triggers; PostgreSQL: the GIN indexes).
    """
    from rapport.customers.models import Customer
    from rapport.customers.services import search_text_for

    fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = Customer._meta.db_table
    phone_text: dict[str, str] = {}
    connection.ensure_connection()
    raw = connection.connection
    if connection.vendor == "sqlite":
        raw.execute("PRAGMA cache_size = -1000000")  # 1 GB: index pages stay in memory
    for start in range(have, total, 50_000):
        rows = []
        made = []
        for i in range(start, min(start + 50_000, total)):
            c = _customer(owners, first, last, i, rng)
            made.append(c)
            phone = c.primary_phone
            if phone not in phone_text:
                phone_text[phone] = search_text_for(Customer(), [], [phone])
            text = search_text_for(c, [c.primary_email])
            c.search_text = f"{text} {phone_text[phone]}" if phone_text[phone] else text
            if i < have + 200:  # the shortcut gives exactly what the service computes
                assert c.search_text == search_text_for(c, [c.primary_email], [phone])
            rows.append(tuple(f.get_db_prep_save(f.pre_save(c, True), connection) for f in fields))
        if connection.vendor == "sqlite":
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' for _ in fields)})",
                rows,
            )
            raw.execute("COMMIT")
        else:
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        from rapport.customers.services import remember_search_words

        remember_search_words(made)  # search's typo vocabulary, as the services keep it
        print(f"\r  customers {start + len(rows):,}", end="", flush=True)
    print()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument(
        "--seed-only", action="store_true", help="Generate the data (resumable) and stop."
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from rapport.customers.models import Customer, EmailAddress, Interaction
    from rapport.identity.models import User

    call_command("migrate", verbosity=0)
    admin = User.objects.filter(email="bench@example.com").first() or User.objects.create_superuser(
        "bench@example.com", "bench-password-123"
    )
    rng = random.Random(7)
    first = [
        "ada",
        "grace",
        "alan",
        "edsger",
        "barbara",
        "donald",
        "margaret",
        "ken",
        "linus",
        "guido",
    ]
    last = ["lovelace", "hopper", "turing", "dijkstra", "liskov", "knuth", "hamilton", "thompson"]
    have = Customer.objects.count()
    started = time.perf_counter()
    owners = _owners(admin)
    _seed_customers_raw(connection, owners, first, last, have, args.customers, rng)
    print(
        f"customers: {Customer.objects.count():,} "
        f"({time.perf_counter() - started:.1f}s to generate)"
    )
    ids = list(Customer.objects.values_list("pk", flat=True))
    if not EmailAddress.objects.exists():
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            raw = connection.connection
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany(
                f"INSERT INTO {EmailAddress._meta.db_table} (customer_id, email, kind, is_primary) "
                "VALUES (?, ?, 'work', 1)",
                ((pk, f"c{pk}@example.com") for pk in ids),
            )
            raw.execute("COMMIT")
        else:
            EmailAddress.objects.bulk_create(
                (
                    EmailAddress(customer_id=pk, email=f"c{pk}@example.com", is_primary=True)
                    for pk in ids
                ),
                batch_size=5000,
            )
    have = Interaction.objects.count()
    started = time.perf_counter()
    now = timezone.now()
    hot = ids[0]  # one customer with a long timeline
    if connection.vendor == "sqlite":
        # Set-up, not the thing measured: plain INSERTs are ~10x faster than model
        # instances, which matters at 10,000,000 rows. Same columns, same values.
        table = Interaction._meta.db_table
        sql = (
            f"INSERT INTO {table} (customer_id, kind, channel, direction, occurred_at, "
            "summary, body, source_type, source_id, data, created_at) "
            "VALUES (?, ?, 'system', '', ?, ?, '', '', '', '{}', ?)"
        )
        created = connection.ops.adapt_datetimefield_value(now)
        kinds = ["note", "email", "call", "web_event"]
        connection.ensure_connection()
        raw = connection.connection
        raw.execute("PRAGMA cache_size = -1000000")  # 1 GB: the timeline indexes stay in memory
        for start in range(have, args.interactions, 100_000):
            batch_rows = []
            for i in range(start, min(start + 100_000, args.interactions)):
                customer_id = hot if i % 50 == 0 else rng.choice(ids)
                occurred = now - dt.timedelta(minutes=rng.randint(0, 1_500_000))
                batch_rows.append(
                    (
                        customer_id,
                        rng.choice(kinds),
                        connection.ops.adapt_datetimefield_value(occurred),
                        f"Entry {i}",
                        created,
                    )
                )
            raw.execute("BEGIN IMMEDIATE")  # one transaction per 100,000 rows
            raw.executemany(sql, batch_rows)
            raw.execute("COMMIT")
            print(f"\r  interactions {start + len(batch_rows):,}", end="", flush=True)
        print()
    else:
        # PostgreSQL: COPY, same columns and values as the SQLite INSERTs above.
        table = Interaction._meta.db_table
        kinds = ["note", "email", "call", "web_event"]
        connection.ensure_connection()
        raw = connection.connection
        for start in range(have, args.interactions, 100_000):
            with (
                raw.cursor() as cursor,
                cursor.copy(
                    f"COPY {table} (customer_id, kind, channel, direction, occurred_at, "
                    "summary, body, source_type, source_id, data, created_at) FROM STDIN"
                ) as copy,
            ):
                for i in range(start, min(start + 100_000, args.interactions)):
                    customer_id = hot if i % 50 == 0 else rng.choice(ids)
                    occurred = now - dt.timedelta(minutes=rng.randint(0, 1_500_000))
                    copy.write_row(
                        (
                            customer_id,
                            rng.choice(kinds),
                            "system",
                            "",
                            occurred,
                            f"Entry {i}",
                            "",
                            "",
                            "",
                            "{}",
                            now,
                        )
                    )
            raw.commit()
            print(
                f"\r  interactions {min(start + 100_000, args.interactions):,}", end="", flush=True
            )
        print()
    print(
        f"interactions: {Interaction.objects.count():,} "
        f"({time.perf_counter() - started:.1f}s to generate)"
    )

    # Statistics, as a production database has them (PostgreSQL's autovacuum; on SQLite
    # `PRAGMA optimize` or ANALYZE after bulk loads).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    if args.seed_only:
        return

    client = Client()
    client.force_login(admin)
    rep_client = Client()
    rep_client.force_login(owners[1])
    sample = Customer.objects.get(pk=ids[len(ids) // 2])
    cases = {
        "search (name)": ("/search/suggest/", {"q": f"{sample.first_name} {sample.last_name}"}),
        "search (typo)": ("/search/suggest/", {"q": "grace hoper"}),
        # A realistic typo: one letter dropped from one customer's own (rare) surname.
        "search (typo, one record)": (
            "/search/suggest/",
            {"q": f"{sample.first_name} {sample.last_name[:2]}{sample.last_name[3:]}"},
        ),
        # A letter swapped in the first name and one dropped from the surname.
        "search (typo, every word)": (
            "/search/suggest/",
            {"q": f"{_swap(sample.first_name)} {sample.last_name[:2]}{sample.last_name[3:]}"},
        ),
        "search (typo, common name)": ("/search/suggest/", {"q": "lovlace"}),
        "search page (count + see all)": ("/search/", {"q": "hamilton"}),
        "search (common first name)": ("/search/suggest/", {"q": "grace"}),
        "search (phone)": ("/search/suggest/", {"q": "020 7946 0042"}),
        "list (no filter)": ("/customers/", {}),
        "list (q, common surname)": ("/customers/", {"q": "hamilton"}),
        "list (q, typo, one record)": (
            "/customers/",
            {"q": f"{sample.first_name} {sample.last_name[:2]}{sample.last_name[3:]}"},
        ),
        "list (stage+country, by created)": (
            "/customers/",
            {"lifecycle_stage": "lead", "country": "FR", "sort": "-created"},
        ),
        "list (country, by stage)": ("/customers/", {"country": "FR", "sort": "stage"}),
        "list (stage, by country)": ("/customers/", {"lifecycle_stage": "lead", "sort": "country"}),
        "list (country, by city)": ("/customers/", {"country": "DE", "sort": "-city"}),
        "rep: search (typo)": ("/search/suggest/", {"q": "grace hoper"}),
        "rep: search (typo, common name)": ("/search/suggest/", {"q": "lovlace"}),
        "rep: search (common first name)": ("/search/suggest/", {"q": "grace"}),
        "rep: list (country, by created)": ("/customers/", {"country": "FR", "sort": "-created"}),
        "360 (long timeline)": (f"/customers/{hot}/", {}),
        "360 (typical)": (f"/customers/{sample.pk}/", {}),
    }
    print(
        f"database: {connection.vendor}; {args.repeat} requests each, server time in ms; "
        "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    )
    for name, (path, params) in cases.items():
        # "rep:" cases run as a sales rep who sees only their own 1/REPS of the customers.
        user_client = rep_client if name.startswith("rep:") else client
        user_client.get(path, params)  # warm up
        timings = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                t = time.perf_counter()
                response = user_client.get(path, params)
                timings.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (name, response.status_code)
        timings.sort()
        p95 = timings[int(len(timings) * 0.95) - 1]
        # A typo in one record's surname must find that record, not only be fast.
        found = ""
        if name in {"search (typo, one record)", "search (typo, every word)"}:
            found = (
                "  finds it" if sample.display_name in response.content.decode() else "  MISSES it"
            )
        print(
            f"{name:34} p50 {statistics.median(timings):7.1f}  "
            f"p95 {p95:7.1f}  queries {len(queries)}{found}"
        )
    print("load average at the end {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
