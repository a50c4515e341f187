"""Benchmark: import N contacts from a generated CSV into a fresh database.

    .venv/bin/python -m benchmarks.import_contacts --rows 1000000
    .venv/bin/python -m benchmarks.import_contacts --rows 1000000 \
        --database-url postgres://postgres@127.0.0.1:5432/rapport_bench_impex

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
import time

from benchmarks._impex import generate_contacts, peak_rss_mb, setup_django, workdir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="Keep the temp folder.")
    args = parser.parse_args()

    folder = workdir()
    csv_path = folder / "contacts.csv"
    started = time.perf_counter()
    generate_contacts(csv_path, args.rows)
    print(
        f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    vendor = setup_django(args.database_url, folder)

    from rapport.customers.models import Customer
    from rapport.dataquality.models import ImportRun
    from rapport.dataquality.services import run_import

    run = ImportRun.objects.create(object_type="contacts", original_name=csv_path.name)
    server_started = _server_cpu()
    load_before = os.getloadavg()
    started = time.perf_counter()
    cpu_started = time.process_time()
    children_started = _children_cpu()
    result, _ = run_import(
        actor=None,
        object_type="contacts",
        path=csv_path,
        mapping=None,
        run=run,
        batch_size=args.batch_size,
    )
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
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


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
