"""The customer list's filters are segment fields in core.registry, and a field another
app registers (marketing's, analytics') is a filter like the others."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from rapport.core import registry
from rapport.customers import selectors
from rapport.customers.tests.factories import person

pytestmark = pytest.mark.django_db


def test_every_public_filter_is_a_registered_segment_field() -> None:
    fields = registry.segment_fields(selectors.CUSTOMER_TYPE)
    # Other apps add theirs (analytics: lifetime value); every one of ours is there.
    assert set(selectors.FILTERS) <= set(fields)
    for name, field in fields.items():
        assert field.label == selectors.FILTERS.get(name, field.label)
        assert field.operators and field.type


def test_a_field_another_app_registers_filters_the_list(admin: Any, monkeypatch) -> None:
    ada = person(admin, "Ada", "Lovelace")
    person(admin, "Grace", "Hopper")

    def named(queryset: Any, values: list[str], *, actor: Any) -> Any:
        return queryset.filter(first_name__iexact=values[0])

    given_name = registry.SegmentField(
        object_type=selectors.CUSTOMER_TYPE,
        name="given_name",
        label="First name, as another app names it",
        type="text",
        operators=("iexact",),
        apply=named,
        lookup="first_name__iexact",
    )
    monkeypatch.setitem(
        registry._registry.segment_fields, (selectors.CUSTOMER_TYPE, "given_name"), given_name
    )
    found = selectors.customer_list(actor=admin, filters={"given_name": "ADA"})
    assert list(found) == [ada]


def test_an_unknown_filter_names_the_registered_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        selectors.apply_filters(selectors.Customer.objects.all(), {"nope": "1"}, actor=None)
    message = caught.value.message_dict["nope"][0]
    allowed = message.split("Allowed: ", 1)[1].rstrip(".").split(", ")
    # Every registered field, the hub's and other apps' (RFM, churn…), in name order.
    assert {"birth_date_after", "birth_date_before", "city", "tag"} <= set(allowed)
    assert allowed[:-1] == sorted(allowed[:-1]) and allowed[-1] == "cf_<key>"
