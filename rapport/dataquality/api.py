"""Imports over the API: what an import did, with the same counts as its page and the
command line's --json (created, updated, unchanged, failed).

Imports are started in the browser or with `rapport import`; the API reads them. An import
is visible to the user who ran it and to administrators (as its page is), and reading it
needs view access to customers (an API key's `customers.customer:read`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.urls import reverse
from ninja import Router, Schema

from rapport.core.models import Job
from rapport.core.permissions import require
from rapport.customers.selectors import CUSTOMER_TYPE
from rapport.dataquality import selectors
from rapport.dataquality.models import ImportRun
from rapport.identity.http import UserRequest

router = Router(tags=["imports"])


class ImportJobOut(Schema):
    id: uuid.UUID
    status: str
    outcome: str  # succeeded, or warning when it finished with failed rows
    done: int
    total: int | None


class DryRunOut(Schema):
    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int


class ImportOut(Schema):
    id: uuid.UUID
    object_type: str
    file_name: str
    upsert_by: str
    status: str
    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    dry_run: DryRunOut | None
    job: ImportJobOut | None
    error_report: str | None  # the URL of the failed rows' file, for the same user
    created_at: dt.datetime
    finished_at: dt.datetime | None


def _job(job: Job | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {
        "id": job.pk,
        "status": job.status,
        "outcome": job.outcome,
        "done": job.done,
        "total": job.total,
    }


# A dry run report from before "unchanged" was counted gives it as 0.
_DRY_RUN_COUNTS = ("rows", "created", "updated", "unchanged", "failed")


def import_payload(run: ImportRun) -> dict[str, Any]:
    report = run.dry_run_report or {}
    job = run.job
    return {
        "id": run.pk,
        "object_type": run.object_type,
        "file_name": run.original_name,
        "upsert_by": run.upsert_by,
        "status": run.status,
        "rows": run.rows_committed,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "failed": run.failed,
        "dry_run": {k: int(report.get(k) or 0) for k in _DRY_RUN_COUNTS} if report else None,
        "job": _job(job),
        "error_report": reverse("core:job_download", args=[job.pk])
        if job is not None and job.result_file
        else None,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
    }


@router.get("/imports/{run_id}", response=ImportOut, summary="An import")
def get_import(request: UserRequest, run_id: uuid.UUID) -> dict[str, Any]:
    actor: Any = request.user
    require(actor, "view", CUSTOMER_TYPE)
    return import_payload(selectors.import_run_for(actor=actor, run_id=run_id))
