"""Orders import: one row per order line; consecutive rows sharing an order external_id
form one order. Parsing, validation and grouping live here; the write is the orders
target's `write_batch` (`core.registry.ImportTarget`, registered by commerce), so this
module never imports commerce."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pycountry
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from rapport.core import registry
from rapport.core.permissions import system_actor
from rapport.customers import normalize
from rapport.customers.models import Customer
from rapport.customers.selectors import follow_merges
from rapport.dataquality.importing import ImportResult, RowError
from rapport.dataquality.mapping import ResolvedMapping
from rapport.dataquality.models import ImportRowError, ImportRun

BATCH_ROWS = 2000


class OrdersUnavailable(RuntimeError):
    """No installed app writes orders (commerce registers the orders import target)."""


def to_record(order: OrderIn) -> dict[str, Any]:
    """Our parsed order as the record the target's `write_batch` takes: its fields, its
    lines grouped, `row` = its first file row."""
    return {
        "external_id": order.external_id,
        "customer_id": order.customer_id,
        "ordered_at": order.ordered_at,
        "currency": order.currency,
        "total": order.total,
        "status": order.status,
        "channel": order.channel,
        "row": order.rows[0],
        "lines": [
            {"quantity": line.quantity, "sku": line.sku, "unit_price": line.unit_price}
            for line in order.lines
        ],
    }


def _write_batch() -> Callable[..., Any]:
    try:
        write = registry.import_target("orders").write_batch
    except LookupError:
        write = None
    if write is None:
        raise OrdersUnavailable("Importing orders needs the commerce app, which is not installed.")
    return write


@dataclass
class OrderLineIn:
    row: int
    sku: str
    quantity: int
    unit_price: decimal.Decimal | None


@dataclass
class OrderIn:
    external_id: str
    customer_external_id: str
    ordered_at: dt.datetime
    total: decimal.Decimal
    currency: str
    status: str = ""
    channel: str = ""
    customer_id: int | None = None
    rows: list[int] = field(default_factory=list)
    raw: dict[int, list[str]] = field(default_factory=dict)
    lines: list[OrderLineIn] = field(default_factory=list)


def parse_datetime(text: str) -> dt.datetime:
    value = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        date = normalize.parse_date(value)  # raises a clear ValidationError
        assert date is not None
        parsed = dt.datetime.combine(date, dt.time())
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    return parsed


def parse_money(text: str, name: str) -> decimal.Decimal:
    try:
        value = decimal.Decimal(text.strip().replace(",", ""))
    except decimal.InvalidOperation as exc:
        raise ValidationError(f"{text!r} is not an amount (use 1234.50).") from exc
    if not value.is_finite() or value < 0:
        raise ValidationError(f"{text!r} is not an amount (use 1234.50).")
    return value.quantize(decimal.Decimal("0.01"))


def parse_currency(text: str) -> str:
    code = text.strip().upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValidationError(f"{text!r} is not an ISO 4217 currency code (e.g. EUR).")
    return code


class OrderImporter:
    def __init__(
        self,
        *,
        actor: Any,
        resolved: ResolvedMapping,
        dry_run: bool,
        run: ImportRun | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> None:
        self.actor = actor
        self.positions = resolved.positions
        self.dry_run = dry_run
        self.run = run
        self.on_progress = on_progress
        self.result = ImportResult()
        if run is not None:
            self.result.created, self.result.updated = run.created, run.updated
            self.result.unchanged = run.unchanged
            self.result.failed, self.result.rows = run.failed, run.rows_committed
        self.upsert = None if dry_run else _write_batch()

    def _parse(self, number: int, cells: list[str]) -> tuple[dict[str, Any], list[RowError]]:
        errors: list[RowError] = []
        values: dict[str, Any] = {}

        def cell(name: str) -> str:
            i = self.positions.get(name)
            return cells[i].strip() if i is not None and i < len(cells) else ""

        steps: dict[str, Callable[[str], Any]] = {
            "external_id": lambda t: normalize.clean_text(t, max_length=100),
            "customer_external_id": lambda t: normalize.clean_text(t, max_length=100),
            "ordered_at": parse_datetime,
            "total": lambda t: parse_money(t, "total"),
            "currency": parse_currency,
            "status": lambda t: normalize.clean_text(t, max_length=30).lower(),
            "channel": lambda t: normalize.clean_text(t, max_length=30).lower(),
            "sku": lambda t: normalize.clean_text(t, max_length=64),
            "quantity": _parse_quantity,
            "unit_price": lambda t: parse_money(t, "unit_price"),
        }
        for name, step in steps.items():
            text = cell(name)
            if not text:
                if name in (
                    "external_id",
                    "customer_external_id",
                    "ordered_at",
                    "total",
                    "currency",
                ):
                    errors.append(RowError(number, name, f"{name} is required."))
                continue
            try:
                values[name] = step(text)
            except ValidationError as exc:
                errors.append(RowError(number, name, " ".join(exc.messages)))
        return values, errors

    def execute(self, rows: Iterable[tuple[int, list[str]]]) -> ImportResult:
        skip = self.result.rows
        orders: dict[str, OrderIn] = {}
        failed: list[tuple[list[RowError], list[str]]] = []
        consumed = 0
        last_key = ""
        for index, (number, cells) in enumerate(rows):
            if index < skip:
                continue
            values, errors = self._parse(number, cells)
            key: str = values.get("external_id") or ""
            # Flush only between orders, so that one order's rows commit together.
            if consumed >= BATCH_ROWS and key != last_key:
                self._commit(orders, failed, consumed)
                orders, failed, consumed = {}, [], 0
            consumed += 1
            last_key = key
            if errors:
                failed.append((errors, cells))
                continue
            order = orders.get(key)
            if order is None:
                order = orders[key] = OrderIn(
                    external_id=key,
                    customer_external_id=values["customer_external_id"],
                    ordered_at=values["ordered_at"],
                    total=values["total"],
                    currency=values["currency"],
                    status=values.get("status", ""),
                    channel=values.get("channel", ""),
                )
            elif (order.customer_external_id, order.currency, order.total) != (
                values["customer_external_id"],
                values["currency"],
                values["total"],
            ):
                failed.append(
                    (
                        [
                            RowError(
                                number,
                                "external_id",
                                f"Order {key} has rows with different customer, currency or total.",
                            )
                        ],
                        cells,
                    )
                )
                continue
            order.rows.append(number)
            order.raw[number] = cells
            if values.get("sku"):
                order.lines.append(
                    OrderLineIn(
                        row=number,
                        sku=values["sku"],
                        quantity=values.get("quantity", 1),
                        unit_price=values.get("unit_price"),
                    )
                )
        if consumed:
            self._commit(orders, failed, consumed)
        return self.result

    def _commit(
        self,
        orders: dict[str, OrderIn],
        failed: list[tuple[list[RowError], list[str]]],
        consumed: int,
    ) -> None:
        errors = [e for errs, _ in failed for e in errs]
        raw = {errs[0].row: cells for errs, cells in failed}
        wanted = {o.customer_external_id for o in orders.values()}
        known = dict(
            Customer.objects.filter(external_id__in=wanted).values_list("external_id", "id")
        )
        # An order for a customer merged away goes to the record it was merged into.
        survivors = follow_merges(known.values())
        known = {ext: survivors[pk] for ext, pk in known.items()}
        ready: list[OrderIn] = []
        for order in orders.values():
            customer_id = known.get(order.customer_external_id)
            if customer_id is None:
                for n in order.rows:
                    errors.append(
                        RowError(
                            n,
                            "customer_external_id",
                            f"No customer has external_id {order.customer_external_id!r}.",
                        )
                    )
                    raw[n] = order.raw[n]
                continue
            order.customer_id = customer_id
            ready.append(order)
        created = updated = unchanged = 0
        if self.dry_run:
            created = len(ready)
        else:
            assert self.upsert is not None
            with transaction.atomic():
                if ready:
                    outcome = self.upsert(
                        actor=self.actor if self.actor is not None else system_actor(),
                        records=[to_record(o) for o in ready],
                    )
                    created = int(outcome.created)
                    updated = int(outcome.updated)
                    unchanged = int(getattr(outcome, "unchanged", 0))
                    by_first_row = {o.rows[0]: o for o in ready}
                    for err in outcome.errors:
                        failed_order = by_first_row.get(err.get("row"))
                        rows_of_order = (
                            failed_order.rows if failed_order is not None else [err.get("row")]
                        )
                        for n in rows_of_order:
                            if n is None:
                                continue
                            errors.append(RowError(n, err.get("field", ""), err["message"]))
                            if failed_order is not None:
                                raw[n] = failed_order.raw[n]
                if self.run is not None:
                    ImportRowError.objects.bulk_create(
                        [
                            ImportRowError(
                                run=self.run,
                                row=e.row,
                                field=e.field,
                                message=e.message,
                                values=raw.get(e.row, []),
                            )
                            for e in errors
                        ]
                    )
                    ImportRun.objects.filter(pk=self.run.pk).update(
                        rows_committed=F("rows_committed") + consumed,
                        created=F("created") + created,
                        updated=F("updated") + updated,
                        unchanged=F("unchanged") + unchanged,
                        failed=F("failed") + len(raw),
                    )
        self.result.created += created
        self.result.updated += updated
        self.result.unchanged += unchanged
        self.result.failed += len(raw)
        self.result.rows += consumed
        self.result.errors.extend(sorted(errors, key=lambda e: e.row))
        if self.on_progress is not None:
            self.on_progress(consumed)


def _parse_quantity(text: str) -> int:
    try:
        value = int(decimal.Decimal(text.strip()))
    except (decimal.InvalidOperation, ValueError) as exc:
        raise ValidationError(f"{text!r} is not a whole number.") from exc
    if value <= 0:
        raise ValidationError("The quantity must be at least 1.")
    return value
