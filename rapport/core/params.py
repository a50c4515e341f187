"""One parser for integers that arrive as text (UI filters, exports, form fields).

A record number typed or tampered into a URL (`?owner=99999999999999999999999`) must be
a clear "not a record number" for the user, never an overflow in the database: SQLite
and PostgreSQL keys are 64-bit, Python's int is not.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def parse_int_param(
    name: str, value: Any, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX
) -> int:
    """`value` as an int within [minimum, maximum]; else ValidationError({name: ...})."""
    text = str(value).strip()
    # int() accepts "1_000" and non-ASCII digits; a parameter is plain ASCII digits.
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise ValidationError({name: f"{text[:40]!r} is not a whole number."})
    number = int(text)
    if not minimum <= number <= maximum:
        raise ValidationError({name: f"{number} is out of range ({minimum} to {maximum})."})
    return number


def parse_id_param(name: str, value: Any) -> int:
    """A record number (a primary or foreign key): 1 to 2^63 - 1."""
    try:
        return parse_int_param(name, value, minimum=1)
    except ValidationError:
        raise ValidationError(
            {name: f"{str(value).strip()[:40]!r} is not a record number."}
        ) from None


class RecordIdField(forms.IntegerField):
    """A form field for a record number, bounded like the database's keys."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", INT64_MAX)
        message = "Not a record number."
        kwargs["error_messages"] = {
            "invalid": message,
            "min_value": message,
            "max_value": message,
            **kwargs.get("error_messages", {}),
        }
        super().__init__(**kwargs)
