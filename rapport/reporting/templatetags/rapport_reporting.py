"""Template filters of the report pages."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def figure(value: Any, decimals: int = 0) -> str:
    """A report figure with the locale's grouping: counts whole, sums and averages to 2."""
    return str(floatformat(value, f"{int(decimals)}g"))


@register.filter
def as_json(value: Any) -> str:
    """JSON for a data attribute (autoescaped there). Not a json_script element: htmx
    drops <script> elements from swapped content under our CSP settings
    (allowScriptTags: false), which would leave the builder's preview without data."""
    return json.dumps(value, cls=DjangoJSONEncoder)


@register.filter
def index(items: Any, position: int) -> Any:
    try:
        return items[position]
    except (IndexError, TypeError, KeyError):
        return None
