"""Changing a custom field's definition (`custom_field_update`): administrators only; the
key and type stay, the label and choices are cleaned as on definition, and a real change
leaves an audit row and a `custom_field.updated` event."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers import services
from rapport.customers.models import CustomFieldDefinition
from rapport.identity.tests.factories import user_with

pytestmark = pytest.mark.django_db


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
