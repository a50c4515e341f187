"""Orders as an export: the orders import's own columns (one row per order line), so that
an exported file re-imports as "unchanged". Called by dataquality's export through
`core.registry.ImportTarget.export_rows`, which keeps dataquality from importing commerce.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet

from rapport.commerce.columns import ORDER_FIELDS
from rapport.commerce.models import Order, OrderLine
from rapport.commerce.selectors import OrderFilters, order_list
from rapport.core.permissions import can

BATCH = 2000
HEADER = list(ORDER_FIELDS)
FILTERS = tuple(
    f.name for f in dataclasses.fields(OrderFilters) if f.name not in ("customer_id", "q")
)


def _filters(raw: Mapping[str, Any]) -> OrderFilters:
    """The export's `--filter` values as the order list's filters; a bad name or value is a
    ValidationError that says which."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in FILTERS:
            raise ValidationError(f"Unknown filter {key!r}; use one of: {', '.join(FILTERS)}.")
        text = str(value).strip()
        if not text:
            continue
        if key in ("ordered_from", "ordered_to"):
            try:
                values[key] = dt.date.fromisoformat(text)
            except ValueError:
                raise ValidationError(f"{key}: {text!r} is not a date (YYYY-MM-DD).") from None
        else:
            values[key] = text
    return OrderFilters(**values)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _rows(queryset: QuerySet[Order]) -> Iterator[list[Any]]:
    """Every order in keyset batches by id, its lines fetched per batch (two queries per
    2,000 orders); an order without lines is one row with empty line columns."""
    last_id = 0
    qs = queryset.order_by("id").values_list(
        "id", "external_id", "customer__external_id", "ordered_at", "total", "currency",
        "status", "channel",
    )  # fmt: skip
    while batch := list(qs.filter(id__gt=last_id)[:BATCH]):
        last_id = batch[-1][0]
        lines: dict[int, list[tuple[str, int | None, Decimal | None]]] = {}
        for order_id, sku, quantity, unit_price in (
            OrderLine.objects.filter(order_id__in=[row[0] for row in batch])
            .order_by("order_id", "position", "id")
            .values_list("order_id", "sku", "quantity", "unit_price")
        ):
            lines.setdefault(order_id, []).append((sku, quantity, unit_price))
        for order_id, *order in batch:
            for line in lines.get(order_id) or [("", None, None)]:
                yield [_cell(v) for v in (*order, *line)]


def export_rows(*, actor: Any, filters: Mapping[str, Any]) -> tuple[list[str], Iterator[list[Any]]]:
    """The orders `actor` may export, narrowed by `filters`, as the import's columns."""
    if not can(actor, "export", Order):
        raise PermissionDenied("Your role does not allow exporting orders.")
    queryset = order_list(actor=actor, filters=_filters(filters), action="export")
    return HEADER, _rows(queryset)
