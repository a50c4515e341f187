"""Benchmark: the sales board and the deal list with many open deals.

Seeds N customers and M open deals in one pipeline (spread over six stages, 50 owners and
five teams, close dates over 18 months) in bulk, then prints the server time (p50/p95 over
repeated requests through Django's test client) and the query count of the board (all
deals; one owner's filter; a close month; as a rep who sees only their own) and the deal
list (first page, a stage, a page deep in the cursor chain).

    .venv/bin/python benchmarks/sales_board.py --deals 100000 --customers 100000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench \\
        .venv/bin/python benchmarks/sales_board.py

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
from decimal import Decimal
from typing import Any

REPS = 50
TEAMS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL"):
        folder = tempfile.mkdtemp(prefix="rapport-bench-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from rapport.core.permissions import ACTIONS, Scope, system_actor
    from rapport.customers.models import Customer
    from rapport.identity.models import Role, RolePermission, Team, User
    from rapport.sales import services
    from rapport.sales.models import Deal, Pipeline

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    if Deal.objects.filter(pipeline__name="Bench").count() >= args.deals:
        # DATABASE_URL pointing at an earlier run's database: measure again, seed nothing.
        _measure(args, list(User.objects.filter(email__startswith="rep").order_by("id")))
        return
    if not User.objects.filter(email="bench@example.com").exists():
        User.objects.create_superuser("bench@example.com", "bench-password-123")
    role = Role.objects.create(name=f"Rep {time.time()}")
    for object_type in ("customers.customer", "sales.deal", "sales.lead", "sales.pipeline"):
        RolePermission.objects.create(
            role=role,
            object_type=object_type,
            scope=Scope.OWN,
            **{f"can_{a}": True for a in ACTIONS},
        )
    teams = [Team.objects.create(name=f"Bench team {i} {time.time()}") for i in range(TEAMS)]
    reps = [
        User.objects.create_user(f"rep{i}-{time.time()}@example.com", None, role=role)
        for i in range(REPS)
    ]
    for i, rep in enumerate(reps):
        rep.teams.add(teams[i % TEAMS])
    rng = random.Random(7)
    Customer.objects.bulk_create(
        [
            Customer(
                kind="person",
                first_name="Bench",
                last_name=f"Customer{i}",
                display_name=f"Bench Customer{i}",
                owner=reps[i % REPS],
            )
            for i in range(args.customers)
        ],
        batch_size=5_000,
    )
    customer_ids = list(Customer.objects.values_list("pk", flat=True))
    pipeline = Pipeline.objects.filter(name="Bench").first()
    if pipeline is None:
        pipeline = services.pipeline_create(
            actor=system_actor(), data=services.PipelineInput(name="Bench", is_default=True)
        )
        for name, p in [
            ("Lead in", 5),
            ("Qualified", 15),
            ("Demo", 30),
            ("Proposal", 50),
            ("Negotiation", 75),
            ("Commit", 90),
        ]:
            services.stage_create(
                actor=system_actor(),
                pipeline=pipeline,
                data=services.StageInput(name=name, probability=p),
            )
    stages = list(pipeline.stages.all())
    today = dt.date.today()
    batch: list[Deal] = []
    for i in range(args.deals):
        stage = stages[min(int(rng.expovariate(0.6)), len(stages) - 1)]
        owner = reps[i % REPS]
        batch.append(
            Deal(
                name=f"Deal {i}",
                customer_id=customer_ids[i % len(customer_ids)],
                pipeline=pipeline,
                stage=stage,
                status="open",
                amount=Decimal(rng.randrange(500, 100_000)),
                currency="EUR",
                probability=stage.probability,
                expected_close_date=today + dt.timedelta(days=rng.randint(-30, 540)),
                owner=owner,
                team_id=teams[(i % REPS) % TEAMS].pk,
            )
        )
        if len(batch) == 5_000:
            Deal.objects.bulk_create(batch)
            batch = []
    Deal.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"seeded {args.customers:,} customers and {args.deals:,} open deals in "
        f"{time.perf_counter() - started:.0f} s"
    )

    _measure(args, reps)


def _measure(args: argparse.Namespace, reps: list[Any]) -> None:
    import datetime as dt

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from rapport.identity.models import Team, User
    from rapport.sales.models import Pipeline

    admin = User.objects.get(email="bench@example.com")
    pipeline = Pipeline.objects.get(name="Bench")
    stages = list(pipeline.stages.all())
    teams = list(Team.objects.filter(name__startswith="Bench team").order_by("id"))
    today = dt.date.today()
    client = Client()
    client.force_login(admin)
    rep_client = Client()
    rep_client.force_login(reps[3])
    month = (today + dt.timedelta(days=60)).strftime("%Y-%m")
    first = client.get("/sales/deals/", {"sort": "-created"})
    deep_cursor = None
    for _ in range(20):  # 20 pages in
        page = first.context["page"] if first.context else None
        if page is None or not page.next_cursor:
            break
        deep_cursor = page.next_cursor
        first = client.get("/sales/deals/", {"cursor": deep_cursor})
    cases = {
        "board (all open deals)": (client, f"/sales/board/{pipeline.pk}/", {}),
        "board (one owner)": (client, f"/sales/board/{pipeline.pk}/", {"owner": reps[5].pk}),
        "board (one team)": (client, f"/sales/board/{pipeline.pk}/", {"team": teams[1].pk}),
        "board (close month)": (client, f"/sales/board/{pipeline.pk}/", {"close_month": month}),
        "rep: board (own deals)": (rep_client, f"/sales/board/{pipeline.pk}/", {}),
        "deal list (first page)": (client, "/sales/deals/", {}),
        "deal list (one stage)": (client, "/sales/deals/", {"stage": stages[2].pk}),
        "deal list (by amount)": (client, "/sales/deals/", {"sort": "-amount"}),
        "deal list (20 pages in)": (client, "/sales/deals/", {"cursor": deep_cursor or ""}),
        "rep: deal list": (rep_client, "/sales/deals/", {}),
    }
    if os.environ.get("PROFILE_BOARD"):
        import cProfile
        import pstats

        client.get(f"/sales/board/{pipeline.pk}/")
        profile = cProfile.Profile()
        profile.enable()
        client.get(f"/sales/board/{pipeline.pk}/")
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        with CaptureQueriesContext(connection) as queries:
            client.get(f"/sales/board/{pipeline.pk}/")
        for query in queries.captured_queries:
            print(query["time"], query["sql"][:200])
        return
    print(
        f"database: {connection.vendor}; {args.repeat} requests each, server time in ms; "
        "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    )
    for name, (user_client, path, params) in cases.items():
        user_client.get(path, params)  # warm up
        timings = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                t = time.perf_counter()
                response = user_client.get(path, params)
                timings.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (name, response.status_code)
        timings.sort()
        p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
        print(
            f"{name:26} p50 {statistics.median(timings):7.1f}  p95 {p95:7.1f}  "
            f"queries {len(queries)}"
        )
    print("load average at the end {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
