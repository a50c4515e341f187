"""Benchmark: erase one person (GDPR) when the logs hold N rows about other people.

    .venv/bin/python -m benchmarks.gdpr_erase --rows 200000
    .venv/bin/python -m benchmarks.gdpr_erase --rows 200000 \\
        --database-url postgres://postgres@127.0.0.1:5432/rapport_bench_gdpr

Seeds N audit rows, N outbox events and N webhook deliveries about other customers
(payloads like the real ones), plus one person with a note, then times `customer_erase`:
the by-value sweep reads each of those tables once, so this is the cost that grows with
the logs. Prints the seconds and the rows each contributor rewrote.
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
import uuid

from benchmarks._impex import FIRST, LAST, setup_django, workdir


def seed(rows: int) -> None:
    from django.db import transaction

    from rapport.core import audit
    from rapport.core.models import AuditLogEntry, OutboxEvent
    from rapport.integrations.models import WebhookDelivery, WebhookEndpoint

    rng = random.Random(7)
    endpoint = WebhookEndpoint.objects.create(url="https://example.com/hook", event_types=["*"])
    batch = 5000
    for start in range(0, rows, batch):
        audits, events, deliveries = [], [], []
        for i in range(start, min(start + batch, rows)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            data = {
                "id": 10_000 + i,
                "first_name": first,
                "last_name": last,
                "display_name": f"{first} {last}",
                "emails": [{"email": f"{first.lower()}.{i}@example.com", "kind": "work"}],
                "phones": [{"e164": f"+3361234{i % 10000:04d}"}],
            }
            audits.append(
                audit.entry(
                    actor=None,
                    action="create",
                    object_type="customers.customer",
                    object_id=10_000 + i,
                    object_repr=f"{first} {last}",
                    changes={k: [None, v] for k, v in data.items()},
                )
            )
            event_id = uuid.uuid4()
            events.append(
                OutboxEvent(
                    event_id=event_id,
                    type="customer.created",
                    data=data,
                    aggregate_type="customers.customer",
                    aggregate_id=str(10_000 + i),
                )
            )
            deliveries.append(
                WebhookDelivery(
                    endpoint=endpoint,
                    event_id=event_id,
                    event_type="customer.created",
                    payload={"type": "customer.created", "id": str(event_id), "data": data},
                    status="succeeded",
                    response_body='{"ok": true}',
                )
            )
        with transaction.atomic():
            AuditLogEntry.objects.bulk_create(audits)
            OutboxEvent.objects.bulk_create(events)
            WebhookDelivery.objects.bulk_create(deliveries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    folder = workdir()
    try:
        vendor = setup_django(args.database_url, folder)
        from rapport.customers import services
        from rapport.customers.services import CustomerInput, EmailInput, PhoneInput
        from rapport.identity.models import User

        admin = User.objects.create_superuser(email="bench@example.com", password="x" * 16)
        started = time.perf_counter()
        seed(args.rows)
        print(
            f"{vendor}: seeded {args.rows:,} audit rows, events and deliveries "
            f"in {time.perf_counter() - started:.1f} s"
        )
        person = services.customer_create(
            actor=admin,
            data=CustomerInput(
                first_name="Quentin",
                last_name="Erasable",
                emails=[EmailInput("quentin.erasable@example.org")],
                phones=[PhoneInput("+33 6 99 88 77 66")],
            ),
        )
        services.note_add(
            actor=admin, customer=person, body="Asked to be forgotten, see ticket 4711."
        )
        started = time.perf_counter()
        services.customer_erase(actor=admin, customer=person)
        seconds = time.perf_counter() - started
        from rapport.core.models import AuditLogEntry

        fact = AuditLogEntry.objects.filter(action="erase").latest("id")
        print(f"{vendor}: erased one person among {args.rows:,} logged others in {seconds:.2f} s")
        print(f"rows rewritten per contributor: {fact.changes['redacted']}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
