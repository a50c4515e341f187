"""lead_convert: one transaction; a failure leaves the lead untouched."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from rapport.core.models import OutboxEvent
from rapport.customers import services as customer_services
from rapport.customers.models import Affiliation, Customer, Interaction
from rapport.identity.tests.factories import UserFactory
from rapport.sales import services
from rapport.sales.models import Deal, Lead, LeadStatus
from rapport.sales.tests.factories import sales_user

pytestmark = pytest.mark.django_db


def _lead(user: Any, **fields: Any) -> Lead:
    data = {
        "first_name": "Maria",
        "last_name": "Lopez",
        "email": "maria@example.com",
        "organization_name": "Acme GmbH",
        "title": "CTO",
        "source": "web form",
        "utm_campaign": "spring",
    }
    data.update(fields)
    return services.lead_create(actor=user, data=services.LeadInput(**data))


def test_convert_creates_person_organization_and_deal(pipeline: Any) -> None:
    user = sales_user()
    lead = _lead(user)
    result = services.lead_convert(actor=user, lead=lead, deal=services.DealInput(amount="5000"))
    person, org, deal = result.person, result.organization, result.deal
    assert person.kind == "person" and person.primary_email == "maria@example.com"
    assert org is not None and org.kind == "organization" and org.display_name == "Acme GmbH"
    assert Affiliation.objects.filter(person=person, organization=org).exists()
    assert deal is not None and deal.customer_id == org.pk and deal.pipeline_id == pipeline.pk
    assert deal.source_lead_id == lead.pk and str(deal.amount) == "5000.00"
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED
    assert lead.converted_customer_id == person.pk and lead.converted_deal_id == deal.pk
    entry = Interaction.objects.get(customer=person, kind="lifecycle")
    assert entry.data["utm"] == {"utm_campaign": "spring"} and entry.data["lead_id"] == lead.pk
    assert OutboxEvent.objects.filter(type="lead.converted").count() == 1


def test_convert_into_the_matched_customer(pipeline: Any) -> None:
    user = sales_user()
    existing = customer_services.customer_create(
        actor=UserFactory(is_superuser=True),
        data=customer_services.CustomerInput(
            first_name="Maria",
            last_name="Lopez",
            emails=[customer_services.EmailInput(email="maria@example.com")],
        ),
    )
    lead = _lead(user, organization_name="")
    assert lead.matched_customer_id == existing.pk
    result = services.lead_convert(actor=user, lead=lead, customer=existing)
    assert result.merged and result.person.pk == existing.pk
    assert Customer.objects.filter(kind="person").count() == 1
    assert result.deal is not None and result.deal.customer_id == existing.pk


def test_a_failure_mid_conversion_leaves_the_lead_untouched(
    pipeline: Any, monkeypatch: Any
) -> None:
    user = sales_user()
    lead = _lead(user)
    before = Lead.objects.filter(pk=lead.pk).values().get()
    customers_before = Customer.objects.count()

    def boom(**kwargs: Any) -> Any:
        raise ValidationError("the deal could not be created")

    # After the person and the organization were created: the deal step fails.
    monkeypatch.setattr("rapport.sales.services.conversion.deal_create", boom)
    with pytest.raises(ValidationError):
        services.lead_convert(actor=user, lead=lead)
    assert Lead.objects.filter(pk=lead.pk).values().get() == before
    assert Customer.objects.count() == customers_before
    assert not Deal.objects.exists()
    assert not OutboxEvent.objects.filter(type__in=["lead.converted", "customer.created"]).exists()


def test_a_closed_lead_cannot_be_converted(pipeline: Any) -> None:
    user = sales_user()
    lead = services.lead_disqualify(actor=user, lead=_lead(user), reason="Spam")
    with pytest.raises(ValidationError):
        services.lead_convert(actor=user, lead=lead)


def test_convert_without_a_deal(pipeline: Any) -> None:
    user = sales_user()
    result = services.lead_convert(actor=user, lead=_lead(user), create_deal=False)
    assert result.deal is None and not Deal.objects.exists()
