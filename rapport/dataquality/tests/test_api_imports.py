"""An import over the API: the same counts as its page and the CLI, the owner's only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from rapport.core.jobs import Progress, job_create
from rapport.core.permissions import Scope
from rapport.customers.tests.api_support import ApiClient
from rapport.dataquality import services
from rapport.dataquality.models import ImportRun
from rapport.identity.tests.factories import api_key_for, user_with

from .conftest import contact

pytestmark = pytest.mark.django_db

READ = ["customers.customer:read"]


def _import(user, path: Path) -> ImportRun:
    """Upload, then run the import as the worker does (no dry run first)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("contacts.csv", path.read_bytes(), content_type="text/csv")
    run = services.import_upload(actor=user, object_type="contacts", upload=upload)
    job = job_create(owner=user, kind="import", title="Import")
    ImportRun.objects.filter(pk=run.pk).update(job=job)
    result = services.execute_run(str(run.pk), job, Progress(job))
    job.status, job.result = "succeeded", result
    job.save(update_fields=["status", "result"])
    return ImportRun.objects.get(pk=run.pk)


def test_an_import_reports_unchanged_rows_and_its_error_report(
    write_csv: Callable[..., Path],
) -> None:
    user = user_with(Scope.OWN)
    rows = [contact(i) for i in range(1, 5)]
    _import(user, write_csv(rows, name="first.csv"))
    rows[3]["email"] = "not-an-email"
    run = _import(user, write_csv(rows, name="again.csv"))
    _, raw = api_key_for(user, READ)

    body = ApiClient(raw).get(f"/imports/{run.pk}").json()
    assert (body["rows"], body["created"], body["updated"], body["unchanged"], body["failed"]) == (
        4,
        0,
        0,
        3,
        1,
    )
    assert body["job"]["outcome"] == "warning"
    assert body["error_report"] == f"/jobs/{run.job_id}/download/"


def test_an_import_is_its_owners_only(write_csv: Callable[..., Path]) -> None:
    owner, other = user_with(Scope.ALL), user_with(Scope.ALL)
    run = _import(owner, write_csv([contact(1)]))
    _, raw = api_key_for(other, READ)
    assert ApiClient(raw).get(f"/imports/{run.pk}").status_code == 404
    _, raw = api_key_for(owner, READ)
    assert ApiClient(raw).get(f"/imports/{uuid.uuid4()}").status_code == 404
    assert ApiClient(raw).get(f"/imports/{run.pk}").json()["created"] == 1


def test_openapi_documents_the_import_endpoint() -> None:
    user = user_with(Scope.OWN)
    _, raw = api_key_for(user, READ)
    spec = ApiClient(raw).get("/openapi.json").json()
    schema = spec["components"]["schemas"]["ImportOut"]["properties"]
    assert "/api/v1/imports/{run_id}" in spec["paths"]
    assert {"created", "updated", "unchanged", "failed"} <= set(schema)
