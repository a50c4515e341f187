"""The parts of a created customer's records that the validation prepares (in a worker
process for a large file) are what the writing process used to build itself: the same
quality score, the same audit changes and event payload (keys in the same order), the
same rows."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from rapport.core import audit, bulk, outbox
from rapport.core.models import AuditAction, AuditLogEntry, OutboxEvent
from rapport.customers import quality
from rapport.customers.custom_fields import definitions
from rapport.customers.models import (
    Customer,
    CustomerKind,
    CustomFieldDefinition,
    EmailAddress,
)
from rapport.customers.search import search_customers
from rapport.customers.services.upsert import (
    ContactRow,
    _created_changes,
    _CreatedRecords,
    _new_customer,
    _PayloadMaker,
)
from rapport.dataquality.importing import ContactImporter, RowValidator
from rapport.dataquality.mapping import resolve, suggest
from rapport.dataquality.services import run_import
from rapport.identity.models import User

from .conftest import HEADER, contact

pytestmark = pytest.mark.django_db

CUSTOM_HEADER = [*HEADER, "Created at", "Owner id"]


def _validator() -> RowValidator:
    # Custom fields named like the payload's own keys: the writer's values go to the
    # top-level ones only.
    CustomFieldDefinition.objects.create(key="created_at", label="Created at", field_type="text")
    CustomFieldDefinition.objects.create(key="owner_id", label="Owner id", field_type="text")
    resolved = resolve(suggest(CUSTOM_HEADER, "contacts", fuzzy=False), CUSTOM_HEADER, "contacts")
    return RowValidator(resolved.positions, definitions("customers.customer"))


def _row(validator: RowValidator, **overrides: str) -> ContactRow:
    cells = [*contact(7, **overrides).values(), "2000-01-01T00:00:00Z", '"owner_id": null']
    outcome = validator.validate(2, cells)
    assert isinstance(outcome, ContactRow), outcome
    return outcome


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"tags": '"updated_at": "2000-01-01T00:00:00Z", vip'},
        {"first_name": 'Zoé "the id": 0', "birth_date": "", "email": "", "country": ""},
        {"address_line1": "", "city": "", "postcode": "", "phone": ""},
    ],
)
@pytest.mark.parametrize("owner_id", [None, 42])
def test_prepared_changes_and_payload_are_the_json_of_the_saved_customer(
    overrides: dict[str, str], owner_id: int | None
) -> None:
    row = _row(_validator(), **overrides)
    now = timezone.now()
    customer = _new_customer(
        Customer(
            kind=CustomerKind.PERSON,
            owner_id=owner_id,
            team_id=None,
            source="import",
            created_at=now,
            updated_at=now,
            lifecycle_changed_at=now,
        ),
        row,
    )
    customer.pk = 1234
    records = _CreatedRecords(owner_id=owner_id, team_id=None, now=now)
    has_address = bool(row.address) and any(row.address.values())
    expected_payload = _PayloadMaker().created(customer, row, has_address=has_address)
    payload = json.loads(records.payload(row, 1234))
    assert payload == json.loads(json.dumps(expected_payload, cls=DjangoJSONEncoder))
    changes = json.loads(records.changes(row))
    assert changes == json.loads(json.dumps(_created_changes(customer), cls=DjangoJSONEncoder))
    assert list(changes) == list(_created_changes(customer))  # owner_id, then source, last
    quality.apply_batch([(customer, row.address)], normalized=quality.ALL_NORMALIZED)
    assert row.quality == (customer.quality_score, customer.quality_issues, dt.date.today())


def test_a_score_assessed_on_another_day_is_assessed_again() -> None:
    validator = _validator()
    row = _row(validator)
    assert row.quality is not None
    right = row.quality[:2]
    row.quality = (1, 0, dt.date.today() - dt.timedelta(days=1))  # made before midnight
    importer = ContactImporter(
        actor=None,
        resolved=resolve(
            suggest(CUSTOM_HEADER, "contacts", fuzzy=False), CUSTOM_HEADER, "contacts"
        ),
    )
    importer._commit([row], [], 1)
    customer = Customer.objects.get(external_id="X00007")
    assert (customer.quality_score, customer.quality_issues) == right


def test_prepared_rows_survive_the_trip_from_a_worker() -> None:
    row = _row(_validator())
    back = pickle.loads(pickle.dumps(row))  # noqa: S301 (our own bytes)
    assert back == row and back.event_id == row.event_id and back.raw == row.raw


def test_row_maker_rows_are_what_insert_writes_for_copies_of_the_template() -> None:
    template = EmailAddress(kind="work", is_primary=True)
    maker = bulk.RowMaker(template, ("customer_id", "email"))
    copy = bulk.clone(template, customer_id=5, email="a@example.com")
    assert maker.row(5, "a@example.com") == bulk._rows([copy], maker.fields, connection)[0]

    entry = audit.entry(actor=None, action=AuditAction.CREATE, object_type="x", object_id="")
    maker = bulk.RowMaker(entry, ("object_id", "changes"))
    copy = bulk.clone(entry, object_id="5", changes={"a": [None, "é"]})
    text = bulk.Prepared(json.dumps({"a": [None, "é"]}))
    expected = bulk._rows([copy], maker.fields, connection)[0]
    made = maker.row("5", text)
    position = [f.attname for f in maker.fields].index("changes")
    assert made[:position] + made[position + 1 :] == expected[:position] + expected[position + 1 :]
    assert json.loads(made[position]) == {"a": [None, "é"]}


def test_events_and_audit_rows_written_from_prepared_parts(
    write_csv: Callable[..., Path],
) -> None:
    owner = User.objects.create_user(email="owner@example.com", password="x" * 12)
    path = write_csv([contact(i) for i in range(3)])
    result, _ = run_import(
        actor=None, object_type="contacts", path=path, mapping=None, owner_id=owner.pk
    )
    assert result.created == 3
    for customer in Customer.objects.filter(kind="person"):
        event = OutboxEvent.objects.get(type="customer.created", aggregate_id=str(customer.pk))
        assert event.data["id"] == customer.pk and event.data["owner_id"] == owner.pk
        assert isinstance(event.event_id, uuid.UUID) and event.pending_consumers == sorted(
            outbox._consumers
        )
        changes = AuditLogEntry.objects.get(action="create", object_id=str(customer.pk)).changes
        assert changes["owner_id"] == [None, owner.pk]
        if connection.vendor == "sqlite":  # jsonb keeps no key order
            assert list(changes)[-2:] == ["owner_id", "source"]
    assert len({e.event_id for e in OutboxEvent.objects.all()}) == OutboxEvent.objects.count()


def test_imported_contacts_are_found_by_search_when_the_import_is_done(
    write_csv: Callable[..., Path],
) -> None:
    admin = User.objects.create_superuser(email="admin@example.com", password="x" * 12)
    path = write_csv([contact(i, last_name=f"Zwicky{i}") for i in range(5)])
    run_import(actor=None, object_type="contacts", path=path, mapping=None)
    hits = search_customers(actor=admin, query="zwicky3")
    assert [c.external_id for c in hits] == ["X00003"]
