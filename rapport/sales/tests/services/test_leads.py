"""lead_create / lead_update / lead_disqualify / lead_delete."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core.errors import Conflict
from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers import services as customer_services
from rapport.identity.tests.factories import UserFactory
from rapport.sales import services
from rapport.sales.models import Lead, LeadStatus
from rapport.sales.tests.factories import sales_user

pytestmark = pytest.mark.django_db


def _customer(email: str, first: str = "Maria", last: str = "Lopez") -> Any:
    return customer_services.customer_create(
        actor=UserFactory(is_superuser=True),
        data=customer_services.CustomerInput(
            first_name=first, last_name=last, emails=[customer_services.EmailInput(email=email)]
        ),
    )


def test_lead_create_normalizes_audits_and_emits() -> None:
    user = sales_user(Scope.OWN)
    lead = services.lead_create(
        actor=user,
        data=services.LeadInput(
            first_name="  maria ",
            last_name="LOPEZ",
            email="Maria@Example.COM ",
            organization_name="Acme",
            utm_campaign="spring",
            source="web form",
        ),
    )
    assert (lead.first_name, lead.last_name, lead.email) == ("Maria", "Lopez", "maria@example.com")
    assert lead.owner_id == user.pk and lead.status == LeadStatus.NEW
    assert lead.utm_campaign == "spring"
    assert AuditLogEntry.objects.filter(object_type="sales.lead", object_id=str(lead.pk)).exists()
    assert OutboxEvent.objects.filter(type="lead.created").count() == 1


def test_lead_create_refuses_empty_and_bad_email() -> None:
    user = sales_user()
    with pytest.raises(ValidationError) as exc:
        services.lead_create(actor=user, data=services.LeadInput())
    assert "last_name" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.lead_create(actor=user, data=services.LeadInput(email="not-an-email"))
    assert "email" in exc.value.message_dict


def test_lead_create_needs_the_grant() -> None:
    viewer = sales_user(actions=("view",))
    with pytest.raises(PermissionDenied):
        services.lead_create(actor=viewer, data=services.LeadInput(last_name="X"))


def test_second_form_from_the_same_person_touches_the_open_lead() -> None:
    user = sales_user()
    first = services.lead_create(
        actor=user, data=services.LeadInput(email="jo@example.com", message="Pricing?")
    )
    again = services.lead_create(
        actor=user,
        data=services.LeadInput(
            email="JO@example.com", first_name="Jo", organization_name="Acme", message="Demo?"
        ),
    )
    assert again.pk == first.pk
    assert Lead.objects.count() == 1
    assert again.touches == 2
    assert again.first_name == "Jo" and again.organization_name == "Acme"  # filled in
    assert "Pricing?" in again.message and "Demo?" in again.message
    assert OutboxEvent.objects.filter(type="lead.touched").count() == 1


def test_a_closed_lead_does_not_absorb_a_new_form() -> None:
    user = sales_user()
    old = services.lead_create(actor=user, data=services.LeadInput(email="jo@example.com"))
    services.lead_disqualify(actor=user, lead=old, reason="Student")
    new = services.lead_create(actor=user, data=services.LeadInput(email="jo@example.com"))
    assert new.pk != old.pk


def test_lead_create_matches_an_existing_customer_by_email() -> None:
    customer = _customer("maria@example.com")
    lead = services.lead_create(
        actor=sales_user(), data=services.LeadInput(email="maria@example.com", last_name="L")
    )
    assert lead.matched_customer_id == customer.pk


def test_lead_update_changes_fields_and_refuses_stale_versions() -> None:
    user = sales_user()
    lead = services.lead_create(actor=user, data=services.LeadInput(last_name="Lopez"))
    updated = services.lead_update(
        actor=user,
        lead=lead,
        data=services.LeadInput(title="CTO", status="working"),
        expected_version=1,
    )
    assert updated.title == "CTO" and updated.status == "working" and updated.version == 2
    with pytest.raises(Conflict):
        services.lead_update(
            actor=user, lead=updated, data=services.LeadInput(title="CEO"), expected_version=1
        )
    with pytest.raises(ValidationError):
        services.lead_update(actor=user, lead=updated, data=services.LeadInput(status="converted"))


def test_lead_update_refused_outside_scope() -> None:
    owner, other = sales_user(Scope.OWN), sales_user(Scope.OWN)
    lead = services.lead_create(actor=owner, data=services.LeadInput(last_name="Mine"))
    with pytest.raises(PermissionDenied):
        services.lead_update(actor=other, lead=lead, data=services.LeadInput(title="x"))


def test_lead_disqualify_records_the_reason() -> None:
    user = sales_user()
    lead = services.lead_create(actor=user, data=services.LeadInput(last_name="Lopez"))
    with pytest.raises(ValidationError):
        services.lead_disqualify(actor=user, lead=lead, reason="  ")
    lead = services.lead_disqualify(actor=user, lead=lead, reason="No budget")
    assert lead.status == LeadStatus.DISQUALIFIED and lead.disqualify_reason == "No budget"
    assert OutboxEvent.objects.filter(type="lead.disqualified").count() == 1
    with pytest.raises(ValidationError):
        services.lead_disqualify(actor=user, lead=lead, reason="Again")


def test_lead_delete() -> None:
    user = sales_user()
    lead = services.lead_create(actor=user, data=services.LeadInput(last_name="Lopez"))
    services.lead_delete(actor=user, lead=lead)
    assert not Lead.objects.exists()
    assert OutboxEvent.objects.filter(type="lead.deleted").count() == 1
