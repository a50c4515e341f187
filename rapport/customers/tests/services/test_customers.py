"""customer_create and customer_update: per-field errors, custom values, lifecycle, versions."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from rapport.customers import services
from rapport.customers.models import Customer, CustomFieldType, Interaction, InteractionKind
from rapport.customers.services import CustomerInput, EmailInput, PhoneInput
from rapport.customers.tests.factories import person

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
