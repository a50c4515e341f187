"""A real `rapport worker` killed (SIGKILL) mid-import and a new worker started: the import
finishes with every row exactly once.

This test runs Rapport in subprocesses against its own database (a SQLite file, or a
PostgreSQL database next to the test database when DATABASE_URL points at PostgreSQL),
because the worker is a separate process and must see the same data.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .conftest import HEADER
from .rapport_subprocess import migrated_env, queue_contact_import, run_python

ROWS = 12000
BAD_EVERY = 97  # rows 97, 194, … carry a bad e-mail


def _state(url: str) -> dict[str, Any]:
    """The run's checkpoint and the job's status, read straight from the database (fast
    enough to catch the import mid-way)."""
    sql = (
        "SELECT r.rows_committed, j.status, j.error, r.created, r.failed, r.updated "
        "FROM dataquality_importrun r JOIN core_job j ON j.id = r.job_id"
    )
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=20) as conn:
            row = conn.execute(sql).fetchone()
    else:
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute(sql).fetchone()
    assert row is not None
    keys = ("committed", "status", "error", "created", "failed", "updated")
    return dict(zip(keys, row, strict=True))


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rapport.config.cli", "worker", "--interval", "0.2"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def test_killed_worker_import_finishes_without_loss_or_doubles(tmp_path: Path) -> None:
    env = migrated_env(tmp_path, "worker", IMPORT_BATCH_SIZE="100", WORKER_DEAD_AFTER_SECONDS="3")
    source = tmp_path / "contacts.csv"
    lines = [",".join(HEADER)]
    for i in range(1, ROWS + 1):
        email = "broken" if i % BAD_EVERY == 0 else f"p{i}@example.com"
        lines.append(
            f"K{i:06d},Pat,Doe{i},{email},,{'Acme' if i % 10 == 0 else ''},,,,,,,FR,"
            f"{'vip' if i % 3 == 0 else ''}"
        )
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    queue_contact_import(env, source)

    log = tmp_path / "worker.log"
    first = _worker(env, log)
    try:
        deadline = time.monotonic() + 120
        state = _state(env["DATABASE_URL"])
        while state["committed"] < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
            state = _state(env["DATABASE_URL"])
        assert state["committed"] >= 300, log.read_text()
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    killed_at = _state(env["DATABASE_URL"])
    assert killed_at["committed"] < ROWS, "the import finished before the kill; raise ROWS"
    assert killed_at["status"] == "running"

    second = _worker(env, log)
    try:
        deadline = time.monotonic() + 240
        state = _state(env["DATABASE_URL"])
        while state["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
            time.sleep(0.5)
            state = _state(env["DATABASE_URL"])
    finally:
        # The worker may be busy dispatching the import's outbox events; the test is done.
        os.killpg(second.pid, signal.SIGKILL)
        second.wait(20)
    assert state["status"] == "succeeded", (state, log.read_text()[-3000:])

    bad = ROWS // BAD_EVERY
    assert (state["created"], state["updated"], state["failed"]) == (ROWS - bad, 0, bad)
    counts = run_python(
        env,
        """
from django.db.models import Count
from rapport.customers.models import Customer, EmailAddress, CustomerTag, Affiliation
from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.dataquality.models import ImportRowError
people = Customer.objects.filter(kind="person")
print(json.dumps({
    "people": people.count(),
    "distinct_ids": people.values("external_id").distinct().count(),
    "emails": EmailAddress.objects.count(),
    "tags": CustomerTag.objects.count(),
    "orgs": Customer.objects.filter(kind="organization").count(),
    "affiliations": Affiliation.objects.count(),
    "audit_creates": AuditLogEntry.objects.filter(action="create").count(),
    "created_events": OutboxEvent.objects.filter(type="customer.created").count(),
    "row_errors": ImportRowError.objects.count(),
    "error_rows": ImportRowError.objects.values("row").distinct().count(),
}))
""",
    )
    good = ROWS - bad
    assert counts["people"] == counts["distinct_ids"] == counts["emails"] == good
    assert counts["orgs"] == 1
    assert counts["affiliations"] == len(
        [i for i in range(1, ROWS + 1) if i % 10 == 0 and i % BAD_EVERY]
    )
    assert counts["tags"] == len([i for i in range(1, ROWS + 1) if i % 3 == 0 and i % BAD_EVERY])
    assert counts["audit_creates"] == counts["created_events"] == good + 1  # + the organization
    assert counts["row_errors"] == counts["error_rows"] == bad
