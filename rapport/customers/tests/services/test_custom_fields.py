"""Custom field definitions: administrators only, validated."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core.models import AuditLogEntry
from rapport.customers import services
from rapport.customers.tests.factories import person

pytestmark = pytest.mark.django_db


def test_custom_field_definitions_are_for_admins_and_validated(admin, scoped_users):
    with pytest.raises(PermissionDenied):
        services.custom_field_define(
            actor=scoped_users["all"], key="x", label="X", field_type="text"
        )
    with pytest.raises(ValidationError) as exc:
        services.custom_field_define(actor=admin, key="Bad Key", label="", field_type="choice")
    assert set(exc.value.message_dict) == {"key", "label", "choices"}
    d = services.custom_field_define(
        actor=admin, key="tier", label="Tier", field_type="choice", choices=["a", "b", "a"]
    )
    assert d.choices == ["a", "b"]
    with pytest.raises(ValidationError):
        services.custom_field_define(actor=admin, key="tier", label="Again", field_type="text")
    services.custom_field_deactivate(actor=admin, definition=d)
    # A deactivated field no longer accepts values (no silent storage of unknown keys).
    with pytest.raises(ValidationError):
        person(admin, custom_fields={"tier": "a"})
    assert AuditLogEntry.objects.filter(object_type="customers.customfielddefinition").count() == 2
