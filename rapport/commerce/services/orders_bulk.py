"""Orders in bulk (imports, integrations): validate rows, upsert them in batches."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.commerce.models import (
    ORDER_VALUE_FIELDS,
    Order,
    OrderChannel,
    OrderLine,
    OrderStatus,
    Product,
)
from rapport.commerce.money import ZERO
from rapport.commerce.schemas import order_payload
from rapport.commerce.services.checks import BATCH_SIZE, ORDER_TYPE, TIMELINE_CHANNEL
from rapport.commerce.services.inputs import LineInput, OrderInput
from rapport.commerce.services.order_rules import (
    _audited_order,
    _CleanLine,
    _order_label,
    _order_summary,
    _order_values,
    _products_for,
    _timeline_data,
    _with_lines,
)
from rapport.core import audit, outbox
from rapport.core.models import AuditAction, OutboxEvent
from rapport.core.permissions import can
from rapport.customers import selectors as customer_selectors
from rapport.customers.models import Channel, InteractionKind
from rapport.customers.services import TimelineEntry, timeline_append_many


@dataclass
class OrderRow:
    """One order for `orders_bulk_upsert`, already parsed by the caller.

    `customer_id` is resolved (e.g. from customer_external_id) by the caller; `row` is the
    caller's row number, echoed back in errors. Amounts may be Decimal, int or str (never
    float); `lines` may be empty for header-only orders (then `total` is required).
    """

    external_id: str
    customer_id: int
    ordered_at: dt.datetime
    currency: str
    lines: list[LineInput] = field(default_factory=list)
    status: str = OrderStatus.PENDING
    channel: str = OrderChannel.WEB
    number: str = ""
    tax: Any = ZERO
    shipping: Any = ZERO
    total: Any = None
    row: int | None = None


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    order_ids: dict[str, int] = field(default_factory=dict)  # external_id -> order id


def validate_order_row(
    row: OrderRow,
    products_by_id: dict[int, Product] | None = None,
    products_by_sku: dict[str, Product] | None = None,
) -> tuple[dict[str, Any], list[_CleanLine]]:
    """Check one row with the same rules as `order_create` (for an import's dry run).

    Returns the clean values and lines, or raises ValidationError keyed by field.
    Product look-ups hit the database unless the caller passes them (batched)."""
    data = OrderInput(
        lines=row.lines,
        currency=row.currency,
        status=row.status,
        channel=row.channel,
        ordered_at=row.ordered_at,
        number=row.number,
        external_id=row.external_id,
        tax=row.tax,
        shipping=row.shipping,
        total=row.total,
    )
    if products_by_id is None or products_by_sku is None:
        products_by_id, products_by_sku = _products_for(row.lines)
    if not (row.external_id or "").strip():
        raise ValidationError({"external_id": "Every order row needs an external_id."})
    values, lines = _order_values(
        data, current=None, products_by_id=products_by_id, products_by_sku=products_by_sku
    )
    return values, lines or []


def _row_errors(index: int, row: OrderRow, exc: ValidationError | PermissionDenied) -> list[dict]:
    number = row.row if row.row is not None else index
    if isinstance(exc, PermissionDenied):
        return [{"row": number, "field": "customer", "message": str(exc)}]
    if hasattr(exc, "error_dict"):
        return [
            {"row": number, "field": name, "message": str(message)}
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    return [{"row": number, "field": "", "message": str(m)} for m in exc.messages]


@transaction.atomic
def orders_bulk_upsert(
    *, actor: Any, rows: Sequence[OrderRow], batch_size: int = BATCH_SIZE, write: bool = True
) -> BulkResult:
    """Create or update many orders by external_id in one transaction, with a constant
    number of queries per batch of `batch_size` rows.

    Contract (for import and integrations):
    - `rows` are OrderRow objects, one per order (lines grouped by the caller), parsed but
      checked again here with the `order_create` rules (`validate_order_row`).
    - Access: the actor needs `create` on commerce.order for new orders and `edit` on each
      existing one, and must see each row's customer. A row failing any check is skipped
      and reported in `BulkResult.errors` as {"row", "field", "message"} (`row` is
      `OrderRow.row` or the index); every other row is written. Nothing is half-written:
      a row's order, lines, audit row, events and timeline entry go in together.
    - Idempotent: an external_id seen before updates that order (its lines are replaced);
      a row identical to the stored order is counted `unchanged` and writes nothing. The
      same external_id twice in one call is an error on the second row.
    - New orders belong to their customer's owner and team; updates keep owner and team.
      An existing order may not move to another customer.
    - Per order: one audit row (`create`/`update`), one `order.created`/`order.updated`
      event (and `order.status_changed` when the status changes), and one timeline entry
      (kind `order`) with its `interaction.created` event for each new order and each
      status change. Status changes are taken as the source system states them (no
      transition rules).
    - Run it inside a background task for large files; call it per chunk (e.g. 1,000
      rows) so each chunk commits on its own.
    - `write=False` compares only (an import's dry run, decision 0780): the same checks
      and the same "unchanged" rule, counted as created / updated / unchanged with the
      same errors, and nothing written or locked.
    """
    result = BulkResult()
    if not rows:
        return result
    may_create = can(actor, "create", Order)
    for chunk_start, chunk in _enumerate_chunks(rows, batch_size):
        _bulk_upsert_batch(actor, chunk, chunk_start, may_create, result, write=write)
    return result


def _enumerate_chunks(
    rows: Sequence[OrderRow], size: int
) -> Iterable[tuple[int, Sequence[OrderRow]]]:
    for start in range(0, len(rows), size):
        yield start, rows[start : start + size]


def _bulk_upsert_batch(
    actor: Any,
    rows: Sequence[OrderRow],
    offset: int,
    may_create: bool,
    result: BulkResult,
    *,
    write: bool = True,
) -> None:
    all_lines = [ln for row in rows for ln in row.lines]
    by_id, by_sku = _products_for(all_lines)
    customer_ids = {row.customer_id for row in rows}
    visible_customers = {
        c.pk: c
        for c in customer_selectors.customer_list(actor=actor)
        .filter(pk__in=customer_ids)
        .only("id", "owner_id", "team_id", "display_name")
    }
    external_ids = [row.external_id.strip() for row in rows if row.external_id]
    stored = Order.objects.select_for_update() if write else Order.objects.all()
    existing = {o.external_id: o for o in stored.filter(external_id__in=external_ids)}
    existing_lines: dict[int, list[OrderLine]] = defaultdict(list)
    for line in OrderLine.objects.filter(order__in=[o.pk for o in existing.values()]):
        existing_lines[line.order_id].append(line)

    seen: set[str] = set()
    to_create: list[tuple[Order, list[_CleanLine]]] = []
    to_update: list[tuple[Order, list[_CleanLine], dict[str, Any], str]] = []
    for i, row in enumerate(rows):
        index = offset + i
        try:
            values, lines = validate_order_row(row, by_id, by_sku)
            ext = values["external_id"]
            if ext in seen:
                raise ValidationError(
                    {"external_id": f"Order {ext!r} appears twice in this batch."}
                )
            seen.add(ext)
            customer = visible_customers.get(row.customer_id)
            if customer is None:
                raise ValidationError(
                    {"customer": f"No customer #{row.customer_id} that you may see."}
                )
            current = existing.get(ext)
            if current is None:
                if not may_create:
                    raise PermissionDenied("You may not create orders.")
                order = Order(
                    **values,
                    customer_id=customer.pk,
                    owner_id=customer.owner_id or actor.pk,
                    team_id=customer.team_id,
                    status_changed_at=timezone.now(),
                )
                if not order.number:
                    order.number = ext
                to_create.append((order, lines))
                continue
            if not can(actor, "edit", current):
                raise PermissionDenied("You may not edit this order.")
            if current.customer_id != customer.pk:
                raise ValidationError({"customer": f"Order {ext!r} belongs to another customer."})
            before = _audited_order(current, existing_lines[current.pk])
            previous_status = current.status
            if not values.get("number"):
                values["number"] = current.number
            for name, value in values.items():
                setattr(current, name, value)
            changes = audit.diff(before, _audited_order(current, lines))
            if not changes:
                result.unchanged += 1
                result.order_ids[ext] = current.pk
                continue
            if current.status != previous_status:
                current.status_changed_at = timezone.now()
            to_update.append((current, lines, changes, previous_status))
        except (ValidationError, PermissionDenied) as exc:
            result.errors.extend(_row_errors(index, row, exc))

    if not write:  # compare only: what the writes below would be, counted
        result.created += len(to_create)
        result.updated += len(to_update)
        return

    audit_rows = []
    events: list[OutboxEvent] = []
    status_entries: list[TimelineEntry] = []
    now = timezone.now()

    if to_create:
        created = Order.objects.bulk_create([o for o, _ in to_create], batch_size=BATCH_SIZE)
        line_rows = []
        for order, lines in zip(created, (ln for _, ln in to_create), strict=True):
            for ln in lines:
                line_rows.append(
                    OrderLine(
                        order=order,
                        position=ln.position,
                        product_id=ln.product_id,
                        sku=ln.sku,
                        name=ln.name,
                        quantity=ln.quantity,
                        unit_price=ln.unit_price,
                        line_total=ln.line_total,
                    )
                )
        saved_lines = OrderLine.objects.bulk_create(line_rows, batch_size=BATCH_SIZE)
        lines_by_order: dict[int, list[OrderLine]] = defaultdict(list)
        for line in saved_lines:
            lines_by_order[line.order_id].append(line)
        entries = []
        for order in created:
            order.version = 1
            order.created_at = order.updated_at = now
            _with_lines(order, lines_by_order[order.pk])
            snapshot = _audited_order(order, lines_by_order[order.pk])
            audit_rows.append(
                audit.entry(
                    actor=actor,
                    action=AuditAction.CREATE,
                    object_type=ORDER_TYPE,
                    object_id=order.pk,
                    object_repr=str(order),
                    changes={k: [None, v] for k, v in snapshot.items() if v not in (None, "", [])},
                )
            )
            events.append(outbox.build("order.created", order_payload(order), aggregate=order))
            entries.append(
                TimelineEntry(
                    customer_id=order.customer_id,
                    kind=InteractionKind.ORDER,
                    channel=TIMELINE_CHANNEL.get(order.channel, Channel.SYSTEM),
                    occurred_at=order.ordered_at,
                    summary=_order_summary(order, lines_by_order[order.pk]),
                    source_type=ORDER_TYPE,
                    source_id=str(order.pk),
                    data=_timeline_data(order),
                )
            )
            result.order_ids[order.external_id or ""] = order.pk
        # The orders' events go out before their timeline entries' (the outbox's order).
        events = _emitted(events)
        timeline_append_many(actor=actor, entries=entries)
        result.created += len(created)

    if to_update:
        orders = [o for o, _, _, _ in to_update]
        for order in orders:
            order.version = order.version + 1
            order.updated_at = now
        Order.objects.bulk_update(
            orders,
            [
                "number",
                *ORDER_VALUE_FIELDS,
                "status_changed_at",
                "version",
                "updated_at",
            ],
            batch_size=BATCH_SIZE,
        )
        OrderLine.objects.filter(order__in=[o.pk for o in orders]).delete()
        new_lines = []
        for order, lines, _, _ in to_update:
            for ln in lines:
                new_lines.append(
                    OrderLine(
                        order=order,
                        position=ln.position,
                        product_id=ln.product_id,
                        sku=ln.sku,
                        name=ln.name,
                        quantity=ln.quantity,
                        unit_price=ln.unit_price,
                        line_total=ln.line_total,
                    )
                )
        saved = OrderLine.objects.bulk_create(new_lines, batch_size=BATCH_SIZE)
        updated_lines: dict[int, list[OrderLine]] = defaultdict(list)
        for line in saved:
            updated_lines[line.order_id].append(line)
        for order, _, changes, previous_status in to_update:
            _with_lines(order, updated_lines[order.pk])
            audit_rows.append(
                audit.entry(
                    actor=actor,
                    action=AuditAction.UPDATE,
                    object_type=ORDER_TYPE,
                    object_id=order.pk,
                    object_repr=str(order),
                    changes=changes,
                )
            )
            payload = order_payload(order)
            events.append(
                outbox.build(
                    "order.updated",
                    {**payload, "changed_fields": sorted(changes)},
                    aggregate=order,
                )
            )
            if order.status != previous_status:
                events.append(
                    outbox.build(
                        "order.status_changed",
                        {**payload, "previous_status": previous_status},
                        aggregate=order,
                    )
                )
                status_entries.append(
                    TimelineEntry(
                        customer_id=order.customer_id,
                        kind=InteractionKind.ORDER,
                        channel=TIMELINE_CHANNEL.get(order.channel, Channel.SYSTEM),
                        occurred_at=now,
                        summary=f"Order {_order_label(order)} "
                        f"{OrderStatus(order.status).label.lower()}",
                        source_type=ORDER_TYPE,
                        source_id=str(order.pk),
                        data={**_timeline_data(order), "previous_status": previous_status},
                    )
                )
            result.order_ids[order.external_id or ""] = order.pk
        result.updated += len(orders)

    if status_entries:
        events = _emitted(events)
        timeline_append_many(actor=actor, entries=status_entries)
    if audit_rows:
        type(audit_rows[0]).objects.bulk_create(audit_rows, batch_size=BATCH_SIZE)
    if events:
        outbox.emit_many(events)


def _emitted(events: list[OutboxEvent]) -> list[OutboxEvent]:
    """Emit the events built so far; returns the (empty) list to build the next ones in."""
    if events:
        outbox.emit_many(events)
    return []
