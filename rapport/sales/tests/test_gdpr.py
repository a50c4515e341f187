"""A person's leads and deals in their GDPR archive; erasure blanks the leads' personal
fields outright and the deals' free text where it quotes the person, keeping the deals."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.customers import services as customer_services
from rapport.identity.tests.factories import UserFactory
from rapport.sales import gdpr, services
from rapport.sales.models import Deal
from rapport.sales.tests.factories import sales_user

pytestmark = pytest.mark.django_db


def test_export_and_erase_leads_and_deals(pipeline: Any) -> None:
    user = sales_user()
    admin = UserFactory(is_superuser=True)
    lead = services.lead_create(
        actor=user,
        data=services.LeadInput(
            first_name="Zebulon",
            last_name="Quartermaine",
            email="zebulon@example.com",
            title="Head of Procurement",
            message="Please call me on my mobile",
            source="web form",
        ),
    )
    result = services.lead_convert(
        actor=user,
        lead=lead,
        deal=services.DealInput(amount="1200", name="Renewal for Zebulon Quartermaine"),
    )
    person, deal = result.person, result.deal
    assert deal is not None
    Deal.objects.filter(pk=deal.pk).update(next_step="Send the quote to Zebulon Quartermaine")
    unrelated = services.lead_create(
        actor=user, data=services.LeadInput(first_name="Ada", last_name="Byron", source="event")
    )

    archive = gdpr.export(customer_id=person.pk)
    assert [row["email"] for row in archive["leads"]] == ["zebulon@example.com"]
    assert [row["name"] for row in archive["deals"]] == ["Renewal for Zebulon Quartermaine"]

    customer_services.customer_erase(actor=admin, customer=person)

    lead.refresh_from_db()
    personal = (lead.first_name, lead.last_name, lead.email, lead.title, lead.message)
    assert personal == ("",) * 5
    assert lead.source == "web form"  # not personal: kept for the source reports
    kept = Deal.objects.get(pk=deal.pk)
    assert str(kept.amount) == "1200.00"  # the deal stays, for revenue and pipeline history
    assert "Zebulon" not in kept.next_step and "Zebulon" not in kept.name
    unrelated.refresh_from_db()
    assert unrelated.first_name == "Ada"
