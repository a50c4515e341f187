"""Customers for tests, made through the services (so derived fields are real) or in bulk."""

from __future__ import annotations

from typing import Any

from rapport.customers import services
from rapport.customers.models import Customer, CustomerKind
from rapport.customers.services import CustomerInput, EmailInput, PhoneInput


def person(actor: Any, first: str = "Ada", last: str = "Lovelace", **fields: Any) -> Customer:
    emails = fields.pop("emails", [])
    phones = fields.pop("phones", [])
    data = CustomerInput(
        kind=CustomerKind.PERSON,
        first_name=first,
        last_name=last,
        emails=[EmailInput(email=e) for e in emails],
        phones=[PhoneInput(number=p) for p in phones],
        **fields,
    )
    return services.customer_create(actor=actor, data=data)


def organization(actor: Any, name: str = "Analytical Engines Ltd", **fields: Any) -> Customer:
    data = CustomerInput(kind=CustomerKind.ORGANIZATION, organization_name=name, **fields)
    return services.customer_create(actor=actor, data=data)
