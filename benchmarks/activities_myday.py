"""Benchmark: "My day", the overdue badge and the activity list with many activities.

Generates customers, REPS owners and N activities (spread over two years around today:
mostly done, a quarter open, a few cancelled) with plain INSERTs in a fresh database,
then prints server-side timings (p50/p95 over repeated requests through Django's test
client) and query counts, for an administrator (all records) and a sales rep (own only).

    .venv/bin/python benchmarks/activities_myday.py --activities 1000000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench \\
        .venv/bin/python benchmarks/activities_myday.py --activities 1000000

Without DATABASE_URL it uses a fresh SQLite file in a temporary folder. On PostgreSQL,
point it at an empty database you may throw away.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import tempfile
import time
import uuid
from typing import Any

REPS = 50
COLUMNS = (
    "kind, subject, notes, customer_id, related_type, related_id, status, priority, due_at, "
    "starts_at, ends_at, completed_at, reminder_at, reminder_sent_at, call_direction, "
    "call_duration_seconds, call_outcome, recording_url, location, attendee_emails, ical_uid, "
    "ical_sequence, owner_id, team_id, version, created_at, updated_at"
)


def _owners(admin: Any) -> list[Any]:
    from rapport.core.permissions import ACTIONS, Scope
    from rapport.identity.models import Role, RolePermission, User

    role, _ = Role.objects.get_or_create(name="Bench rep")
    for object_type in ("customers.customer", "activities.activity"):
        RolePermission.objects.update_or_create(
            role=role,
            object_type=object_type,
            defaults={"scope": Scope.OWN, **{f"can_{a}": True for a in ACTIONS}},
        )
    owners = [admin]
    for i in range(1, REPS):
        user = User.objects.filter(email=f"rep{i}@example.com").first()
        owners.append(user or User.objects.create_user(f"rep{i}@example.com", "x", role=role))
    return owners


def _seed(connection: Any, owners: list[Any], customer_ids: list[int], n: int) -> None:
    """Plain INSERTs in chunks: what the services would write, without their audit rows
    and events (this measures reads)."""
    rng = random.Random(11)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    placeholders = ", ".join(["%s"] * 27)
    sql = f"INSERT INTO activities_activity ({COLUMNS}) VALUES ({placeholders})"
    uuid_value = (lambda u: u.hex) if connection.vendor == "sqlite" else str
    when = connection.ops.adapt_datetimefield_value  # the column's own format
    chunk = 20_000
    for start in range(0, n, chunk):
        rows = []
        for i in range(start, min(n, start + chunk)):
            due = now + dt.timedelta(minutes=rng.randint(-525_600, 525_600))
            kind = rng.choice(("task", "task", "call", "meeting"))
            roll = rng.random()
            status = "done" if roll < 0.7 else "open" if roll < 0.95 else "cancelled"
            past = due < now
            if status == "open" and past and rng.random() < 0.95:
                status = "done"  # most of the past is done; a few stay overdue
            owner = owners[i % len(owners)]
            rows.append(
                (
                    kind,
                    f"Activity {i}",
                    "",
                    customer_ids[i % len(customer_ids)],
                    "",
                    "",
                    status,
                    rng.choice((1, 2, 2, 3)),
                    when(due),
                    when(due) if kind == "meeting" else None,
                    when(due + dt.timedelta(minutes=30)) if kind == "meeting" else None,
                    when(due) if status == "done" else None,
                    None,
                    None,
                    "out" if kind == "call" else "",
                    rng.randint(30, 900) if kind == "call" and status == "done" else None,
                    "connected" if kind == "call" and status == "done" else "",
                    "",
                    "",
                    "[]",
                    uuid_value(uuid.uuid4()),
                    0,
                    owner.pk,
                    None,
                    1,
                    when(due - dt.timedelta(days=3)),
                    when(due - dt.timedelta(days=3)),
                )
            )
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL"):
        folder = tempfile.mkdtemp(prefix="rapport-bench-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from rapport.activities.models import Activity
    from rapport.customers.models import Customer
    from rapport.identity.models import User

    call_command("migrate", verbosity=0)
    admin = User.objects.filter(email="bench@example.com").first()
    if admin is None:
        admin = User.objects.create_superuser("bench@example.com", "bench-password-not-used")
    owners = _owners(admin)
    if not Customer.objects.exists():
        Customer.objects.bulk_create(
            [
                Customer(display_name=f"Bench customer {i}", owner=owners[i % REPS])
                for i in range(args.customers)
            ],
            batch_size=2_000,
        )
    customer_ids = list(Customer.objects.values_list("pk", flat=True))
    have = Activity.objects.count()
    started = time.perf_counter()
    if have < args.activities:
        with transaction.atomic():
            _seed(connection, owners, customer_ids, args.activities - have)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"activities: {Activity.objects.count():,} over {REPS} owners, "
        f"{len(customer_ids):,} customers ({time.perf_counter() - started:.0f} s to generate)"
    )

    admin_client, rep_client = Client(), Client()
    admin_client.force_login(admin)
    rep_client.force_login(owners[1])
    cases = {
        "my day": ("/activities/", {}),
        "overdue badge": ("/activities/badge/overdue/", {}),
        "list (default: by due)": ("/activities/list/", {}),
        "list (open calls, by due)": ("/activities/list/", {"status": "open", "kind": "call"}),
        "list (one owner, open)": (
            "/activities/list/",
            {"owner": str(owners[7].pk), "status": "open"},
        ),
        "list (due this week)": (
            "/activities/list/",
            {
                "due_from": dt.date.today().isoformat(),
                "due_to": (dt.date.today() + dt.timedelta(days=7)).isoformat(),
            },
        ),
        "list (by priority)": ("/activities/list/", {"sort": "-priority"}),
        "list (customer's)": ("/activities/list/", {"customer": str(customer_ids[5])}),
        "rep: my day": ("/activities/", {}),
        "rep: list (default)": ("/activities/list/", {}),
        "rep: list (open)": ("/activities/list/", {"status": "open"}),
    }
    print(
        f"database: {connection.vendor}; {args.repeat} requests each, server time in ms; "
        "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    )
    for name, (path, params) in cases.items():
        client = rep_client if name.startswith("rep:") else admin_client
        client.get(path, params)  # warm up
        timings = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                t = time.perf_counter()
                response = client.get(path, params)
                timings.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (name, response.status_code)
        timings.sort()
        p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
        print(
            f"{name:28} p50 {statistics.median(timings):7.1f}  p95 {p95:7.1f}  "
            f"queries {len(queries)}"
        )
    print("load average at the end {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
