"""Benchmark: import N contacts from a generated CSV into a fresh database.

    .venv/bin/python -m benchmarks.import_contacts --rows 1000000
    .venv/bin/python -m benchmarks.import_contacts --rows 1000000 \
        --database-url postgres://postgres@127.0.0.1:5432/rapport_bench_impex
    .venv/bin/python -m benchmarks.import_contacts --rows 10000 --format xlsx
    .venv/bin/python -m benchmarks.import_contacts --rows 50000 --dry-run-again

`--format xlsx` (or `ods`) writes the same generated contacts as a spreadsheet first
(untimed) and imports that: the figures compare a spreadsheet with the CSV.

Prints rows/s, the total time, the CPU time of the importing process and of its
validation worker processes, the load average before and after, and the peak memory (RSS)
of the process. On a shared machine the wall clock includes waiting for a CPU: the rows
per CPU-second show what the import itself costs.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._impex import (
    generate_contacts,
    import_contacts_file,
    peak_rss_mb,
    setup_django,
    workdir,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="Keep the temp folder.")
    parser.add_argument(
        "--format", choices=["csv", "xlsx", "ods"], default="csv", help="File to import."
    )
    parser.add_argument(
        "--without-customer-indexes",
        action="store_true",
        help="SQLite experiment: drop the customer table's search triggers and non-unique "
        "indexes for the load, then rebuild them (timed apart).",
    )
    parser.add_argument(
        "--dry-run-again",
        action="store_true",
        help="Then time a dry run of the same file: every row matches a stored contact "
        "and is compared with it (the re-import of an unchanged export).",
    )
    args = parser.parse_args()

    folder = workdir()
    csv_path = folder / "contacts.csv"
    started = time.perf_counter()
    generate_contacts(csv_path, args.rows)
    print(
        f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    if args.format != "csv":
        started = time.perf_counter()
        # In a child process: the writer's memory must not count in this one's peak RSS.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from benchmarks._impex import spreadsheet_from_csv; "
                "spreadsheet_from_csv(__import__('pathlib').Path(sys.argv[1]), sys.argv[2])",
                str(csv_path),
                args.format,
            ],
            check=True,
        )
        csv_path = csv_path.with_suffix(f".{args.format}")
        print(
            f"wrote it as {csv_path.name} ({csv_path.stat().st_size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - started:.1f} s"
        )
    vendor = setup_django(args.database_url, folder)
    dropped = _drop_customer_indexes() if args.without_customer_indexes else None

    from rapport.customers.models import Customer
    from rapport.dataquality.models import ImportRun

    run = ImportRun.objects.create(object_type="contacts", original_name=csv_path.name)
    server_started = _server_cpu()
    load_before = os.getloadavg()
    started = time.perf_counter()
    cpu_started = time.process_time()
    children_started = _children_cpu()
    result = import_contacts_file(csv_path, run, args.batch_size)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    workers_cpu = _children_cpu() - children_started
    server_cpu = _server_cpu() - server_started
    people = Customer.objects.filter(kind="person").count()
    print(f"database: {vendor}; batch size {args.batch_size}")
    print(
        f"rows: {result.rows:,}  created: {result.created:,}  updated: {result.updated:,}  "
        f"failed: {result.failed:,}  persons in db: {people:,}"
    )
    print(f"import time: {elapsed:.1f} s  ->  {result.rows / elapsed:,.0f} rows/s")
    # On a shared machine the wall clock includes waiting for the CPU; the process's own
    # CPU time shows what the import costs.
    print(f"import CPU time (this process): {cpu:.1f} s  ->  {result.rows / cpu:,.0f} rows/CPU-s")
    total = cpu + workers_cpu
    print(
        f"validation workers' CPU time: {workers_cpu:.1f} s; all processes: {total:.1f} s  ->  "
        f"{result.rows / total:,.0f} rows/CPU-s (database server not included)"
    )
    if vendor == "postgresql":
        print(
            f"database server CPU time (this connection's backend): {server_cpu:.1f} s; "
            f"with it: {result.rows / (total + server_cpu):,.0f} rows/CPU-s"
        )
    print(
        "load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}; ".format(*load_before)
        + "after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    )
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    if dropped is not None:
        started = time.perf_counter()
        _rebuild_customer_indexes(dropped)
        rebuild = time.perf_counter() - started
        print(
            f"rebuilt the customer indexes and search index in {rebuild:.1f} s  ->  "
            f"{result.rows / (elapsed + rebuild):,.0f} rows/s including it"
        )
    if args.dry_run_again:
        _time_dry_run(csv_path, args.batch_size)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


def _time_dry_run(path: Path, batch_size: int) -> None:
    from rapport.dataquality.services import run_import

    started = time.perf_counter()
    cpu_started = time.process_time()
    children_started = _children_cpu()
    result, _ = run_import(
        actor=None,
        object_type="contacts",
        path=path,
        mapping=None,
        dry_run=True,
        batch_size=batch_size,
    )
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    total = cpu + _children_cpu() - children_started
    print(
        f"dry run of the same file: created {result.created:,}  updated {result.updated:,}  "
        f"unchanged {result.unchanged:,}  failed {result.failed:,}"
    )
    print(
        f"dry run time: {elapsed:.1f} s  ->  {result.rows / elapsed:,.0f} rows/s; "
        f"CPU (this process) {cpu:.1f} s  ->  {result.rows / cpu:,.0f} rows/CPU-s; "
        f"with the validation workers {total:.1f} s  ->  {result.rows / total:,.0f} rows/CPU-s"
    )


def _drop_customer_indexes() -> dict[str, list[str]]:
    """Drop `customers_customer`'s FTS5 triggers and non-unique indexes (SQLite); return
    their CREATE statements. Unique ones stay: the import's upserts rely on them."""
    from django.db import connection

    if connection.vendor != "sqlite":
        raise SystemExit("--without-customer-indexes is a SQLite experiment")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'customers_customer' "
            "AND sql IS NOT NULL AND (type = 'trigger' OR "
            "(type = 'index' AND sql NOT LIKE 'CREATE UNIQUE%'))"
        )
        found = cursor.fetchall()
        for kind, name, _ in found:
            cursor.execute(f'DROP {kind.upper()} "{name}"')
    print(
        f"dropped {sum(k == 'trigger' for k, _, _ in found)} triggers and "
        f"{sum(k == 'index' for k, _, _ in found)} indexes of customers_customer"
    )
    return {
        "indexes": [sql for kind, _, sql in found if kind == "index"],
        "triggers": [sql for kind, _, sql in found if kind == "trigger"],
    }


def _rebuild_customer_indexes(dropped: dict[str, list[str]]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in dropped["indexes"]:
            cursor.execute(sql)
        cursor.execute("INSERT INTO customer_search(customer_search) VALUES ('rebuild')")
        for sql in dropped["triggers"]:
            cursor.execute(sql)


def _server_cpu() -> float:
    """CPU seconds of the PostgreSQL backend serving this connection (same machine), read
    from /proc; 0 on SQLite, where the database runs inside this process."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    # Finished children only: the import waits for its validation workers to exit.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
