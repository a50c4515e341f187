"""Issue 17.3/17.5: a dry run tells an update from a row that changes nothing, by the real
import's own rule, with a constant number of queries per batch, and writes nothing."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers.models import (
    Address,
    Affiliation,
    Customer,
    CustomerTag,
    CustomFieldDefinition,
    EmailAddress,
    PhoneNumber,
    Tag,
)
from rapport.dataquality.exporting import export_contacts
from rapport.dataquality.services import run_import
from rapport.identity.tests.factories import user_with

from .conftest import contact
from .test_cli import run_cli

pytestmark = pytest.mark.django_db

ROWS = 12


def _imported(write_csv: Callable[..., Path]) -> Any:
    """An administrator and ROWS imported persons with every kind of field filled."""
    admin = user_with(Scope.ALL)
    CustomFieldDefinition.objects.create(
        object_type="customers.customer", key="tier", label="Tier", field_type="text"
    )
    rows = [
        contact(i, organization="Analytical Engines Ltd", **{"cf:tier": "gold"})
        for i in range(1, ROWS + 1)
    ]
    first, _ = run_import(
        actor=admin, object_type="contacts", path=write_csv(rows), mapping=None, owner_id=admin.pk
    )
    assert (first.created, first.failed) == (ROWS, 0), first.errors
    return admin


def _export(admin: Any, target: Path) -> Path:
    export_contacts(actor=admin, filters={"kind": "person"}, target=target, file_format="csv")
    return target


def _state() -> dict[str, Any]:
    """Everything an import could write."""
    return {
        "customers": sorted(Customer.objects.values_list("pk", "version", "updated_at")),
        "audit": AuditLogEntry.objects.count(),
        "events": OutboxEvent.objects.count(),
        "emails": EmailAddress.objects.count(),
        "phones": PhoneNumber.objects.count(),
        "addresses": sorted(Address.objects.values_list("pk", "city", "line1")),
        "tags": (Tag.objects.count(), CustomerTag.objects.count()),
        "affiliations": Affiliation.objects.count(),
    }


def _edited(export: Path, target: Path, column: str, value: str) -> Path:
    """The export with one cell of its first data row changed."""
    with export.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[0][column] = value
    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target


def test_a_dry_run_of_an_unchanged_export_says_every_row_unchanged_and_writes_nothing(
    capsys: Any, tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    admin = _imported(write_csv)
    export = _export(admin, tmp_path / "export.csv")
    before = _state()

    code, out, _ = run_cli(capsys, "import", "contacts", str(export), "--dry-run", "--json")

    summary = json.loads(out)
    assert code == 0, out
    assert (summary["created"], summary["updated"], summary["unchanged"], summary["failed"]) == (
        0,
        0,
        ROWS,
        0,
    )
    assert _state() == before
    _, text, _ = run_cli(capsys, "import", "contacts", str(export), "--dry-run")
    assert f"{ROWS} rows: 0 would be created, 0 would be updated, {ROWS} unchanged" in text


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("first_name", "Augusta"),
        ("email", "augusta@example.com"),
        ("phone", "+44 20 7946 0958"),
        ("city", "Lyon"),
        ("address_line1", "1 Quai de Valmy"),
        ("tags", "vip; newsletter; speaker"),
        ("organization", "Difference Engines Ltd"),
        ("cf:tier", "platinum"),
        ("birth_date", "1985-12-10"),
    ],
)
def test_one_changed_field_is_one_update_in_the_dry_run_as_in_the_import(
    tmp_path: Path, write_csv: Callable[..., Path], column: str, value: str
) -> None:
    admin = _imported(write_csv)
    path = _edited(_export(admin, tmp_path / "export.csv"), tmp_path / "edited.csv", column, value)
    before = _state()

    dry, _ = run_import(actor=admin, object_type="contacts", path=path, mapping=None, dry_run=True)

    assert _state() == before  # the dry run wrote nothing
    counts = (dry.created, dry.updated, dry.unchanged, dry.failed)
    assert counts == (0, 1, ROWS - 1, 0), dry.errors
    # The import itself decides the same (one rule, not two).
    real, _ = run_import(actor=admin, object_type="contacts", path=path, mapping=None)
    assert (real.created, real.updated, real.unchanged, real.failed) == counts
    assert _state()["customers"] != before["customers"]


def test_a_dry_run_matching_many_rows_costs_the_same_queries_per_batch(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    admin = _imported(write_csv)
    export = _export(admin, tmp_path / "export.csv")
    with export.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))

    def queries(count: int) -> int:
        path = tmp_path / f"first-{count}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows[:count])
        with CaptureQueriesContext(connection) as captured:
            result, _ = run_import(
                actor=admin,
                object_type="contacts",
                path=path,
                mapping=None,
                dry_run=True,
                batch_size=ROWS,
            )
        assert (result.unchanged, result.updated) == (count, 0)
        return len(captured.captured_queries)

    # One batch either way: 2 matched rows or 12 cost the same queries.
    assert queries(2) == queries(ROWS)


def test_the_api_gives_the_dry_runs_unchanged_count(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from rapport.core.jobs import Progress, job_create
    from rapport.customers.tests.api_support import ApiClient
    from rapport.dataquality import services
    from rapport.dataquality.models import ImportRun
    from rapport.identity.tests.factories import api_key_for

    admin = _imported(write_csv)
    path = _edited(_export(admin, tmp_path / "export.csv"), tmp_path / "edited.csv", "city", "Lyon")
    upload = SimpleUploadedFile("edited.csv", path.read_bytes(), content_type="text/csv")
    run = services.import_upload(actor=admin, object_type="contacts", upload=upload)
    job = job_create(owner=admin, kind="import.dry_run", title="Check")
    ImportRun.objects.filter(pk=run.pk).update(dry_run_job=job)
    summary = services.execute_run(str(run.pk), job, Progress(job))
    _, raw = api_key_for(admin, ["customers.customer:read"])

    body = ApiClient(raw).get(f"/imports/{run.pk}").json()

    expected = {"rows": ROWS, "created": 0, "updated": 1, "unchanged": ROWS - 1, "failed": 0}
    assert body["dry_run"] == expected
    assert {k: summary[k] for k in expected} == expected  # the job's result says the same
    assert (body["created"], body["updated"], body["unchanged"]) == (0, 0, 0)  # not imported
