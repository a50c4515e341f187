"""Template filters that show people words instead of codes: `{{ s|duration }}`,
`{{ dt|when }}` (the active locale's date format), `{{ "dispatch_outbox"|codename }}`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils.text import capfirst

from rapport.core import humanize

register = template.Library()


@register.filter
def duration(seconds: int | float | None) -> str:
    return humanize.duration(seconds)


@register.filter
def when(value: dt.datetime | dt.date | None) -> str:
    return humanize.when(value)


@register.filter
def codename(value: Any) -> str:
    """ "customers.tasks.rescore_quality" → "Rescore quality": the last dotted part, in words."""
    return capfirst(str(value).rsplit(".", 1)[-1].replace("_", " ").replace("-", " "))


@register.filter
def object_type_plural(value: str) -> str:
    """ "customers.customer" → "Customers": what roles and logs call a type of record."""
    return humanize.object_type_plural(str(value))


@register.filter
def slug_words(value: Any) -> str:
    """A code-like value ("demo-duplicate", "trade_fair") as words; other text unchanged."""
    return humanize.words(str(value))


@register.filter
def choice_label(value: Any, field_path: str) -> str:
    """`{{ a.kind|choice_label:"customers.address.kind" }}` → "Home" (for plain data, such
    as the GDPR archive's, where no model instance offers `get_kind_display`)."""
    return humanize.choice_label(field_path, value)
