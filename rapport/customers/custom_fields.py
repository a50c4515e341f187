"""Validation of admin-defined custom field values against their definitions."""

from __future__ import annotations

import decimal
from typing import Any

from django.core.exceptions import ValidationError

from rapport.customers import normalize
from rapport.customers.models import CustomFieldDefinition, CustomFieldType


def definitions(object_type: str) -> dict[str, CustomFieldDefinition]:
    return {
        d.key: d
        for d in CustomFieldDefinition.objects.filter(object_type=object_type, is_active=True)
    }


def _coerce(definition: CustomFieldDefinition, value: Any) -> Any:
    kind = definition.field_type
    if kind == CustomFieldType.TEXT:
        return normalize.clean_text(str(value), max_length=1000)
    if kind == CustomFieldType.NUMBER:
        if isinstance(value, bool):
            raise ValidationError("Expected a number.")
        try:
            number = decimal.Decimal(str(value).strip().replace(",", ""))
        except decimal.InvalidOperation as exc:
            raise ValidationError(f"{value!r} is not a number.") from exc
        if not number.is_finite():
            raise ValidationError(f"{value!r} is not a number.")
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == CustomFieldType.DATE:
        date = normalize.parse_date(value)
        return date.isoformat() if date else None
    if kind == CustomFieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "yes", "y", "1", "on"}:
            return True
        if text in {"false", "no", "n", "0", "off"}:
            return False
        raise ValidationError(f"{value!r} is not yes or no.")
    if kind == CustomFieldType.URL:
        text = normalize.clean_text(str(value), max_length=500)
        normalize.validate_web_address(text, shown=value)
        return text
    if kind == CustomFieldType.CHOICE:
        text = str(value).strip()
        if text not in definition.choices:
            raise ValidationError(f"{text!r} is not one of: {', '.join(definition.choices)}.")
        return text
    if kind == CustomFieldType.MULTI_CHOICE:
        items = value if isinstance(value, list) else [v.strip() for v in str(value).split(";")]
        items = [str(v).strip() for v in items if str(v).strip()]
        unknown = [v for v in items if v not in definition.choices]
        if unknown:
            raise ValidationError(
                f"{', '.join(map(repr, unknown))} not among: {', '.join(definition.choices)}."
            )
        return sorted(set(items), key=definition.choices.index)
    raise ValidationError(f"Unknown field type {kind!r}.")


def validate_custom_fields(
    object_type: str,
    values: dict[str, Any],
    *,
    partial: bool,
    known: dict[str, CustomFieldDefinition] | None = None,
) -> dict[str, Any]:
    """The values coerced to their types; ValidationError keyed by field for bad ones.

    Unknown keys are refused (a typo must not be stored silently). Empty values remove
    the key. With `partial`, required fields that are absent are not reported.
    """
    defs = known if known is not None else definitions(object_type)
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        definition = defs.get(key)
        if definition is None:
            errors[key] = [f"There is no custom field {key!r}."]
            continue
        if value is None or value == "" or value == []:
            continue
        try:
            coerced = _coerce(definition, value)
        except ValidationError as exc:
            errors[key] = exc.messages
            continue
        if coerced not in (None, "", []):
            clean[key] = coerced
    if not partial:
        for key, definition in defs.items():
            if definition.required and key not in clean and key not in errors:
                errors[key] = [f"{definition.label} is required."]
    if errors:
        raise ValidationError(errors)
    return clean
