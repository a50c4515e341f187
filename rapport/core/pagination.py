"""Keyset (cursor) pagination: constant cost per page however deep, for UI lists and API.

A cursor encodes the sort values of the last row seen plus its primary key (the
tie-breaker), so the next page is `WHERE (sort, id) > (last_sort, last_id)`, which an
index on (sort, id) answers without counting or skipping rows.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import models

from rapport.core.params import INT64_MAX, INT64_MIN

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class SortKey:
    """A whitelisted sort: the public name and the model field it orders by.

    `then`: NOT NULL fields that break ties before the primary key, so that the order is
    the one an index on (field, *then) already holds (the customer list's stage sort
    walks (stage, name, id) rather than sorting a quarter of the table by id).
    `reversed`: fields ordered against the sort's direction (the lifecycle stages'
    order is their codes' reverse alphabetical order), as an index declaring them
    descending holds them.
    """

    name: str
    field: str
    then: tuple[str, ...] = ()
    reversed: frozenset[str] = frozenset()

    @property
    def fields(self) -> tuple[str, ...]:
        """The order's columns before the primary key."""
        return (self.field, *self.then)

    def directions(self, descending: bool) -> tuple[bool, ...]:
        """Whether each of `fields` runs descending when the sort does or does not."""
        return tuple((f in self.reversed) != descending for f in self.fields)


@dataclass
class Page(Generic[M]):
    items: list[M]
    next_cursor: str | None
    sort: str


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"dec": str(value)}
    return value


# What a cursor may hold: we only ever write a few sort values and a 64-bit primary key,
# so anything else was not written by us and is refused before it reaches a query.
MAX_CURSOR_LENGTH = 2000
MAX_CURSOR_VALUES = 4
MAX_CURSOR_TEXT = 1000


class InvalidCursor(ValidationError):
    """A cursor we did not write (tampered, truncated, from another sort): a 400, not a 500."""

    def __init__(self, message: str = "This cursor is invalid or belongs to another sort.") -> None:
        super().__init__({"cursor": message})


def _is_int64(value: Any) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX
    )


def _decode_value(value: Any) -> Any:
    """One sort value as `_encode_value` wrote it; anything else raises ValueError."""
    if value is None or isinstance(value, bool) or _is_int64(value):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str) and len(value) <= MAX_CURSOR_TEXT:
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((tag, text),) = value.items()
        if isinstance(text, str) and len(text) <= 64:
            if tag == "dt":
                return dt.datetime.fromisoformat(text)
            if tag == "d":
                return dt.date.fromisoformat(text)
            if tag == "dec":
                amount = decimal.Decimal(text)
                if amount.is_finite():
                    return amount
    raise ValueError("not a cursor value")


def encode_cursor(sort: str, values: list[Any]) -> str:
    raw = json.dumps({"s": sort, "v": [_encode_value(v) for v in values]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a cursor value")


def decode_cursor(cursor: str, sort: str) -> list[Any]:
    """The values `encode_cursor(sort, ...)` wrote; InvalidCursor for anything else.

    This is the one decoder every keyset list uses, so a hostile cursor (another sort,
    Infinity, a nested list, a 100-digit id) is refused here, never by the database.
    """
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(
            base64.urlsafe_b64decode(padded.encode()), parse_constant=_refuse_constant
        )
        if not isinstance(data, dict) or set(data) != {"s", "v"} or data["s"] != sort:
            raise ValueError("not our cursor")
        values = data["v"]
        if not isinstance(values, list) or not 1 <= len(values) <= MAX_CURSOR_VALUES:
            raise ValueError("not our cursor")
        if not _is_int64(values[-1]):  # the primary key, always last
            raise ValueError("not a primary key")
        return [_decode_value(v) for v in values]
    except (ValueError, TypeError, ArithmeticError, binascii.Error) as exc:
        raise InvalidCursor() from exc


@contextmanager
def cursor_values_checked() -> Iterator[None]:
    """Wrap the filter built from a decoded cursor: a value the column cannot take (a
    text where a date goes) is the cursor's fault, so it is an InvalidCursor."""
    try:
        yield
    except InvalidCursor:
        raise
    except (ValueError, TypeError, ArithmeticError, ValidationError) as exc:
        raise InvalidCursor() from exc


def after_row(
    fields: tuple[str, ...], values: list[Any], *, directions: tuple[bool, ...]
) -> models.Q:
    """Rows after (`values`, pk) in the order (`fields`, pk), for NOT NULL `fields`.

    `directions`: whether each field runs descending (`SortKey.directions`); the pk
    follows the last one. The row-value comparison spelled out: a > x OR (a = x AND
    (b > y OR (b = y AND pk > z))), with < for a descending field. The redundant `a >= x`
    in front lets an index on `a` seek to the cursor instead of reading every row before
    it.
    """
    if len(values) != len(fields) + 1 or any(v is None for v in values[:-1]):
        raise InvalidCursor()
    lookups = ["lt" if d else "gt" for d in directions]
    condition = models.Q(**{f"pk__{lookups[-1]}": values[-1]})
    for field, value, lookup in reversed(list(zip(fields, values, lookups, strict=False))):
        condition = models.Q(**{f"{field}__{lookup}": value}) | (
            models.Q(**{field: value}) & condition
        )
    return models.Q(**{f"{fields[0]}__{lookups[0]}e": values[0]}) & condition


def parse_sort(sort: str | None, allowed: dict[str, SortKey], default: str) -> tuple[SortKey, bool]:
    """The whitelisted sort key and whether it is descending (`-name`); anything else: 400."""
    sort = sort or default
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    if name not in allowed:
        raise ValidationError(
            {"sort": f"Unknown sort {name!r}. Allowed: {', '.join(sorted(allowed))}."}
        )
    return allowed[name], descending


def keyset_page(
    queryset: models.QuerySet[M],
    *,
    sort_key: SortKey,
    descending: bool,
    cursor: str | None,
    limit: int,
    fetch: Callable[[models.QuerySet[M]], list[Any]] = list,
) -> Page[M]:
    """One page of `queryset` after `cursor`, ordered by (sort field, pk).

    `fetch` reads the sliced queryset (e.g. `rapport.core.rows.plain_values` for `.values()`
    querysets on hot paths)."""
    if sort_key.then or sort_key.reversed:
        raise ValueError("keyset_page orders by one field; use after_row for tie-breakers.")
    sort_name = ("-" if descending else "") + sort_key.name
    field, pk = sort_key.field, "pk"
    # A NOT NULL column needs no NULL handling, and plain `ORDER BY col, id` lets the
    # database walk its (col, id) index instead of sorting the table.
    nullable = field != pk and _is_nullable(queryset.model, field)
    lookup = "lt" if descending else "gt"
    prefix = "-" if descending else ""
    if cursor:
        values = decode_cursor(cursor, sort_name)
        if len(values) != (1 if field == pk else 2):
            raise InvalidCursor()
        with cursor_values_checked():
            if field == pk:
                queryset = queryset.filter(**{f"pk__{lookup}": values[-1]})
            else:
                last_value, last_pk = values
                if not nullable:
                    queryset = queryset.filter(
                        models.Q(**{f"{field}__{lookup}": last_value})
                        | models.Q(**{field: last_value, f"pk__{lookup}": last_pk})
                    )
                elif last_value is None:
                    # Nulls sort last in both directions here: only later nulls remain.
                    queryset = queryset.filter(
                        **{f"{field}__isnull": True, f"pk__{lookup}": last_pk}
                    )
                else:
                    queryset = queryset.filter(
                        models.Q(**{f"{field}__{lookup}": last_value})
                        | models.Q(**{field: last_value, f"pk__{lookup}": last_pk})
                        | models.Q(**{f"{field}__isnull": True})
                    )
    if field == pk:
        ordering: list[Any] = [f"{prefix}pk"]
    elif not nullable:
        ordering = [f"{prefix}{field}", f"{prefix}pk"]
    else:
        expr = models.F(field)
        ordering = [
            expr.desc(nulls_last=True) if descending else expr.asc(nulls_last=True),
            f"{prefix}pk",
        ]
    rows = fetch(queryset.order_by(*ordering)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        last_pk = _attr(last, "pk")
        values = [last_pk] if field == pk else [_attr(last, field), last_pk]
        next_cursor = encode_cursor(sort_name, values)
    return Page(items=rows, next_cursor=next_cursor, sort=sort_name)


def _is_nullable(model: type[models.Model], path: str) -> bool:
    if "__" in path:
        return True  # a related field: keep the NULL-safe form
    try:
        return bool(getattr(model._meta.get_field(path), "null", True))
    except Exception:  # an annotation: keep the NULL-safe form
        return True


def _attr(obj: Any, path: str) -> Any:
    """A row's value at `path`: model instances, or dicts from `.values()` (hot paths)."""
    if isinstance(obj, dict):
        return obj["id"] if path == "pk" else obj.get(path)
    for part in path.split("__"):
        obj = getattr(obj, part) if obj is not None else None
    return obj


def next_page_url(params: Any, cursor: str | None) -> str | None:
    """The query string of the page after this one: the same filters, the next cursor."""
    if not cursor:
        return None
    params = params.copy()
    params["cursor"] = cursor
    return "?" + params.urlencode()


def first_page_url(params: Any) -> str | None:
    """Back to the first page with the same filters; None when already there."""
    if "cursor" not in params:
        return None
    params = params.copy()
    del params["cursor"]
    return "?" + params.urlencode()
