"""Custom field definitions (administrators only)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.customers import normalize
from rapport.customers.models import CustomFieldDefinition, CustomFieldType
from rapport.customers.services.inputs import CUSTOMER_TYPE


def _require_admin(actor: Any) -> None:
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only administrators may define custom fields.")


def _clean_definition(
    *, field_type: str, label: str, choices: list[str] | None, errors: dict[str, list[str]]
) -> tuple[str, list[str]]:
    label = normalize.clean_text(label, max_length=100)
    if not label:
        errors["label"] = ["Give the field a label."]
    if field_type not in CustomFieldType.values:
        errors["field_type"] = [
            f"{field_type!r} is not one of: {', '.join(CustomFieldType.values)}."
        ]
    clean_choices: list[str] = []
    for choice in choices or []:
        text = normalize.clean_text(choice, max_length=100)
        if text and text not in clean_choices:
            clean_choices.append(text)
    if field_type in (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE) and not clean_choices:
        errors["choices"] = ["A choice field needs at least one choice."]
    if field_type not in (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE):
        clean_choices = []
    return label, clean_choices


@transaction.atomic
def custom_field_define(
    *,
    actor: Any,
    key: str,
    label: str,
    field_type: str,
    choices: list[str] | None = None,
    required: bool = False,
    help_text: str = "",
    position: int = 0,
    object_type: str = CUSTOMER_TYPE,
) -> CustomFieldDefinition:
    """Define a new custom field (admins). Its key is permanent: the API and imports use it."""
    import re

    _require_admin(actor)
    errors: dict[str, list[str]] = {}
    key = (key or "").strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", key):
        errors["key"] = ["Use lower-case letters, digits and _ (starting with a letter)."]
    elif CustomFieldDefinition.objects.filter(object_type=object_type, key=key).exists():
        errors["key"] = [f"There is already a field {key!r}."]
    label, clean_choices = _clean_definition(
        field_type=field_type, label=label, choices=choices, errors=errors
    )
    if errors:
        raise ValidationError(errors)
    definition = CustomFieldDefinition.objects.create(
        object_type=object_type,
        key=key,
        label=label,
        field_type=field_type,
        choices=clean_choices,
        required=required,
        help_text=normalize.clean_text(help_text, max_length=255),
        position=position,
    )
    audit.record_created(actor=actor, obj=definition)
    outbox.emit("custom_field.created", audit.snapshot(definition) | {"id": definition.pk})
    return definition


@transaction.atomic
def custom_field_update(
    *,
    actor: Any,
    definition: CustomFieldDefinition,
    label: str | None = None,
    choices: list[str] | None = None,
    required: bool | None = None,
    help_text: str | None = None,
    position: int | None = None,
    is_active: bool | None = None,
) -> CustomFieldDefinition:
    """Change a definition; its key and type stay (stored values keep their meaning)."""
    _require_admin(actor)
    before = audit.snapshot(definition)
    errors: dict[str, list[str]] = {}
    new_label, new_choices = _clean_definition(
        field_type=definition.field_type,
        label=label if label is not None else definition.label,
        choices=choices if choices is not None else definition.choices,
        errors=errors,
    )
    if errors:
        raise ValidationError(errors)
    definition.label = new_label
    definition.choices = new_choices
    if required is not None:
        definition.required = required
    if help_text is not None:
        definition.help_text = normalize.clean_text(help_text, max_length=255)
    if position is not None:
        definition.position = position
    if is_active is not None:
        definition.is_active = is_active
    definition.save()
    changes = audit.diff(before, audit.snapshot(definition))
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=definition, changes=changes)
        outbox.emit("custom_field.updated", audit.snapshot(definition) | {"id": definition.pk})
    return definition


def custom_field_deactivate(
    *, actor: Any, definition: CustomFieldDefinition
) -> CustomFieldDefinition:
    """Hide a field from forms and validation; stored values stay (reactivating restores)."""
    return custom_field_update(actor=actor, definition=definition, is_active=False)
