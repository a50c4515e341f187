"""Keyset (cursor) pagination: constant cost per page however deep, for UI lists and API.

A cursor encodes the sort values of the last row seen plus its primary key (the
tie-breaker), so the next page is `WHERE (sort, id) > (last_sort, last_id)`, which an
index on (sort, id) answers without counting or skipping rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import ValidationError
from django.db import models

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


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "dt" in value:
            return dt.datetime.fromisoformat(value["dt"])
        if "d" in value:
            return dt.date.fromisoformat(value["d"])
        if "dec" in value:
            return decimal.Decimal(value["dec"])
    return value


def encode_cursor(sort: str, values: list[Any]) -> str:
    raw = json.dumps({"s": sort, "v": [_encode_value(v) for v in values]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["s"] != sort or not isinstance(data["v"], list):
            raise ValueError
        return [_decode_value(v) for v in data["v"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError(
            {"cursor": "This cursor is invalid or belongs to another sort."}
        ) from exc


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
        raise ValidationError({"cursor": "This cursor is invalid."})
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
        if field == pk:
            queryset = queryset.filter(**{f"pk__{lookup}": values[-1]})
        else:
            if len(values) != 2:
                raise ValidationError({"cursor": "This cursor is invalid."})
            last_value, last_pk = values
            if not nullable:
                queryset = queryset.filter(
                    models.Q(**{f"{field}__{lookup}": last_value})
                    | models.Q(**{field: last_value, f"pk__{lookup}": last_pk})
                )
            elif last_value is None:
                # Nulls sort last in both directions here: only later nulls remain.
                queryset = queryset.filter(**{f"{field}__isnull": True, f"pk__{lookup}": last_pk})
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
