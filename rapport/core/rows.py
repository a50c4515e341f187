"""`.values()` rows read through a plain cursor, for API hot paths.

Django's ORM turns every value of every row through a chain of converters (for a page of
50 customers: 150 datetimes parsed by the driver, then re-checked and made aware by
Django, 50 JSON documents, booleans…), which cost more than the query itself. The SQL is
still compiled by the ORM from the caller's queryset (record scope, filters, keyset
condition: nothing is written by hand), only the row conversion is done here, with the
same results as Django's for the column types below. Any other column type, or a queryset
that is not a plain `.values()`, falls back to the ORM. A test holds both paths equal on
SQLite and PostgreSQL (`rapport/core/tests/test_rows.py`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections, models
from django.db.models.query import ValuesIterable

Converter = Callable[[Any], Any] | None

# Types whose database value is already what the ORM would return, on both databases.
_AS_IS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "IntegerField",
        "BigIntegerField",
        "SmallIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "CharField",
        "TextField",
        "EmailField",
        "URLField",
        "SlugField",
        "ForeignKey",
        "OneToOneField",
    }
)
_UNSUPPORTED = object()


def _datetime_converter(tz: dt.tzinfo | None) -> Converter:
    def convert(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):  # a driver that did not parse it
            value = dt.datetime.fromisoformat(value)
        if tz is not None and value.tzinfo is None:  # SQLite stores naive UTC
            value = value.replace(tzinfo=tz)
        return value

    return convert


def _date(value: Any) -> Any:
    if isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def _bool(value: Any) -> Any:
    return None if value is None else bool(value)


def _json_converter(field: models.JSONField) -> Converter:
    decoder = field.decoder

    def convert(value: Any) -> Any:
        # Both backends hand jsonb/text over undecoded (Django registers a text loader
        # for jsonb), as JSONField.from_db_value expects.
        if isinstance(value, str):
            return json.loads(value, cls=decoder)
        return value

    return convert


def _converter(field: Any, tz: dt.tzinfo | None) -> Any:
    kind = field.get_internal_type()
    if kind in _AS_IS:
        return None
    if kind == "DateTimeField":
        return _datetime_converter(tz)
    if kind == "DateField":
        return _date
    if kind == "BooleanField":
        return _bool
    if kind == "JSONField" and type(field).from_db_value is models.JSONField.from_db_value:
        return _json_converter(field)
    return _UNSUPPORTED


def plain_values(queryset: models.QuerySet[Any]) -> list[dict[str, Any]]:
    """The rows of a `.values(...)` queryset as dicts, equal to `list(queryset)`."""
    query = queryset.query
    if queryset._iterable_class is not ValuesIterable or query.extra_select:
        return list(queryset)
    connection = connections[queryset.db]
    compiler = query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return []
    names = [*query.values_select, *query.annotation_select]
    if len(compiler.select) != len(names):
        return list(queryset)
    tz = connection.timezone if settings.USE_TZ else None
    converters = []
    for expression, _, _ in compiler.select:
        converter = _converter(expression.output_field, tz)
        if converter is _UNSUPPORTED:
            return list(queryset)
        converters.append(converter)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        raw = cursor.fetchall()
    converted = [(i, c) for i, c in enumerate(converters) if c is not None]
    rows = []
    for values in raw:
        if converted:
            values = list(values)
            for i, convert in converted:
                values[i] = convert(values[i])
        rows.append(dict(zip(names, values, strict=True)))
    return rows
