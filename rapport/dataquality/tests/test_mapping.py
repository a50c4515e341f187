"""Column suggestions and mapping checks."""

from __future__ import annotations

import pytest

from rapport.customers.models import CustomFieldDefinition
from rapport.dataquality.mapping import MappingError, resolve, suggest

pytestmark = pytest.mark.django_db


def test_suggestions_from_names_aliases_custom_fields_and_fuzzy_matches() -> None:
    CustomFieldDefinition.objects.create(key="shoe_size", label="Shoe size", field_type="number")
    headers = ["ID", "First Name", "Surname", "E-mail address", "Zip", "Company", "Shoe size",
               "Postcod", "Favourite colour"]  # fmt: skip
    assert suggest(headers, "contacts") == {
        "ID": "external_id",
        "First Name": "first_name",
        "Surname": "last_name",
        "E-mail address": "email",
        "Zip": "postcode",
        "Company": "organization",
        "Shoe size": "cf:shoe_size",
        "Postcod": "",  # postcode is taken by Zip: a field is suggested once
        "Favourite colour": "",
    }
    assert suggest(["Cuntry"], "contacts") == {"Cuntry": "country"}
    assert suggest(["Cuntry"], "contacts", fuzzy=False) == {"Cuntry": ""}


def test_resolve_refuses_unknown_columns_fields_and_double_mappings() -> None:
    headers = ["a", "b"]
    with pytest.raises(MappingError, match="'c'"):
        resolve({"c": "email"}, headers, "contacts")
    with pytest.raises(MappingError, match="'mail'"):
        resolve({"a": "mail"}, headers, "contacts")
    with pytest.raises(MappingError, match="Two columns"):
        resolve({"a": "email", "b": "email"}, headers, "contacts")
    with pytest.raises(MappingError, match="needs the columns"):
        resolve({"a": "external_id"}, headers, "orders")
    resolved = resolve({"A": "email", "b": ""}, headers, "contacts")
    assert resolved.positions == {"email": 0}
    assert resolved.ignored == ["b"]
