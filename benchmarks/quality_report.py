"""Benchmark: data-quality scoring, the "worst fields" report and a bulk fix-up at scale.

    .venv/bin/python -m benchmarks.quality_report --rows 1000000
    .venv/bin/python -m benchmarks.quality_report --rows 1000000 \
        --database-url postgres://postgres@127.0.0.1:5432/rapport_bench_quality

Seeds N customers straight into a fresh database (an address each; one in ten with a
national-format phone, one in eight with a lower-case postcode, one in twenty shouted,
some without e-mail or birth date), then times: `quality.rescore` of every record (the
backfill), the report's one aggregate query, and the phone fix-up job (audited, with
events) over the records that need it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import time

from benchmarks._impex import FIRST, LAST, setup_django, workdir


def seed(rows: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from rapport.core import bulk
    from rapport.customers.models import Address, Customer, PhoneNumber

    rng = random.Random(11)
    now = timezone.now()
    for start in range(0, rows, 5000):
        with transaction.atomic():
            people, phones, addresses = [], [], []
            for i in range(start, min(rows, start + 5000)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                if i % 20 == 0:
                    last = last.upper()
                national = i % 10 == 0
                phone = "020 7946 0958" if national else f"+4420794{i % 100000:05d}"
                people.append(
                    Customer(
                        first_name=first, last_name=last, display_name=f"{first} {last}",
                        primary_email=f"p{i}@example.com" if i % 7 else "",
                        primary_phone=phone, city="London", country="GB",
                        birth_date=dt.date(1960 + i % 40, 1 + i % 12, 1) if i % 3 else None,
                        created_at=now, updated_at=now, lifecycle_changed_at=now,
                    )
                )  # fmt: skip
            bulk.insert(people, returning_ids=True)
            for i, c in zip(range(start, start + len(people)), people, strict=True):
                phones.append(PhoneNumber(customer=c, e164=c.primary_phone, is_primary=True))
                addresses.append(
                    Address(customer=c, line1=f"{i} High St", city="London", country="GB",
                            postcode="sw1a1aa" if i % 8 == 0 else "SW1A 1AA", is_primary=True)
                )  # fmt: skip
            bulk.insert(phones)
            bulk.insert(addresses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    folder = workdir()
    vendor = setup_django(args.database_url, folder)
    from django.db import connection

    from rapport.core.jobs import job_create, run_job
    from rapport.customers import quality
    from rapport.dataquality import cleansing, selectors
    from rapport.dataquality.exporting import system_actor
    from rapport.identity.models import User

    started = time.perf_counter()
    seed(args.rows)
    print(f"seeded {args.rows:,} customers in {time.perf_counter() - started:.1f} s ({vendor})")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    started, cpu = time.perf_counter(), time.process_time()
    scored, changed = quality.rescore()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"rescore (backfill): {scored:,} scored, {changed:,} written in {wall:.1f} s "
          f"-> {scored / wall:,.0f} records/s ({scored / cpu:,.0f} per CPU-s)")  # fmt: skip

    started = time.perf_counter()
    counts = selectors.quality_counts(actor=system_actor())
    wall = time.perf_counter() - started
    print(f"report aggregate (one query, {counts['records']:,} records): {wall * 1000:.0f} ms; "
          f"phone_format={counts['issue:phone_format']:,} "
          f"postcode_format={counts['issue:postcode_format']:,} "
          f"name_format={counts['issue:name_format']:,}")  # fmt: skip

    admin = User.objects.create_superuser(email="bench@example.com", password="x" * 16)
    job = job_create(owner=admin, kind=cleansing.CLEANSE_JOB_KIND, title="phones",
                     params={"fix": "phones"})  # fmt: skip
    started, cpu = time.perf_counter(), time.process_time()
    result = run_job(job.pk, cleansing.cleanse_execute)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"phone fix-up job: {result['fixed']:,} records fixed (audit row + event each) in "
          f"{wall:.1f} s -> {result['fixed'] / wall:,.0f} records/s "
          f"({result['fixed'] / cpu:,.0f} per CPU-s), report recounted at the end")  # fmt: skip
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
