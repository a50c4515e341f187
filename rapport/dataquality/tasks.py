"""Background work of imports, exports and cleansing (run by `rapport worker`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from rapport.core.jobs import run_job
from rapport.core.permissions import system_actor


@task()
def import_file(*, run_id: str, job_id: str) -> dict[str, Any]:
    from rapport.dataquality.services import execute_run

    return run_job(job_id, lambda job, progress: execute_run(run_id, job, progress))


@task()
def export_file(*, job_id: str) -> dict[str, Any]:
    from rapport.dataquality.exporting import execute_export

    return run_job(job_id, execute_export)


@task()
def prune_uploads() -> int:
    """Uploaded import files are kept for IMPORT_RETENTION_DAYS, then deleted."""
    from rapport.dataquality.services import prune_uploads as prune

    days = getattr(settings, "IMPORT_RETENTION_DAYS", 7)
    return prune(older_than=timezone.now() - dt.timedelta(days=days))


@task()
def report_job(*, job_id: str) -> dict[str, Any]:
    from rapport.dataquality.cleansing import report_execute

    return run_job(job_id, report_execute)


@task()
def cleanse_job(*, job_id: str) -> dict[str, Any]:
    from rapport.dataquality.cleansing import cleanse_execute

    return run_job(job_id, cleanse_execute)


@task()
def rescore_job(*, job_id: str) -> dict[str, Any]:
    from rapport.dataquality.cleansing import rescore_execute

    return run_job(job_id, rescore_execute)


@task()
def rescore_scheduled() -> dict[str, Any]:
    """Every customer's data-quality score, recomputed daily (and at once after the
    upgrade that adds it): catches records written around the services and rule changes."""
    from rapport.dataquality.cleansing import rescore_scheduled as run

    return run()


@task()
def report_scheduled() -> int:
    """The data-quality report of all records, kept at most an hour old."""
    from rapport.dataquality.cleansing import report_now

    return report_now(actor=system_actor()).records
