"""Small template helpers for the identity pages."""

from __future__ import annotations

import datetime as dt

from django import template

register = template.Library()


@register.filter
def minutes(value: dt.timedelta | None) -> str:
    """A cool-off period in words: '15 minutes', '2 hours'."""
    if value is None:
        return "a while"
    total = int(value.total_seconds() // 60)
    if total >= 120 and total % 60 == 0:
        return f"{total // 60} hours"
    return f"{total} minute{'s' if total != 1 else ''}"


@register.filter
def grant_field(form: object, name: str) -> object:
    """The bound field `name` of `form` (the role matrix builds names per object type)."""
    return form[name]  # type: ignore[index]
