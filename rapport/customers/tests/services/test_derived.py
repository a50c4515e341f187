"""What a write derives from a customer's fields: the display name (`display_name_for`)."""

from __future__ import annotations

import pytest

from rapport.customers import services
from rapport.customers.models import Customer, CustomerKind
from rapport.customers.tests.factories import organization, person

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": CustomerKind.ORGANIZATION, "organization_name": "Acme"}, "Acme"),
        ({"kind": CustomerKind.ORGANIZATION}, "(unnamed organization)"),
        ({"first_name": "Ada", "last_name": "Lovelace"}, "Ada Lovelace"),
        ({"last_name": "Lovelace"}, "Lovelace"),
        ({"primary_email": "ada@example.com", "primary_phone": "+44"}, "ada@example.com"),
        ({"primary_phone": "+442079460000"}, "+442079460000"),
        ({}, "(unnamed person)"),
    ],
)
def test_display_name_for_falls_back_from_name_to_contact_points(fields, expected) -> None:
    customer = Customer(**{"kind": CustomerKind.PERSON, **fields})
    assert services.display_name_for(customer) == expected


def test_display_name_for_is_what_a_write_stores(admin) -> None:
    org = organization(admin, "Analytical Engines Ltd")
    nameless = person(admin, "", "", emails=["ada@example.com"])
    assert org.display_name == services.display_name_for(org) == "Analytical Engines Ltd"
    assert nameless.display_name == "ada@example.com"
