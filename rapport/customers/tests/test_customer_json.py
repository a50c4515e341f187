"""The one fast customer-to-JSON path (customer_json) gives what the schema gives."""

from __future__ import annotations

import pytest

from rapport.customers.models import Customer
from rapport.customers.schemas import (
    ADDRESS_FIELDS,
    EMAIL_FIELDS,
    PHONE_FIELDS,
    contact_point_json,
    customer_json,
    customer_payload,
)
from rapport.customers.services import AddressInput

from .api_support import make_person

pytestmark = pytest.mark.django_db


def test_customer_json_of_a_model_equals_the_schema(admin_user):
    made = make_person(
        admin_user,
        7,
        addresses=[AddressInput(line1="1 Main St", city="Paris", country="FR")],
        birth_date="1990-05-17",
        custom_fields={},
    )
    customer = Customer.objects.prefetch_related("tags", "emails", "phones", "addresses").get(
        pk=made.pk
    )
    fast = customer_json(
        customer.__dict__,
        tags=[t.name for t in customer.tags.all()],
        emails=[contact_point_json(e, EMAIL_FIELDS) for e in customer.emails.all()],
        phones=[contact_point_json(p, PHONE_FIELDS) for p in customer.phones.all()],
        addresses=[contact_point_json(a, ADDRESS_FIELDS) for a in customer.addresses.all()],
    )
    assert fast == customer_payload(customer)
