"""Issue 17.3: an unchanged export re-imports as "nothing to do": 0 created, nothing written,
external ids kept. Exported by the same code the export job runs, imported by the wizard's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers import demo as customers_demo
from rapport.customers import services
from rapport.customers.models import Address, Affiliation, Customer, CustomFieldDefinition
from rapport.customers.services import CustomerInput, EmailInput
from rapport.customers.services.upsert import _ADDRESS_KEYS
from rapport.dataquality import sources
from rapport.dataquality.exporting import CONTACT_COLUMNS, export_contacts
from rapport.dataquality.mapping import suggest
from rapport.dataquality.services import run_import
from rapport.identity.tests.factories import user_with

from .conftest import contact

pytestmark = pytest.mark.django_db


def test_an_exports_id_column_is_not_taken_for_the_external_id() -> None:
    for fuzzy in (True, False):
        mapping = suggest(CONTACT_COLUMNS, "contacts", fuzzy=fuzzy)
        assert mapping["external_id"] == "external_id"
        assert mapping["id"] == "rapport_id"  # matches the record, never an external id
    # A file from another tool with only `id` still maps it as the external id.
    assert suggest(["id", "email"], "contacts")["id"] == "external_id"


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_an_unchanged_export_re_imports_as_nothing_to_do(
    tmp_path: Path, write_csv: Callable[..., Path], file_format: str
) -> None:
    admin = user_with(Scope.ALL)
    CustomFieldDefinition.objects.create(
        object_type="customers.customer", key="tier", label="Tier", field_type="text"
    )
    rows = [contact(i) for i in range(1, 31)]
    rows[0]["organization"] = "Analytical Engines Ltd"
    rows[1]["phone"] = "+44 20 7946 0958"
    for row in rows[:5]:
        row["cf:tier"] = "gold"
    first, _ = run_import(
        actor=admin, object_type="contacts", path=write_csv(rows), mapping=None, owner_id=admin.pk
    )
    assert (first.created, first.failed) == (30, 0), first.errors
    people = Customer.objects.filter(kind="person")
    before = dict(people.values_list("external_id", "version"))
    target = tmp_path / f"export.{file_format}"
    export_contacts(actor=admin, filters={"kind": "person"}, target=target, file_format=file_format)
    with sources.open_table(target) as source:
        mapping = suggest(source.headers, "contacts")  # what the import wizard proposes
    audit_rows, events = AuditLogEntry.objects.count(), OutboxEvent.objects.count()

    dry, _ = run_import(
        actor=admin, object_type="contacts", path=target, mapping=mapping, dry_run=True
    )
    again, _ = run_import(actor=admin, object_type="contacts", path=target, mapping=mapping)

    for result in (dry, again):
        assert (result.rows, result.created, result.failed) == (30, 0, 0), result.errors
    assert people.count() == 30
    assert dict(people.values_list("external_id", "version")) == before  # ids kept, untouched
    assert AuditLogEntry.objects.count() == audit_rows
    assert OutboxEvent.objects.count() == events
    assert people.get(external_id=rows[1]["external_id"]).primary_phone == "+442079460958"


def test_records_without_an_external_id_re_import_onto_themselves_by_the_exports_id(
    tmp_path: Path,
) -> None:
    """Records typed in the browser have no external id: the export's `id` matches them."""
    admin = user_with(Scope.ALL)
    for i in range(5):
        services.customer_create(
            actor=admin,
            data=CustomerInput(
                first_name="Grace",
                last_name=f"Hopper{i}",
                emails=[EmailInput(email=f"grace{i}@example.com")],
            ),
        )
    before = dict(Customer.objects.values_list("pk", "version"))
    target = tmp_path / "export.csv"
    export_contacts(actor=admin, filters={}, target=target, file_format="csv")
    with sources.open_table(target) as source:
        mapping = suggest(source.headers, "contacts")
    audit_rows, events = AuditLogEntry.objects.count(), OutboxEvent.objects.count()
    again, _ = run_import(actor=admin, object_type="contacts", path=target, mapping=mapping)
    assert (again.rows, again.created, again.failed) == (5, 0, 0), again.errors
    assert dict(Customer.objects.values_list("pk", "version")) == before
    assert (AuditLogEntry.objects.count(), OutboxEvent.objects.count()) == (audit_rows, events)


def test_an_id_that_names_no_record_is_a_row_error_not_a_new_record(
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv(
        [
            {"id": "987654", "external_id": "", "first_name": "Ada", "last_name": "L"},
            {"id": "x1", "external_id": "", "first_name": "Ada", "last_name": "L"},
        ]
    )
    with sources.open_table(path) as source:
        mapping = suggest(source.headers, "contacts")
    result, _ = run_import(actor=None, object_type="contacts", path=path, mapping=mapping)
    assert (result.created, result.failed) == (0, 2)
    assert [e.field for e in result.errors] == ["rapport_id", "rapport_id"]
    assert "No customer has the Rapport ID 987654" in result.errors[0].message
    assert not Customer.objects.exists()


# Values a user (or a data load) stores as they should be: mixed case with lower-case
# particles, hyphens, apostrophes, accents. The services keep each as typed, and the
# import, normalising by the same rules, must find each equal to what is stored.
_STORED_AS_TYPED = [
    {"first_name": "Jean-Luc", "last_name": "de la Fuente", "city": "Brun-sur-Mary"},
    {"first_name": "Ludwig", "last_name": "van Beethoven", "city": "Bad Homburg vor der Höhe"},
    {"first_name": "Siobhán", "last_name": "O'Brien", "city": "Stratford-upon-Avon"},
    {"first_name": "DeShawn", "last_name": "McDonald", "city": "Saint-Étienne-du-Rouvray"},
    {"first_name": "Émile", "last_name": "d'Ancona", "city": "Newcastle upon Tyne"},
]


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_values_written_by_the_services_re_import_identical(
    tmp_path: Path, file_format: str
) -> None:
    admin = user_with(Scope.ALL)
    for i, names in enumerate(_STORED_AS_TYPED):
        services.customer_create(
            actor=admin,
            data=CustomerInput(
                first_name=names["first_name"],
                last_name=names["last_name"],
                emails=[EmailInput(email=f"Émile.X{i}@Bücher.example")],
                phones=[services.PhoneInput(number=f"+33 1 99 00 12 3{i}")],
                addresses=[
                    services.AddressInput(
                        line1=f"{i} rue de la Paix, bâtiment B",
                        line2="c/o Mme de Villepin",
                        city=names["city"],
                        postcode="75 002",
                        country="France",
                    )
                ],
            ),
        )
    stored = {
        c.pk: (c.first_name, c.last_name, c.city, c.primary_email, c.primary_phone)
        for c in Customer.objects.all()
    }
    for pk, names in zip(sorted(stored), _STORED_AS_TYPED, strict=True):
        assert stored[pk][:3] == (names["first_name"], names["last_name"], names["city"])
    addresses = set(Address.objects.values_list("customer_id", *_ADDRESS_KEYS))
    versions = dict(Customer.objects.values_list("pk", "version"))
    target = tmp_path / f"export.{file_format}"
    export_contacts(actor=admin, filters={}, target=target, file_format=file_format)
    with sources.open_table(target) as source:
        mapping = suggest(source.headers, "contacts")
    audit_rows, events = AuditLogEntry.objects.count(), OutboxEvent.objects.count()

    again, _ = run_import(actor=admin, object_type="contacts", path=target, mapping=mapping)

    assert (again.created, again.updated, again.failed) == (0, 0, 0), again.errors
    assert again.unchanged == len(_STORED_AS_TYPED)
    assert dict(Customer.objects.values_list("pk", "version")) == versions
    assert set(Address.objects.values_list("customer_id", *_ADDRESS_KEYS)) == addresses
    assert (AuditLogEntry.objects.count(), OutboxEvent.objects.count()) == (audit_rows, events)
    after = {
        c.pk: (c.first_name, c.last_name, c.city, c.primary_email, c.primary_phone)
        for c in Customer.objects.all()
    }
    assert after == stored


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_the_demo_datas_export_re_imports_with_every_row_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file_format: str
) -> None:
    """The demo loader writes in bulk, past the services, and its contacts export holds
    organizations as well as persons: every row of it must match its record and change
    nothing (values stored in the form the import normalises to)."""
    monkeypatch.setattr(customers_demo, "PEOPLE", 240)
    monkeypatch.setattr(customers_demo, "ORGANIZATIONS", 40)
    admin = user_with(Scope.ALL)
    customers_demo.load()
    total = Customer.objects.filter(merged_into__isnull=True).count()
    assert Customer.objects.filter(kind="organization").count() == 40
    versions = dict(Customer.objects.values_list("pk", "version"))
    addresses = set(Address.objects.values_list("customer_id", *_ADDRESS_KEYS))
    target = tmp_path / f"export.{file_format}"
    export_contacts(actor=admin, filters={}, target=target, file_format=file_format)
    with sources.open_table(target) as source:
        mapping = suggest(source.headers, "contacts")
    assert mapping["kind"] == "kind"
    audit_rows, events = AuditLogEntry.objects.count(), OutboxEvent.objects.count()

    dry, _ = run_import(
        actor=admin, object_type="contacts", path=target, mapping=mapping, dry_run=True
    )
    again, _ = run_import(actor=admin, object_type="contacts", path=target, mapping=mapping)

    assert (dry.rows, dry.created, dry.updated, dry.failed) == (total, 0, 0, 0), dry.errors[:5]
    assert dry.unchanged == total
    assert (again.created, again.updated, again.failed) == (0, 0, 0), again.errors[:5]
    assert again.unchanged == total
    assert dict(Customer.objects.values_list("pk", "version")) == versions
    assert set(Address.objects.values_list("customer_id", *_ADDRESS_KEYS)) == addresses
    assert (AuditLogEntry.objects.count(), OutboxEvent.objects.count()) == (audit_rows, events)


def test_an_organization_row_updates_its_organization_and_never_creates_one(
    write_csv: Callable[..., Path],
) -> None:
    admin = user_with(Scope.ALL)
    org = services.customer_create(
        actor=admin,
        data=CustomerInput(kind="organization", organization_name="Acme", external_id="O1"),
    )
    person = services.customer_create(
        actor=admin, data=CustomerInput(first_name="Ada", last_name="Byron", external_id="P1")
    )
    rows = [
        {"external_id": "O1", "kind": "organization", "organization": "Acme Ltd"},
        {"external_id": "O2", "kind": "organization", "organization": "New Co"},
        {"external_id": "P1", "kind": "organization", "organization": "Byron Ltd"},
        {"external_id": "O1", "kind": "robot", "organization": "Acme"},
        {"external_id": "O1", "kind": "", "first_name": "Acme"},  # a person's row
    ]
    path = write_csv(rows, header=["external_id", "kind", "first_name", "organization"])
    with sources.open_table(path) as source:
        mapping = suggest(source.headers, "contacts")

    result, _ = run_import(actor=admin, object_type="contacts", path=path, mapping=mapping)

    assert (result.created, result.updated, result.failed) == (0, 1, 4), result.errors
    assert [(e.row, e.field) for e in result.errors] == [
        (3, "kind"),
        (4, "kind"),
        (5, "kind"),
        (6, "external_id"),
    ]
    assert "does not create them" in result.errors[0].message
    org.refresh_from_db()
    assert (org.organization_name, org.display_name) == ("Acme Ltd", "Acme Ltd")
    assert not Affiliation.objects.exists()  # its own name, not an employer
    person.refresh_from_db()
    assert (person.kind, person.organization_name) == ("person", "")
    assert Customer.objects.count() == 2
