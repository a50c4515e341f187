"""customers_bulk_upsert: many rows created or updated with what a single write means."""

from __future__ import annotations

import pytest

from rapport.core import bulk
from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.customers.models import Customer, EmailAddress, Interaction, PhoneNumber
from rapport.customers.schemas import customer_payload
from rapport.customers.services.inputs import EmailInput, _one_primary, one_primary
from rapport.customers.services.upsert import (
    MATCH_EMAIL,
    ContactRow,
    customers_bulk_upsert,
    person_template,
    prepare_created,
)
from rapport.customers.tests.factories import person

pytestmark = pytest.mark.django_db


def _row(n: int, **values) -> ContactRow:
    defaults = {
        "external_id": f"X{n}",
        "first_name": "Ada",
        "last_name": f"Lovelace{n}",
        "email": f"ada{n}@example.com",
        "phone": f"+1202555{n:04d}",
        "address": {
            "line1": "1 Main St",
            "line2": "",
            "city": "Paris",
            "region": "",
            "country": "FR",
            "postcode": "75001",
        },
        "tags": ["vip"],
    }
    return ContactRow(row=n, raw=[str(n)], **{**defaults, **values})


def _counts() -> tuple[int, ...]:
    return (
        Customer.objects.count(),
        EmailAddress.objects.count(),
        PhoneNumber.objects.count(),
        AuditLogEntry.objects.count(),
        OutboxEvent.objects.count(),
    )


def test_creates_with_contact_points_audit_rows_and_events(admin):
    plan = customers_bulk_upsert(actor=admin, rows=[_row(1), _row(2)])
    assert (len(plan.creates), len(plan.updates), plan.errors) == (2, 0, [])
    for customer in Customer.objects.prefetch_related("tags", "emails", "phones", "addresses"):
        assert customer.owner_id == admin.pk and customer.source == "import"
        assert [e.is_primary for e in customer.emails.all()] == [True]
        assert customer.primary_phone == customer.phones.get().e164
        audit = AuditLogEntry.objects.get(action="create", object_id=str(customer.pk))
        assert audit.changes["last_name"] == [None, customer.last_name]
        event = OutboxEvent.objects.get(type="customer.created", aggregate_id=str(customer.pk))
        assert event.data == customer_payload(customer)


def test_a_new_email_becomes_the_one_primary_and_the_update_is_audited(admin):
    customers_bulk_upsert(actor=admin, rows=[_row(1)])
    customer = Customer.objects.get(external_id="X1")
    plan = customers_bulk_upsert(actor=admin, rows=[_row(1, email="new@example.com")])
    assert (len(plan.updates), plan.unchanged) == (1, 0)
    emails = dict(customer.emails.values_list("email", "is_primary"))
    assert emails == {"ada1@example.com": False, "new@example.com": True}
    customer.refresh_from_db()
    assert customer.primary_email == "new@example.com" and customer.version == 2
    audit = AuditLogEntry.objects.get(action="update", object_id=str(customer.pk))
    assert audit.changes["primary_email"] == ["ada1@example.com", "new@example.com"]
    event = OutboxEvent.objects.get(type="customer.updated")
    assert event.data["changed_fields"] == ["primary_email"]
    assert event.data["emails"][0] == {
        "email": "new@example.com",
        "kind": "work",
        "is_primary": True,
    }

    # Back to the old address: it is promoted, the other demoted; still one primary.
    customers_bulk_upsert(actor=admin, rows=[_row(1)])
    emails = dict(customer.emails.values_list("email", "is_primary"))
    assert emails == {"ada1@example.com": True, "new@example.com": False}


def test_an_unchanged_row_is_counted_and_neither_audited_nor_emitted(admin):
    customers_bulk_upsert(actor=admin, rows=[_row(1)])
    before = _counts()
    plan = customers_bulk_upsert(actor=admin, rows=[_row(1)])
    assert (len(plan.updates), plan.unchanged) == (1, 1)
    assert _counts() == before


def test_matching_by_email_and_rows_that_cannot_go_in(admin):
    existing = person(admin, emails=["ada@example.com"])
    plan = customers_bulk_upsert(
        actor=admin,
        rows=[
            _row(1, external_id=None, email="ada@example.com", last_name="Byron"),
            ContactRow(row=2, raw=["2"]),  # nothing to name a person by
        ],
        match_on=MATCH_EMAIL,
    )
    assert [r.row for r, _ in plan.updates] == [1]
    assert [(e.row, e.field) for e in plan.errors] == [(2, "last_name")]
    assert plan.failed_rows == {2: ["2"]}
    existing.refresh_from_db()
    assert existing.last_name == "Byron"


def test_dry_run_writes_nothing(admin):
    customers_bulk_upsert(actor=admin, rows=[_row(1)])
    before = _counts()
    plan = customers_bulk_upsert(actor=admin, rows=[_row(1), _row(2)], dry_run=True)
    assert (len(plan.creates), len(plan.updates), plan.unchanged) == (1, 1, 1)
    assert _counts() == before


def test_a_failure_midway_leaves_nothing(admin, monkeypatch):
    before = _counts()
    real = bulk.insert_rows

    def failing(maker, rows):
        if maker.model is OutboxEvent:
            raise RuntimeError("disk full")
        real(maker, rows)

    monkeypatch.setattr(bulk, "insert_rows", failing)
    with pytest.raises(RuntimeError):
        customers_bulk_upsert(actor=admin, rows=[_row(1), _row(2)])
    assert _counts() == before
    assert Interaction.objects.count() == 0


def test_the_one_primary_rule_is_the_single_record_services_rule():
    first, second = EmailInput(email="a@x.org"), EmailInput(email="b@x.org", is_primary=True)
    assert [e.is_primary for e in _one_primary([first, second])] == [False, True]
    assert one_primary([first, second], first) == [first, second]  # both flags changed
    assert (first.is_primary, second.is_primary) == (True, False)
    assert one_primary([first, second]) == []  # already one primary


def test_prepare_created_makes_the_new_customers_records_ahead_of_the_write():
    row = _row(3)
    prepare_created(row, person_template())
    assert row.display_name == "Ada Lovelace3" and "ada3@example.com" in row.search_text
    assert row.event_id and row.quality is not None
    assert '"last_name":[null,"Lovelace3"]' in row.audit_json.replace(" ", "")
    assert '"primary_email":"ada3@example.com"' in row.payload_json.replace(" ", "")
