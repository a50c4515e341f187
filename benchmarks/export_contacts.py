"""Benchmark: export N contacts to CSV (or XLSX), streaming, and show memory stays flat.

    .venv/bin/python -m benchmarks.export_contacts --rows 1000000
    .venv/bin/python -m benchmarks.export_contacts --rows 1000000 \
        --database-url postgres://postgres@127.0.0.1:5432/rapport_bench_impex

Seeds the customers (with an address and a tag each) straight into a fresh database, then
exports them all and prints rows/s and the peak RSS, sampled during the export, next to
the RSS before it started: constant memory means the two stay close whatever N is.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import threading
import time

from benchmarks._impex import FIRST, LAST, PLACES, peak_rss_mb, setup_django, workdir


def current_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def seed(rows: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from rapport.core import bulk
    from rapport.customers.models import Address, Customer, CustomerTag, Tag

    rng = random.Random(7)
    tag = Tag.objects.create(name="vip")
    now = timezone.now()
    for start in range(0, rows, 5000):
        with transaction.atomic():
            people = []
            for i in range(start, min(rows, start + 5000)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                city, country, _, _ = rng.choice(PLACES)
                people.append(
                    Customer(
                        first_name=first, last_name=last, display_name=f"{first} {last}",
                        primary_email=f"p{i}@example.com", primary_phone="+33612345678",
                        city=city, country=country[:2].upper(), external_id=f"E{i:08d}",
                        custom_fields={"tier": "gold"} if i % 3 else {},
                        created_at=now, updated_at=now, lifecycle_changed_at=now,
                    )
                )  # fmt: skip
            bulk.insert(people, returning_ids=True)
            bulk.insert(
                [Address(customer=c, line1="1 Main St", city=c.city, country=c.country,
                         is_primary=True) for c in people]
            )  # fmt: skip
            bulk.insert([CustomerTag(customer=c, tag=tag) for c in people[::2]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    args = parser.parse_args()

    folder = workdir()
    vendor = setup_django(args.database_url, folder)
    from rapport.customers.models import CustomFieldDefinition
    from rapport.dataquality.exporting import export_contacts

    CustomFieldDefinition.objects.create(key="tier", label="Tier", field_type="text")
    started = time.perf_counter()
    seed(args.rows)
    print(f"seeded {args.rows:,} customers in {time.perf_counter() - started:.1f} s ({vendor})")

    before = current_rss_mb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], current_rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    target = folder / f"export.{args.format}"
    started = time.perf_counter()
    cpu_started = time.process_time()
    count = export_contacts(actor=None, filters={}, target=target, file_format=args.format)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    done.set()
    sampler.join()
    print(f"exported {count:,} rows ({target.stat().st_size / 1e6:.0f} MB {args.format}) "
          f"in {elapsed:.1f} s  ->  {count / elapsed:,.0f} rows/s "
          f"({count / cpu:,.0f} rows/CPU-s)")  # fmt: skip
    print(f"RSS before the export: {before:.0f} MB; peak during the export: {peak[0]:.0f} MB "
          f"(process peak incl. seeding: {peak_rss_mb():.0f} MB)")  # fmt: skip
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
