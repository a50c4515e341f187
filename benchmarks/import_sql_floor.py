"""Benchmark: the SQLite time of a contact import alone, with no Python work around it.

    .venv/bin/python -m benchmarks.import_sql_floor --rows 200000
    .venv/bin/python -m benchmarks.import_sql_floor --rows 200000 --without-customer-indexes
    .venv/bin/python -m benchmarks.import_sql_floor --rows 1000000 --keep
    .venv/bin/python -m benchmarks.import_sql_floor --replay /tmp/rapport-bench-… \
        --pragma cache_size=-524288 --pragma wal_autocheckpoint=100000

Runs a real import of N generated contacts into a fresh SQLite database and records
every statement it sends (SQL, parameters, commits) to a file. Then it replays those
statements, in order, on a copy of the database as it was before the import, through the
plain `sqlite3` module and with the application's PRAGMAs. It times each statement.

What the replay takes is SQLite's own work for the rows the import writes: the inserts,
index and full-text maintenance, and commits with their WAL checkpoints. It is the least
time any importer writing these rows can take on one writer. That cost also decides the
import's throughput ceiling (rows/s) whatever the Python side does. The import's own time
while recording is slowed by the recording and is not a figure.

`--without-customer-indexes` drops the customer table's full-text triggers and
non-unique indexes in the replayed copy (not the partial index of merged records: no
imported row enters it, and the import's look-ups read it). That shows what the
schema's search and list indexes cost. `--keep` leaves the recording in place, and
`--replay` times it again, for instance with other `--pragma` settings: recording a
million rows takes longer than replaying them.
"""

from __future__ import annotations

import argparse
import collections
import pickle
import re
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

from benchmarks._impex import generate_contacts, import_contacts_file, setup_django, workdir

_TABLE = re.compile(r'\s*(INSERT INTO|UPDATE|SELECT .*? FROM|DELETE FROM)\s+"?(\w+)"?', re.S)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--without-customer-indexes", action="store_true")
    parser.add_argument(
        "--pragma",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="Replay with this PRAGMA (e.g. cache_size=-524288); it also replaces the "
        "import's own setting of it. Repeatable.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the temp folder.")
    parser.add_argument(
        "--replay",
        type=Path,
        metavar="FOLDER",
        help="Replay the recording a --keep run left in FOLDER instead of recording anew.",
    )
    args = parser.parse_args()
    pragmas = dict(p.split("=", 1) for p in args.pragma)

    folder = args.replay or workdir()
    try:
        if args.replay is None:
            _record(folder, args.rows, args.batch_size)
        recorded_rows = int((folder / "rows.txt").read_text())
        replay_seconds = _replay(folder, args.without_customer_indexes, pragmas)
        _check_same_rows(folder)
        per_row = replay_seconds * 1e6 / recorded_rows
        print(
            f"SQLite alone: {replay_seconds:.1f} s for {recorded_rows:,} rows = "
            f"{per_row:.0f} µs a row  ->  at most {recorded_rows / replay_seconds:,.0f} rows/s "
            "for any importer writing these rows on one writer"
        )
    finally:
        if args.keep or args.replay:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _record(folder: Path, rows: int, batch_size: int) -> None:
    """Import `rows` generated contacts, writing `statements.pickle`, the database as it
    was before (`before.sqlite3`), the application's PRAGMAs and the row count."""
    csv_path = folder / "contacts.csv"
    generate_contacts(csv_path, rows)
    vendor = setup_django(None, folder)
    if vendor != "sqlite":
        raise SystemExit("this benchmark replays SQLite statements")
    from django.db import connection

    from rapport.dataquality.models import ImportRun

    run = ImportRun.objects.create(object_type="contacts", original_name=csv_path.name)
    connection.close()
    shutil.copy(folder / "bench.sqlite3", folder / "before.sqlite3")

    statements = folder / "statements.pickle"
    with statements.open("wb") as out:

        def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            plain = [_plain(p) for p in params] if many else _plain(params)
            pickle.dump((sql, plain, many), out, protocol=pickle.HIGHEST_PROTOCOL)
            return execute(sql, params, many, context)

        connection.ensure_connection()
        commit = connection._commit

        def recorded_commit() -> None:
            pickle.dump(("COMMIT", None, False), out, protocol=pickle.HIGHEST_PROTOCOL)
            commit()

        connection._commit = recorded_commit  # type: ignore[method-assign]
        started = time.perf_counter()
        with connection.execute_wrapper(record):
            result = import_contacts_file(csv_path, run, batch_size)
        print(
            f"recorded the import of {result.rows:,} rows ({result.created:,} created, "
            f"{result.failed:,} failed) in {time.perf_counter() - started:.1f} s "
            "(slowed by the recording)"
        )
    connection.close()
    from django.conf import settings

    (folder / "pragmas.sql").write_text(settings.DATABASES["default"]["OPTIONS"]["init_command"])
    (folder / "rows.txt").write_text(str(result.rows))


def _plain(params: Any) -> Any:
    """Parameters as built-in types (str and int subclasses of ours would need Django
    to unpickle)."""
    if params is None:
        return None
    return tuple(_builtin(v) for v in params)


def _builtin(value: Any) -> Any:
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int) and type(value) not in (int, bool):
        return int(value)
    return value


def _replay(folder: Path, without_customer_indexes: bool, pragmas: dict[str, str]) -> float:
    database = folder / "replay.sqlite3"
    for stale in (database, folder / "replay.sqlite3-wal", folder / "replay.sqlite3-shm"):
        stale.unlink(missing_ok=True)
    shutil.copy(folder / "before.sqlite3", database)
    db = sqlite3.connect(database, isolation_level=None)
    db.executescript((folder / "pragmas.sql").read_text())
    for name, value in pragmas.items():
        db.execute(f"PRAGMA {name} = {value}")
    if without_customer_indexes:
        found = db.execute(
            "SELECT type, name FROM sqlite_master WHERE tbl_name = 'customers_customer' "
            "AND sql IS NOT NULL AND (type = 'trigger' OR "
            "(type = 'index' AND sql NOT LIKE 'CREATE UNIQUE%' AND sql NOT LIKE '% WHERE %'))"
        ).fetchall()
        for kind, name in found:
            db.execute(f'DROP {kind.upper()} "{name}"')
        print(f"dropped {len(found)} triggers and indexes of customers_customer")

    seconds: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    overridden = tuple(f"PRAGMA {name}" for name in pragmas)
    skipped = 0
    with (folder / "statements.pickle").open("rb") as source:
        while True:
            try:
                sql, params, many = pickle.load(source)  # noqa: S301 (our own file)
            except EOFError:
                break
            if sql.startswith(overridden):
                skipped += 1  # the import's own use of a PRAGMA given on the command line
                continue
            key = _key(sql)
            query = sql.replace("%s", "?")  # Django's placeholders, as its backend does
            started = time.perf_counter()
            if sql == "COMMIT":
                db.execute("COMMIT")
            elif many:
                db.executemany(query, params)
            else:
                db.execute(query, params or ()).fetchall()
            seconds[key] += time.perf_counter() - started
            calls[key] += 1
    db.close()
    if pragmas:
        given = ", ".join(f"{name} = {value}" for name, value in pragmas.items())
        print(f"replayed with PRAGMA {given}; skipped the import's {skipped} statements on it")
    total = sum(seconds.values())
    print(f"{'seconds':>8}  {'share':>5}  {'calls':>6}  statement")
    for key, spent in seconds.most_common(12):
        print(f"{spent:8.2f}  {spent / total:5.0%}  {calls[key]:6,}  {key}")
    return total


def _check_same_rows(folder: Path) -> None:
    """The replay must have written what the import wrote, or its time means nothing."""
    tables = ("customers_customer", "customers_emailaddress", "core_outboxevent")
    counts = []
    for name in ("bench.sqlite3", "replay.sqlite3"):
        db = sqlite3.connect(folder / name)
        counts.append([db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables])
        db.close()
    if counts[0] != counts[1]:
        raise SystemExit(f"the replay wrote {counts[1]} rows, the import {counts[0]} ({tables})")
    print(f"the replay wrote the import's rows: {dict(zip(tables, counts[1], strict=True))}")


def _key(sql: str) -> str:
    if sql == "COMMIT":
        return "COMMIT (WAL writes and checkpoints)"
    match = _TABLE.match(sql)
    return f"{match.group(1).split()[0]} {match.group(2)}" if match else sql.strip()[:40]


if __name__ == "__main__":
    main()
