"""Import history and error reports (access and query counts), upload retention, and the
orders importer's parsing and grouping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rapport.commerce.imports import ORDER_FIELDS
from rapport.core.jobs import Progress
from rapport.core.models import Job
from rapport.core.permissions import Scope
from rapport.customers.models import Customer
from rapport.dataquality import services
from rapport.dataquality.mapping import resolve
from rapport.dataquality.models import ImportRun
from rapport.dataquality.orders import OrderImporter
from rapport.identity.tests.factories import UserFactory, user_with

from .conftest import contact

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(user: Any, write_csv: Callable[..., Path], rows: list[dict[str, str]]) -> ImportRun:
    path = write_csv(rows)
    return services.import_upload(
        actor=user,
        object_type="contacts",
        upload=SimpleUploadedFile("people.csv", path.read_bytes()),
    )


def test_error_report_only_for_its_owner_or_an_admin(write_csv: Callable[..., Path]) -> None:
    owner = user_with(Scope.OWN)
    run = upload(owner, write_csv, [contact(1), contact(2, email="broken")])
    assert (Path(settings.VAR_DIR) / "files" / run.stored_file).is_file()
    job = services.import_start(actor=owner, run=run, dry_run=False)
    # What the worker does with the queued task:
    from rapport.core.jobs import run_job

    run_job(job.pk, lambda j, p: services.execute_run(str(run.pk), j, p))
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result_file.endswith(".csv")
    assert Customer.objects.get(kind="person").owner == owner
    url = reverse("core:job_download", args=[job.pk])
    report = client_for(owner).get(url)
    assert report.status_code == 200
    text = b"".join(report.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    assert "broken" in text and "reason" in text
    assert client_for(user_with(Scope.ALL)).get(url).status_code == 404
    assert client_for(UserFactory(is_superuser=True)).get(url).status_code == 200
    # Another user cannot see the import either.
    detail = reverse("dataquality:import_detail", args=[run.pk])
    assert client_for(user_with(Scope.ALL)).get(detail).status_code == 404
    assert client_for(owner).get(detail).status_code == 200


def test_import_history_query_count_does_not_grow(
    write_csv: Callable[..., Path], django_assert_max_num_queries: Any
) -> None:
    owner = user_with(Scope.OWN)
    for i in range(30):
        upload(owner, write_csv, [contact(i)])
    client = client_for(owner)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("dataquality:import_list"))
    assert response.status_code == 200
    assert response.content.count(b"people.csv") == 25  # one page


def test_upload_refuses_bad_files(write_csv: Callable[..., Path]) -> None:
    from django.core.exceptions import ValidationError

    owner = user_with(Scope.OWN)
    with pytest.raises(ValidationError, match="CSV or an XLSX"):
        services.import_upload(
            actor=owner, object_type="contacts", upload=SimpleUploadedFile("x.pdf", b"%PDF")
        )
    with pytest.raises(ValidationError, match="empty"):
        services.import_upload(
            actor=owner, object_type="contacts", upload=SimpleUploadedFile("x.csv", b"")
        )
    assert not list((Path(settings.VAR_DIR) / "files" / "imports").glob("*/*"))


def test_uploads_are_deleted_after_the_retention_period(write_csv: Callable[..., Path]) -> None:
    owner = user_with(Scope.OWN)
    old = upload(owner, write_csv, [contact(1)])
    new = upload(owner, write_csv, [contact(2)])
    ImportRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=8))
    from rapport.dataquality.tasks import prune_uploads

    assert prune_uploads.call() == 1
    files = Path(settings.VAR_DIR) / "files"
    assert not (files / old.stored_file).exists()
    assert (files / new.stored_file).exists()


def _orders(rows: list[list[str]], tmp_path: Path) -> Any:
    header = list(ORDER_FIELDS)
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n")
    resolved = resolve({h: h for h in header}, header, "orders")
    from rapport.dataquality.sources import open_table

    with open_table(path) as source:
        return OrderImporter(actor=None, resolved=resolved, dry_run=True).execute(source.rows)


def test_orders_rows_sharing_an_external_id_form_one_order(tmp_path: Path) -> None:
    Customer.objects.create(display_name="A", external_id="C1")
    result = _orders(
        [
            ["O1", "C1", "2024-03-01T10:00:00", "30.00", "EUR", "paid", "web", "SKU1", "2", "10"],
            ["O1", "C1", "2024-03-01T10:00:00", "30.00", "EUR", "paid", "web", "SKU2", "1", "10"],
            ["O2", "C1", "2024-03-02", "5", "usd", "", "", "", "", ""],
            ["O3", "C9", "2024-03-02", "5", "EUR", "", "", "", "", ""],
            ["O4", "C1", "yesterday", "x", "EURO", "", "", "SKU1", "0", ""],
        ],
        tmp_path,
    )
    assert (result.created, result.failed) == (2, 2)  # O1 (two lines) and O2
    fields = {(e.row, e.field) for e in result.errors}
    assert (5, "customer_external_id") in fields
    assert {(6, "ordered_at"), (6, "total"), (6, "currency"), (6, "quantity")} <= fields


def test_orders_import_writes_orders_through_commerce_and_is_idempotent(tmp_path: Path) -> None:
    """The real run: rows sharing an external id become one order with its lines, on the
    customer's timeline; importing the same file again creates nothing new."""
    import json
    from io import StringIO

    from django.core.management import call_command

    from rapport.commerce.models import Order
    from rapport.customers.models import Interaction

    UserFactory(is_superuser=True)
    customer = Customer.objects.create(display_name="Ann", external_id="C1")
    path = tmp_path / "orders.csv"
    path.write_text(
        "external_id,customer_external_id,ordered_at,total,currency,status,channel,sku,"
        "quantity,unit_price\n"
        "O1,C1,2024-03-01T10:00:00,30.00,EUR,paid,web,SKU1,2,10\n"
        "O1,C1,2024-03-01T10:00:00,30.00,EUR,paid,web,SKU2,1,10\n"
        "O2,C1,2024-03-02,5.00,EUR,,,,,\n"
    )

    def run() -> dict[str, Any]:
        out = StringIO()
        call_command("import", "orders", str(path), "--json", stdout=out)
        return json.loads(out.getvalue())

    first = run()
    assert (first["created"], first["failed"]) == (2, 0), first
    order = Order.objects.get(external_id="O1")
    assert order.customer_id == customer.pk
    assert sorted(order.lines.values_list("sku", "quantity")) == [("SKU1", 2), ("SKU2", 1)]
    assert str(order.total) == "30.00"
    assert Interaction.objects.filter(customer=customer, kind="order").count() == 2

    second = run()
    assert second["created"] == 0 and second["failed"] == 0, second
    assert Order.objects.count() == 2
    assert Interaction.objects.filter(customer=customer, kind="order").count() == 2


def test_job_progress_counts_rows(write_csv: Callable[..., Path]) -> None:
    owner = user_with(Scope.OWN)
    run = upload(owner, write_csv, [contact(i) for i in range(5)])
    job = services.import_start(actor=owner, run=run, dry_run=True)
    services.execute_run(str(run.pk), job, Progress(job, every=1))
    job = Job.objects.get(pk=job.pk)
    assert (job.done, job.total) == (5, 5)
    run.refresh_from_db()
    assert run.dry_run_report["created"] == 5
    assert Customer.objects.count() == 0
