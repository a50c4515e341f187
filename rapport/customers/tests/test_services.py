"""Services of the customer data hub: validation, relationships, consent, custom fields,
lifecycle, bulk actions, saved views."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers import selectors, services
from rapport.customers.models import (
    Affiliation,
    ConsentRecord,
    Customer,
    CustomerTag,
    CustomFieldType,
    Interaction,
    InteractionKind,
)
from rapport.customers.services import CustomerInput, EmailInput, PhoneInput
from rapport.customers.tests.factories import organization, person
from rapport.identity.tests.factories import user_with

pytestmark = pytest.mark.django_db


def test_normalisation_errors_come_back_per_field(admin):
    data = CustomerInput(
        kind="person",
        first_name="Ada",
        birth_date="31/02/1990",
        emails=[EmailInput(email="ada@example.com"), EmailInput(email="not an email")],
        phones=[PhoneInput(number="12")],
        website="javascript:alert(1)",
    )
    with pytest.raises(ValidationError) as exc:
        services.customer_create(actor=admin, data=data)
    errors = exc.value.message_dict
    assert set(errors) >= {"birth_date", "emails.1.email", "phones.0.number", "website"}
    assert "emails.0.email" not in errors
    assert Customer.objects.count() == 0


def test_custom_field_values_are_validated_and_coerced(admin):
    services.custom_field_define(
        actor=admin, key="shoe_size", label="Shoe size", field_type=CustomFieldType.NUMBER
    )
    services.custom_field_define(
        actor=admin,
        key="colours",
        label="Colours",
        field_type="multi_choice",
        choices=["red", "blue"],
    )
    with pytest.raises(ValidationError) as exc:
        person(admin, custom_fields={"shoe_size": "big", "colours": ["green"], "nope": 1})
    assert set(exc.value.message_dict) == {
        "custom_fields.shoe_size",
        "custom_fields.colours",
        "custom_fields.nope",
    }
    c = person(admin, custom_fields={"shoe_size": "42", "colours": "blue; red"})
    assert c.custom_fields == {"shoe_size": 42, "colours": ["red", "blue"]}


def test_custom_field_definitions_are_for_admins_and_validated(admin, scoped_users):
    with pytest.raises(PermissionDenied):
        services.custom_field_define(
            actor=scoped_users["all"], key="x", label="X", field_type="text"
        )
    with pytest.raises(ValidationError) as exc:
        services.custom_field_define(actor=admin, key="Bad Key", label="", field_type="choice")
    assert set(exc.value.message_dict) == {"key", "label", "choices"}
    d = services.custom_field_define(
        actor=admin, key="tier", label="Tier", field_type="choice", choices=["a", "b", "a"]
    )
    assert d.choices == ["a", "b"]
    with pytest.raises(ValidationError):
        services.custom_field_define(actor=admin, key="tier", label="Again", field_type="text")
    services.custom_field_deactivate(actor=admin, definition=d)
    # A deactivated field no longer accepts values (no silent storage of unknown keys).
    with pytest.raises(ValidationError):
        person(admin, custom_fields={"tier": "a"})
    assert AuditLogEntry.objects.filter(object_type="customers.customfielddefinition").count() == 2


def test_relationship_reads_both_ways_with_its_own_wording(admin):
    ada, org = person(admin), organization(admin)
    charles = person(admin, "Charles", "Babbage")
    services.relationship_create(
        actor=admin, from_customer=ada, to_customer=charles, kind="referred_by"
    )
    services.relationship_create(actor=admin, from_customer=ada, to_customer=org, kind="employer")
    ada_view = {
        (r.label, r.other.pk)
        for r in selectors.relationships_of(selectors.customer_detail(actor=admin, pk=ada.pk))
    }
    assert ada_view == {("Was referred by", charles.pk), ("Works for", org.pk)}
    charles_view = [
        (r.label, r.other.pk)
        for r in selectors.relationships_of(selectors.customer_detail(actor=admin, pk=charles.pk))
    ]
    assert charles_view == [("Referred", ada.pk)]
    org_view = [
        (r.label, r.other.pk)
        for r in selectors.relationships_of(selectors.customer_detail(actor=admin, pk=org.pk))
    ]
    assert org_view == [("Employs", ada.pk)]
    with pytest.raises(ValidationError):
        services.relationship_create(
            actor=admin, from_customer=ada, to_customer=charles, kind="referred_by"
        )
    with pytest.raises(ValidationError):
        services.relationship_create(
            actor=admin, from_customer=ada, to_customer=ada, kind="partner"
        )
    assert OutboxEvent.objects.filter(type="relationship.created").count() == 2


def test_affiliation_makes_the_person_findable_by_organization(admin):
    ada, org = person(admin), organization(admin, "Difference Engines")
    aff = services.affiliation_create(actor=admin, person=ada, organization=org, title="Analyst")
    ada.refresh_from_db()
    assert "difference engines" in ada.search_text
    with pytest.raises(ValidationError):
        services.affiliation_create(actor=admin, person=org, organization=ada)
    services.affiliation_update(actor=admin, affiliation=aff, title="Chief analyst")
    assert Affiliation.objects.get().title == "Chief analyst"
    services.affiliation_delete(actor=admin, affiliation=aff)
    ada.refresh_from_db()
    assert "difference engines" not in ada.search_text


def test_consent_ledger_is_appended_and_the_latest_is_in_force(admin):
    ada = person(admin)
    services.consent_record(
        actor=admin,
        customer=ada,
        channel="email",
        purpose="marketing",
        status="granted",
        method="web form",
        text_shown="Send me news",
    )
    services.consent_record(
        actor=admin,
        customer=ada,
        channel="sms",
        purpose="marketing",
        status="granted",
        method="call",
    )
    assert selectors.consent_allows(customer=ada, channel="email", purpose="marketing")
    services.consent_record(
        actor=admin,
        customer=ada,
        channel="email",
        purpose="marketing",
        status="withdrawn",
        method="unsubscribe link",
    )
    assert ConsentRecord.objects.filter(customer=ada).count() == 3
    in_force = {(c.channel, c.purpose): c.status for c in selectors.consents_in_force(customer=ada)}
    assert in_force == {("email", "marketing"): "withdrawn", ("sms", "marketing"): "granted"}
    assert not selectors.consent_allows(customer=ada, channel="email", purpose="marketing")
    assert not selectors.consent_allows(customer=ada, channel="phone", purpose="marketing")
    assert Interaction.objects.filter(customer=ada, kind=InteractionKind.CONSENT).count() == 3
    assert OutboxEvent.objects.filter(type="consent.recorded").count() == 3
    with pytest.raises(ValidationError) as exc:
        services.consent_record(
            actor=admin,
            customer=ada,
            channel="fax",
            purpose="marketing",
            status="granted",
            method="",
        )
    assert set(exc.value.message_dict) == {"channel", "method"}


def test_lifecycle_change_is_dated_and_on_the_timeline(admin):
    ada = person(admin, lifecycle_stage="lead")
    before = ada.lifecycle_changed_at
    ada = services.customer_update(
        actor=admin,
        customer=ada,
        data=CustomerInput(lifecycle_stage="customer"),
        expected_version=ada.version,
    )
    assert ada.lifecycle_changed_at > before
    entry = Interaction.objects.get(customer=ada, kind=InteractionKind.LIFECYCLE)
    assert entry.data == {"from": "lead", "to": "customer"}


def test_stale_version_is_refused(admin):
    from rapport.core.errors import Conflict

    ada = person(admin)
    services.customer_update(
        actor=admin,
        customer=ada,
        data=CustomerInput(job_title="Analyst"),
        expected_version=ada.version,
    )
    with pytest.raises(Conflict):
        services.customer_update(
            actor=admin,
            customer=ada,
            data=CustomerInput(job_title="Poet"),
            expected_version=ada.version,
        )
    ada.refresh_from_db()
    assert ada.job_title == "Analyst"


def test_bulk_actions_respect_scope(teams, admin):
    north, south = teams
    rep = user_with(Scope.OWN, actions=("view", "create", "edit"), teams=[north])
    mine = [person(rep, f"Mine{i}", "Rep") for i in range(3)]
    others = [person(admin, f"Other{i}", "Admin", team_id=south.pk) for i in range(2)]
    ids = [c.pk for c in mine + others]

    result = services.customers_bulk_tag(actor=rep, customer_ids=ids, add=["VIP"])
    assert (result.done, result.skipped) == (3, 2)
    assert set(
        CustomerTag.objects.filter(tag__name="vip").values_list("customer_id", flat=True)
    ) == {c.pk for c in mine}
    assert AuditLogEntry.objects.filter(action="update", changes__tags__added=["vip"]).count() == 3
    assert OutboxEvent.objects.filter(type="customer.updated").count() == 3

    result = services.customers_bulk_tag(actor=rep, customer_ids=ids, remove=["vip"])
    assert result.done == 3 and not CustomerTag.objects.filter(tag__name="vip").exists()

    # An own-scope user may not give records away; nothing changes.
    result = services.customers_bulk_assign(actor=rep, customer_ids=ids, owner_id=admin.pk)
    assert (result.done, result.skipped) == (0, 5)
    assert Customer.objects.filter(owner=admin).count() == 2

    # No delete permission at all: everything skipped, nothing deleted.
    result = services.customers_bulk_delete(actor=rep, customer_ids=ids)
    assert (result.done, result.skipped) == (0, 5)

    result = services.customers_bulk_assign(actor=admin, customer_ids=ids, owner_id=rep.pk)
    assert result.done == 5 and Customer.objects.filter(owner=rep).count() == 5
    result = services.customers_bulk_delete(actor=admin, customer_ids=ids[:2])
    assert result.done == 2 and Customer.objects.count() == 3
    assert (
        AuditLogEntry.objects.filter(action="delete", object_type="customers.customer").count() == 2
    )
    assert OutboxEvent.objects.filter(type="customer.deleted").count() == 2


def test_saved_views_are_checked_and_private_unless_shared(scoped_users, admin):
    rep, other = scoped_users["own"], scoped_users["all"]
    with pytest.raises(ValidationError):
        services.saved_view_create(actor=rep, name="Bad", params={"colour": "red"})
    mine = services.saved_view_create(
        actor=rep,
        name="My leads",
        params={"lifecycle_stage": ["lead"], "sort": ["-created"], "cursor": ["x"]},
    )
    assert mine.params == {"lifecycle_stage": "lead", "sort": "-created"}
    shared = services.saved_view_create(
        actor=other, name="Everyone's", params={"kind": "person"}, is_shared=True
    )
    assert set(selectors.saved_views(actor=rep)) == {mine, shared}
    assert set(selectors.saved_views(actor=other)) == {shared}
    with pytest.raises(PermissionDenied):
        services.saved_view_delete(actor=rep, view=shared)
