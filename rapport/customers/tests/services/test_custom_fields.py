"""Custom field definitions: administrators only, validated."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers import services
from rapport.customers.models import CustomFieldDefinition
from rapport.customers.tests.factories import person
from rapport.identity.tests.factories import user_with

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


# --- Changing a definition: custom_field_update ---


@pytest.fixture
def tier(admin) -> CustomFieldDefinition:
    return services.custom_field_define(
        actor=admin, key="tier", label="Tier", field_type="choice", choices=["gold", "silver"]
    )


def test_update_cleans_and_records_the_change(admin, tier) -> None:
    updated = services.custom_field_update(
        actor=admin,
        definition=tier,
        label="  Loyalty   tier ",
        choices=["gold", "silver", "gold", " bronze "],
        required=True,
        position=3,
    )
    tier.refresh_from_db()
    assert (tier.key, tier.field_type, tier.label) == ("tier", "choice", "Loyalty tier")
    assert tier.choices == ["gold", "silver", "bronze"]
    assert (tier.required, tier.position) == (True, 3)
    assert updated.pk == tier.pk
    row = AuditLogEntry.objects.get(object_id=str(tier.pk), action="update")
    assert set(row.changes) == {"label", "choices", "required", "position"}
    event = OutboxEvent.objects.get(type="custom_field.updated")
    assert (event.data["id"], event.data["label"]) == (tier.pk, "Loyalty tier")


def test_update_without_a_change_records_nothing(admin, tier) -> None:
    services.custom_field_update(actor=admin, definition=tier, label="Tier")
    assert not AuditLogEntry.objects.filter(object_id=str(tier.pk), action="update").exists()
    assert not OutboxEvent.objects.filter(type="custom_field.updated").exists()


def test_a_choice_field_cannot_lose_all_its_choices(admin, tier) -> None:
    with pytest.raises(ValidationError) as refused:
        services.custom_field_update(actor=admin, definition=tier, choices=[" "], label="")
    assert set(refused.value.message_dict) == {"choices", "label"}
    tier.refresh_from_db()
    assert (tier.label, tier.choices) == ("Tier", ["gold", "silver"])


def test_only_administrators_may_change_a_definition(tier) -> None:
    editor = user_with(Scope.ALL)
    with pytest.raises(PermissionDenied):
        services.custom_field_update(actor=editor, definition=tier, is_active=False)
    tier.refresh_from_db()
    assert tier.is_active
