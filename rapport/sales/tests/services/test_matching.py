"""likely_customers / best_match: e-mail, phone, name + organization."""

from __future__ import annotations

from typing import Any

import pytest

from rapport.customers import services as customer_services
from rapport.identity.tests.factories import UserFactory
from rapport.sales.services.matching import best_match, likely_customers

pytestmark = pytest.mark.django_db


def _person(**kwargs: Any) -> Any:
    return customer_services.customer_create(
        actor=UserFactory(is_superuser=True), data=customer_services.CustomerInput(**kwargs)
    )


def test_email_match() -> None:
    maria = _person(
        first_name="Maria",
        last_name="Lopez",
        emails=[customer_services.EmailInput(email="maria@example.com")],
    )
    found = likely_customers(email="maria@example.com")
    assert found and found[0][0] == maria.pk and found[0][1] > 0.9


def test_phone_match() -> None:
    jo = _person(
        first_name="Jo",
        last_name="Berg",
        phones=[customer_services.PhoneInput(number="+49 30 1234567")],
    )
    assert best_match(phone="+49301234567") == jo.pk


def test_name_alone_is_not_enough_but_name_and_organization_is() -> None:
    admin = UserFactory(is_superuser=True)
    anna = _person(first_name="Anna", last_name="Schmidt")
    acme = customer_services.customer_create(
        actor=admin,
        data=customer_services.CustomerInput(kind="organization", organization_name="Acme GmbH"),
    )
    customer_services.affiliation_create(actor=admin, person=anna, organization=acme)
    assert best_match(first_name="Anna", last_name="Schmidt") is None
    assert (
        best_match(first_name="Anna", last_name="Schmidt", organization_name="Acme GmbH") == anna.pk
    )
    assert best_match(first_name="Anna", last_name="Schmidt", organization_name="Other") is None


def test_nothing_to_match_on() -> None:
    assert likely_customers() == []
