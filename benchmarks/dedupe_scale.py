"""Duplicate detection at scale: N synthetic persons (default 1,000,000) with planted
duplicates (typos, swapped names, missing fields, other phone formats, new e-mails)
bulk-inserted into a fresh SQLite database under a temp dir; then the full detection
runs as in production (load, prepare, train, score, cluster, save) and the wall time,
pairs found and precision / recall on the planted pairs are printed.

    .venv/bin/python benchmarks/dedupe_scale.py [--records 1000000] [--duplicates 0.05]
        [--database PATH]   # reuse a database an earlier run filled (same --records)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _pools(rng: np.random.Generator) -> dict[str, np.ndarray]:
    from faker import Faker

    fake = Faker(["en_GB", "en_US", "de_DE", "fr_FR", "nl_NL", "es_ES"])
    Faker.seed(11)
    first = np.array(sorted({fake.first_name() for _ in range(15_000)}))
    last = np.array(sorted({fake.last_name() for _ in range(40_000)}))
    streets = np.array(sorted({fake.street_name() for _ in range(20_000)}))
    cities = np.array(sorted({fake.city() for _ in range(8_000)}))
    return {"first": first, "last": last, "streets": streets, "cities": cities}


def _typo(rng: np.random.Generator, text: str) -> str:
    if len(text) < 4:
        return text
    i = int(rng.integers(1, len(text) - 1))
    k = int(rng.integers(0, 3))
    if k == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if k == 1:
        return text[:i] + text[i + 1 :]
    return text[:i] + "aeiourtsn"[int(rng.integers(0, 9))] + text[i + 1 :]


def generate(n: int, dup_share: float, seed: int = 5) -> tuple[list[tuple], set[tuple[int, int]]]:
    """Rows (external id, first, last, birth, email, phone, line1, postcode, city) and the
    planted duplicate pairs as (row index, row index)."""
    rng = np.random.default_rng(seed)
    pools = _pools(rng)
    n_dup = int(n * dup_share)
    n_orig = n - n_dup
    first = pools["first"][rng.integers(0, len(pools["first"]), n_orig)]
    last = pools["last"][rng.integers(0, len(pools["last"]), n_orig)]
    birth_ord = rng.integers(
        dt.date(1940, 1, 1).toordinal(), dt.date(2006, 1, 1).toordinal(), n_orig
    )
    postcode_n = rng.integers(0, 30_000, n_orig)
    street = pools["streets"][rng.integers(0, len(pools["streets"]), n_orig)]
    number = rng.integers(1, 300, n_orig)
    has_email = rng.random(n_orig) < 0.8
    has_phone = rng.random(n_orig) < 0.7
    has_birth = rng.random(n_orig) < 0.85
    phones = rng.integers(2_000_000_000, 9_999_999_999, n_orig)
    rows: list[tuple] = []
    for i in range(n_orig):
        f, lname = str(first[i]), str(last[i])
        rows.append(
            (
                f"c{i}",
                f,
                lname,
                dt.date.fromordinal(int(birth_ord[i])) if has_birth[i] else None,
                f"{f}.{lname}{i}@example.com".lower().replace(" ", "") if has_email[i] else "",
                f"+1{phones[i]}" if has_phone[i] else "",
                f"{number[i]} {street[i]}",
                f"{postcode_n[i]:05d}",
                str(pools["cities"][postcode_n[i] % len(pools["cities"])]),
            )
        )
    planted: set[tuple[int, int]] = set()
    sources = rng.choice(n_orig, n_dup, replace=False)
    for k, src in enumerate(sources):
        ext, f, lname, birth, email, phone, line1, postcode, city = rows[int(src)]
        kind = k % 6
        if kind == 0:  # typo in the last name
            lname = _typo(rng, lname)
        elif kind == 1:  # given and family names swapped
            f, lname = lname, f
        elif kind == 2:  # typo in the first name, no birth date, no phone
            f, birth, phone = _typo(rng, f), None, ""
        elif kind == 3:  # phone in national format, new e-mail
            phone = phone[2:] if phone else ""
            email = f"{f[:1]}{lname}.{k}@example.org".lower().replace(" ", "")
        elif kind == 4:  # missing e-mail and address, birth day mistyped
            email, line1, postcode = "", "", ""
            if birth is not None:
                birth = birth.replace(day=(birth.day % 28) + 1)
        else:  # shouted and with a typo in the street
            f, lname, line1 = f.upper(), lname.upper(), _typo(rng, line1)
        rows.append((f"d{k}-{ext}", f, lname, birth, email, phone, line1, postcode, city))
        planted.add((int(src), n_orig + k))
    return rows, planted


def insert(rows: list[tuple]) -> None:
    """Raw executemany with every NOT NULL column's default: the fastest honest bulk load."""
    from django.db import connection, transaction
    from django.utils import timezone

    from rapport.customers.models import Address, Customer

    now = timezone.now()
    c_fields = [f for f in Customer._meta.concrete_fields if not f.primary_key]
    given = {
        "kind": None,
        "first_name": None,
        "last_name": None,
        "display_name": None,
        "birth_date": None,
        "primary_email": None,
        "primary_phone": None,
        "city": None,
        "external_id": None,
        "country": None,
        "created_at": None,
        "updated_at": None,
        "lifecycle_changed_at": None,
        "custom_fields": None,
    }
    defaults = {f.attname: f.get_default() for f in c_fields if f.attname not in given}
    columns = [f.column for f in c_fields]
    sql = (
        f"INSERT INTO {Customer._meta.db_table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    batch = 20_000
    with transaction.atomic(), connection.cursor() as cur:
        for start in range(0, len(rows), batch):
            values = []
            for ext, f, lname, birth, email, phone, _l1, _pc, city in rows[start : start + batch]:
                row = {
                    "kind": "person",
                    "first_name": f,
                    "last_name": lname,
                    "display_name": f"{f} {lname}",
                    "birth_date": birth,
                    "primary_email": email,
                    "primary_phone": phone,
                    "city": city,
                    "external_id": ext,
                    "country": "US",
                    "created_at": now,
                    "updated_at": now,
                    "lifecycle_changed_at": now,
                    "custom_fields": json.dumps({}),
                    **defaults,
                }
                values.append(
                    [
                        connection.ops.adapt_datefield_value(row[f.attname])
                        if f.attname == "birth_date"
                        else connection.ops.adapt_datetimefield_value(row[f.attname])
                        if f.attname in ("created_at", "updated_at", "lifecycle_changed_at")
                        else row[f.attname]
                        for f in c_fields
                    ]
                )
            cur.executemany(sql, values)
        ids = dict(Customer.objects.values_list("external_id", "id"))
        a_sql = (
            f"INSERT INTO {Address._meta.db_table} (customer_id, kind, line1, line2, city, "
            "postcode, region, country, is_primary) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        )
        for start in range(0, len(rows), batch):
            cur.executemany(
                a_sql,
                [
                    (ids[ext], "home", l1, "", city, pc, "", "US", True)
                    for ext, _f, _l, _b, _e, _p, l1, pc, city in rows[start : start + batch]
                ],
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--duplicates", type=float, default=0.05, help="share of planted copies")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument(
        "--database",
        help="SQLite file to use; when it already holds the persons, skip the (slow) insert",
    )
    parser.add_argument(
        "--without",
        action="append",
        choices=["birth_date", "phone", "address"],
        default=[],
        help="blank this column in every record before the run (repeatable): data that "
        "lacks it, as many CRMs do",
    )
    args = parser.parse_args()

    path = args.database or f"{tempfile.mkdtemp(prefix='dedupe-scale-')}/scale.sqlite3"
    print(f"database: {path}", flush=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from rapport.dedupe import services

    call_command("migrate", verbosity=0)
    t = time.perf_counter()
    rows, planted = generate(args.records, args.duplicates)
    print(
        f"generated {len(rows):,} rows ({len(planted):,} planted duplicates) in "
        f"{time.perf_counter() - t:.1f}s",
        flush=True,
    )
    from rapport.customers.models import Customer

    if Customer.objects.count() == len(rows):
        print("persons already in the database: insert skipped", flush=True)
    else:
        t = time.perf_counter()
        insert(rows)
        print(f"inserted into SQLite in {time.perf_counter() - t:.1f}s", flush=True)

    if "birth_date" in args.without:
        Customer.objects.update(birth_date=None)
    if "phone" in args.without:
        Customer.objects.update(primary_phone="")
    if "address" in args.without:
        from rapport.customers.models import Address

        Address.objects.all().delete()
        Customer.objects.update(city="")
    if args.without:
        print(f"blanked: {', '.join(args.without)}", flush=True)

    t = time.perf_counter()
    cpu = time.process_time()
    run, detection = services.run_full(threshold=args.threshold)
    print(f"run status: {run.status} {run.error}", flush=True)
    print(f"model plan: {run.parameters.get('plan')}", flush=True)
    wall = time.perf_counter() - t
    cpu = time.process_time() - cpu

    ext_index = {row[0]: i for i, row in enumerate(rows)}
    names = services.external_ids(
        int(i) for i in set(detection.pairs["id_a"]) | set(detection.pairs["id_b"])
    )
    strong = detection.pairs[detection.pairs["probability"] >= args.threshold]
    found = {
        tuple(sorted((ext_index[names[int(a)]], ext_index[names[int(b)]])))
        for a, b in zip(strong["id_a"], strong["id_b"], strict=True)
    }
    tp = len(found & planted)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(planted) if planted else 1.0
    print(f"records: {run.records:,}")
    print(f"full dedupe wall time: {wall:.1f}s, CPU time (all threads): {cpu:.1f}s")
    print(f"load average after: {Path('/proc/loadavg').read_text().strip()}")
    print(f"steps (wall seconds): {run.parameters.get('timings')}")
    print(
        f"pairs >= {args.threshold}: {len(strong):,}  stored for review: {run.pairs_found:,}  "
        f"clusters: {run.clusters_found:,}"
    )
    print(
        f"planted pairs: {len(planted):,}  precision {precision:.4f}  recall {recall:.4f}  "
        "(pairs among originals that look alike count as false positives)"
    )


if __name__ == "__main__":
    sys.exit(main())
