"""The consent ledger."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from rapport.core.models import OutboxEvent
from rapport.customers import selectors, services
from rapport.customers.models import ConsentRecord, Interaction, InteractionKind
from rapport.customers.tests.factories import person

pytestmark = pytest.mark.django_db


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
