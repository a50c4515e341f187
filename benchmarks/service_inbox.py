"""Service inbox at scale: the inbox's queue views over many tickets (p50/p95 of the page
a browser gets, through the test client: session, scope, view counts and the keyset page),
and the inbound e-mail rate (`email_ingest`: parse, match the customer, thread, store the
message, audit, outbox, timeline).

    .venv/bin/python benchmarks/service_inbox.py --tickets 1000000 --mails 1000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_bench \
        .venv/bin/python benchmarks/service_inbox.py --tickets 1000000

The tickets are seed rows written with bulk INSERTs (a benchmark's fixture, like the
other benchmarks' seeds; real tickets come through the services, which the mail part
measures). Without DATABASE_URL it uses a fresh SQLite file in a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import tempfile
import time


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--mails", type=int, default=500)
    parser.add_argument("--requests", type=int, default=30, help="page loads per view")
    args = parser.parse_args()

    if not os.environ.get("DATABASE_URL"):
        folder = tempfile.mkdtemp(prefix="rapport-bench-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client

    from rapport.customers.models import Customer, EmailAddress
    from rapport.identity.models import User
    from rapport.service import services
    from rapport.service.models import Queue, Ticket

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    admin = User.objects.filter(email="bench@example.com").first()
    if admin is None:
        admin = User.objects.create_superuser("bench@example.com", "bench-password-not-used")
    agents = [
        User.objects.get_or_create(email=f"agent{i}@example.com", defaults={"full_name": f"A{i}"})[
            0
        ]
        for i in range(20)
    ]
    rng = random.Random(14)
    started = time.perf_counter()
    if not Customer.objects.exists():
        Customer.objects.bulk_create(
            [
                Customer(display_name=f"Bench customer {i}", primary_email=f"c{i}@bench.example")
                for i in range(args.customers)
            ],
            batch_size=5_000,
        )
        EmailAddress.objects.bulk_create(
            [
                EmailAddress(customer_id=pk, email=email, is_primary=True)
                for pk, email in Customer.objects.values_list("pk", "primary_email")
            ],
            batch_size=5_000,
        )
    customer_ids = list(Customer.objects.values_list("pk", flat=True))
    statuses = services.statuses_seed()
    queues = [Queue.objects.get_or_create(name=n)[0] for n in ("Support", "Billing", "Returns")]
    have = Ticket.objects.count()
    now = dt.datetime.now(dt.UTC)
    weights = [55, 15, 5, 15, 10]  # open, pending, on hold, solved, closed
    batch = 10_000
    for start in range(have, args.tickets, batch):
        rows = []
        for i in range(start, min(start + batch, args.tickets)):
            status = rng.choices(statuses, weights=weights)[0]
            last = now - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 365))
            open_ = status.category == "open"
            rows.append(
                Ticket(
                    customer_id=customer_ids[i % len(customer_ids)],
                    subject=f"Bench ticket {i}",
                    status_id=status.pk,
                    status_category=status.category,
                    priority=rng.choice(["low", "normal", "normal", "high", "urgent"]),
                    queue_id=rng.choice(queues).pk,
                    owner_id=rng.choice(agents).pk if rng.random() < 0.7 else None,
                    created_at=last,
                    last_message_at=last,
                    sla_next_due=now + dt.timedelta(minutes=rng.randint(-600, 6000))
                    if open_
                    else None,
                )
            )
        with transaction.atomic():
            Ticket.objects.bulk_create(rows, batch_size=2_000)
        if (start // batch) % 10 == 0:
            print(f"  seeded {min(start + batch, args.tickets):,} tickets", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE service_ticket")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"Seeded {Ticket.objects.count():,} tickets in {time.perf_counter() - started:.0f} s "
        f"({connection.vendor})"
    )

    client = Client()
    client.force_login(admin)
    agent_client = Client()
    agent = agents[0]
    agent.is_superuser = True
    agent.save()
    agent_client.force_login(agent)
    views = {
        "open": (client, "/service/?view=open"),
        "mine": (agent_client, "/service/?view=mine"),
        "unassigned": (client, "/service/?view=unassigned"),
        "breaching": (client, "/service/?view=breaching&sort=due"),
        "queue Billing": (client, f"/service/?view=open&queue={queues[1].pk}"),
        "all, page 2": (client, None),
    }
    first = client.get("/service/?view=all")
    assert first.status_code == 200
    print(f"\nInbox views over {Ticket.objects.count():,} tickets ({args.requests} loads each):")
    print(f"{'view':<16}{'p50 ms':>9}{'p95 ms':>9}")
    for name, (who, url) in views.items():
        if url is None:
            from rapport.service.selectors import TicketFilters, ticket_page

            cursor = ticket_page(actor=admin, filters=TicketFilters(view="all")).next_cursor
            url = f"/service/?view=all&cursor={cursor}"
        who.get(url)
        times = []
        for _ in range(args.requests):
            t0 = time.perf_counter()
            response = who.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        print(f"{name:<16}{statistics.median(times):>9.1f}{_pct(times, 0.95):>9.1f}")

    box = services.mailbox_save(
        actor=admin,
        data=services.MailboxInput(
            name=f"Bench {time.time()}", email_address=f"b{int(time.time())}@support.example"
        ),
    )
    from email.message import EmailMessage

    raws = []
    for i in range(args.mails):
        msg = EmailMessage()
        msg["From"] = f"Customer <c{rng.randrange(args.customers)}@bench.example>"
        msg["To"] = box.email_address
        msg["Subject"] = f"Question {i}"
        msg["Message-ID"] = f"<bench-{time.time_ns()}-{i}@bench.example>"
        if i % 3 == 2 and raws:  # a third are replies to an earlier mail
            msg["In-Reply-To"] = f"<bench-ref-{i - 2}>"
        msg.set_content("Hello,\n\nwhere is my parcel? It was due yesterday.\n\nThanks")
        msg.add_alternative(
            "<p>Hello,</p><p>where is <b>my parcel</b>?</p><img src='https://t.example/p.gif'>",
            subtype="html",
        )
        raws.append(bytes(msg))
    t0 = time.perf_counter()
    outcomes: dict[str, int] = {}
    for raw in raws:
        result = services.email_ingest(mailbox=box, raw=raw)
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    elapsed = time.perf_counter() - t0
    print(
        f"\nInbound e-mail: {args.mails} messages in {elapsed:.1f} s = "
        f"{args.mails / elapsed:.0f} messages/s {outcomes}"
    )


if __name__ == "__main__":
    main()
