"""A person's activities in their GDPR archive, and blanked where they quote them when the
person is erased."""

from __future__ import annotations

import pytest

from rapport.activities import gdpr
from rapport.activities.models import Activity
from rapport.activities.tests.conftest import task
from rapport.commerce.tests.factories import CustomerFactory
from rapport.customers import services as customer_services

pytestmark = pytest.mark.django_db


def test_export_and_erase(world, admin) -> None:
    person = CustomerFactory(
        owner=world.rep,
        first_name="Zebulon",
        last_name="Quartermaine",
        display_name="Zebulon Quartermaine",
    )
    kept = task(world.rep, "Renewal", customer_id=person.pk, notes="Call back next week")
    quoting = task(
        world.rep,
        "Call Zebulon Quartermaine",
        customer_id=person.pk,
        notes="Zebulon Quartermaine said no",
    )
    archive = gdpr.export(customer_id=person.pk)
    assert {a["subject"] for a in archive["activities"]} == {"Renewal", "Call Zebulon Quartermaine"}
    customer_services.customer_erase(actor=admin, customer=person)
    quoting.refresh_from_db()
    assert "Zebulon" not in quoting.subject and "Zebulon" not in quoting.notes
    kept.refresh_from_db()
    assert kept.notes == "Call back next week"  # nothing of the person in it
    assert Activity.objects.filter(customer=person).count() == 2
