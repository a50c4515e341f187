"""Run Rapport in subprocesses against a database of their own, for the tests that kill a
real `rapport worker` or `rapport import` mid-way (the worker is a separate process and
must see the same data as the test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def _database_url(tmp_path: Path, suffix: str) -> str:
    """A SQLite file under tmp_path, or a PostgreSQL database next to the test database
    when DATABASE_URL points at PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{tmp_path / f'{suffix}.sqlite3'}"
    import psycopg

    base, _, name = url.rpartition("/")
    name = f"{name}_{suffix}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def migrated_env(tmp_path: Path, suffix: str, **settings: str) -> dict[str, str]:
    """The environment for Rapport subprocesses on a fresh, migrated database of their own,
    running tasks through the database backend (what `rapport worker` consumes)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rapport.config.settings",
        "DATABASE_URL": _database_url(tmp_path, suffix),
        "RAPPORT_VAR_DIR": str(tmp_path / "var"),
        "TASK_BACKEND": "database",
        **settings,
    }
    subprocess.run(
        [sys.executable, "-m", "rapport.config.cli", "migrate", "-v", "0"],
        env=env,
        check=True,
        timeout=300,
    )
    return env


def run_python(env: dict[str, str], code: str) -> Any:
    """Run `code` with Rapport set up in a fresh process; it prints one JSON value."""
    prelude = "import django, json; django.setup()\n"
    out = subprocess.run(
        [sys.executable, "-c", prelude + code],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def queue_contact_import(env: dict[str, str], source: Path) -> str:
    """Upload `source` as an admin and queue its import job; returns the job's id."""
    return str(
        run_python(
            env,
            f"""
from django.core.files.uploadedfile import SimpleUploadedFile
from rapport.identity.models import User
from rapport.dataquality import services
user = User.objects.create_superuser(email="admin@example.com", password="x" * 20)
upload = SimpleUploadedFile("contacts.csv", open({str(source)!r}, "rb").read())
run = services.import_upload(actor=user, object_type="contacts", upload=upload)
job = services.import_start(actor=user, run=run, dry_run=False)
print(json.dumps(str(job.pk)))
""",
        )
    )
