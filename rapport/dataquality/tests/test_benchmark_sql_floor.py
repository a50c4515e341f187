"""benchmarks/import_sql_floor.py: its replay writes what the import wrote.

The import's throughput ceiling in docs/performance.md and decision 0504 comes from this
replay, so a replay that silently skipped statements (a failing one, a changed
placeholder style) would understate the floor. The tool itself refuses to print a figure
unless the replayed database holds the import's rows; this runs it on a small file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[3]

# One SQLite run covers it: the tool makes its own SQLite databases whatever the suite's
# database is.
pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the tool replays SQLite statements"
)


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE", "RAPPORT_VAR_DIR"}
    }
    env.update({"TMPDIR": str(tmp_path), "RAPPORT_TESTING": "0"})
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.import_sql_floor", "--rows", "300", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_replay_writes_the_imports_rows_and_prints_the_floor(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "the replay wrote the import's rows" in out
    assert "SQLite alone:" in out and "µs a row" in out
    assert "INSERT customers_customer" in out and "COMMIT" in out
    assert not list(tmp_path.glob("rapport-bench-*")), "the temp folder is removed"


def test_without_customer_indexes_the_replay_drops_them_and_still_matches(tmp_path):
    result = _run(tmp_path, "--without-customer-indexes")
    assert result.returncode == 0, result.stderr[-2000:]
    # 3 search triggers and the customer table's 14 non-unique, non-partial indexes.
    assert "dropped 17 triggers and indexes of customers_customer" in result.stdout
    assert "the replay wrote the import's rows" in result.stdout


def test_a_replay_that_wrote_other_rows_is_refused(tmp_path):
    import sqlite3

    from benchmarks.import_sql_floor import _check_same_rows

    for name, customers in (("bench.sqlite3", 3), ("replay.sqlite3", 2)):
        db = sqlite3.connect(tmp_path / name)
        for table in ("customers_customer", "customers_emailaddress", "core_outboxevent"):
            db.execute(f"CREATE TABLE {table} (id integer primary key)")
        db.executemany(
            "INSERT INTO customers_customer VALUES (?)", [(i,) for i in range(customers)]
        )
        db.commit()
        db.close()
    with pytest.raises(SystemExit, match="the replay wrote"):
        _check_same_rows(tmp_path)


def test_a_kept_recording_replays_again_with_other_pragmas(tmp_path):
    assert _run(tmp_path, "--keep").returncode == 0
    (folder,) = tmp_path.glob("rapport-bench-*")
    result = _run(tmp_path, "--replay", str(folder), "--pragma", "wal_autocheckpoint=7")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "the replay wrote the import's rows" in result.stdout
    # The import reads, raises and restores it (_bulk_load_settings): none of the three
    # is replayed over the option.
    assert "replayed with PRAGMA wal_autocheckpoint = 7; skipped the import's 3" in result.stdout
