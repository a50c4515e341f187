"""Create, update, move through statuses, upsert and delete one order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from rapport.commerce.models import Order, OrderStatus
from rapport.commerce.schemas import order_payload
from rapport.commerce.services.checks import (
    ORDER_TRANSITIONS,
    ORDER_TYPE,
    TIMELINE_CHANNEL,
    _default_team,
    _require_visible_customer,
    _text,
    check_assignment,
)
from rapport.commerce.services.inputs import OrderInput
from rapport.commerce.services.order_rules import (
    _audited_order,
    _order_label,
    _order_summary,
    _order_values,
    _products_for,
    _timeline_data,
    _with_lines,
    _write_lines,
)
from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.core.permissions import require
from rapport.core.versioning import bump_version, lock_for_change
from rapport.customers import services as customer_services
from rapport.customers.models import Channel, Customer, InteractionKind


@transaction.atomic
def order_create(*, actor: Any, customer: Customer, data: OrderInput) -> Order:
    """Record an order with its lines for `customer`.

    Refused when the actor may not create orders or may not see the customer. The order
    belongs to the customer's owner and team unless `data` assigns it (within the actor's
    rights). Writes the audit row, `order.created` and a timeline entry (kind `order`).
    """
    require(actor, "create", Order)
    _require_visible_customer(actor, customer)
    by_id, by_sku = _products_for(data.lines or [])
    values, lines = _order_values(data, current=None, products_by_id=by_id, products_by_sku=by_sku)
    if (
        values.get("external_id")
        and Order.objects.filter(external_id=values["external_id"]).exists()
    ):
        raise ValidationError(
            {"external_id": f"Another order already has external_id {values['external_id']!r}."}
        )
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor,
            object_type=ORDER_TYPE,
            owner_id=data.owner_id,
            team_id=data.team_id,
            current=None,
        )
    owner_id = data.owner_id if data.owner_id is not None else (customer.owner_id or actor.pk)
    team_id = data.team_id if data.team_id is not None else customer.team_id
    order = Order(
        **values,
        customer=customer,
        owner_id=owner_id,
        team_id=team_id if team_id is not None else _default_team(actor),
        status_changed_at=timezone.now(),
    )
    order.save(force_insert=True)
    if not order.number:
        order.number = f"R{order.pk:07d}"
        order.save(update_fields=["number"])
    saved_lines = _write_lines(order, lines or [])
    _with_lines(order, saved_lines)
    audit.record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=order,
        changes={
            k: [None, v]
            for k, v in _audited_order(order, saved_lines).items()
            if v not in (None, "", [])
        },
    )
    outbox.emit("order.created", order_payload(order), aggregate=order)
    customer_services.interaction_record(
        actor=actor,
        customer=customer,
        kind=InteractionKind.ORDER,
        summary=_order_summary(order, saved_lines),
        channel=TIMELINE_CHANNEL.get(order.channel, Channel.SYSTEM),
        occurred_at=order.ordered_at,
        source=order,
        data=_timeline_data(order),
    )
    return order


def _record_status_change(
    *, actor: Any, order: Order, previous: str, timeline: bool, reason: str = ""
) -> None:
    payload = {**order_payload(order), "previous_status": previous}
    outbox.emit("order.status_changed", payload, aggregate=order)
    if order.status == OrderStatus.CANCELLED:
        outbox.emit("order.cancelled", payload, aggregate=order)
    if timeline:
        label = OrderStatus(order.status).label.lower()
        summary = f"Order {_order_label(order)} {label}"
        if reason:
            summary += f": {reason}"
        customer_services.interaction_record(
            actor=actor,
            customer=order.customer,
            kind=InteractionKind.ORDER,
            summary=summary,
            channel=TIMELINE_CHANNEL.get(order.channel, Channel.SYSTEM),
            source=order,
            data={**_timeline_data(order), "previous_status": previous},
        )


def _apply_order_update(
    *, actor: Any, order: Order, data: OrderInput, timeline_on_status: bool = True
) -> tuple[Order, dict[str, Any]]:
    """Validate and write `data` on a locked order; returns it and the audited changes."""
    by_id, by_sku = _products_for(data.lines or [])
    values, lines = _order_values(data, current=order, products_by_id=by_id, products_by_sku=by_sku)
    if values.get("external_id") and (
        Order.objects.filter(external_id=values["external_id"]).exclude(pk=order.pk).exists()
    ):
        raise ValidationError(
            {"external_id": f"Another order already has external_id {values['external_id']!r}."}
        )
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor,
            object_type=ORDER_TYPE,
            owner_id=data.owner_id,
            team_id=data.team_id,
            current=order,
        )
        if data.owner_id is not None:
            values["owner_id"] = data.owner_id
        if data.team_id is not None:
            values["team_id"] = data.team_id
    old_lines = list(order.lines.all())
    before = _audited_order(order, old_lines)
    previous_status = order.status
    for name, value in values.items():
        setattr(order, name, value)
    preview: Sequence[Any] = lines if lines is not None else old_lines
    changes = audit.diff(before, _audited_order(order, preview))
    if not changes:
        return _with_lines(order, old_lines), {}
    if order.status != previous_status:
        order.status_changed_at = timezone.now()
    bump_version(order)
    order.save()
    order.refresh_from_db()
    if lines is not None:
        order.lines.all().delete()
        saved = _write_lines(order, lines)
    else:
        saved = old_lines
    _with_lines(order, saved)
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=order, changes=changes)
    outbox.emit(
        "order.updated",
        {**order_payload(order), "changed_fields": sorted(changes)},
        aggregate=order,
    )
    if order.status != previous_status:
        _record_status_change(
            actor=actor, order=order, previous=previous_status, timeline=timeline_on_status
        )
    return order, changes


@transaction.atomic
def order_update(
    *, actor: Any, order: Order, data: OrderInput, expected_version: int | None = None
) -> Order:
    """Change the fields `data` sets (lines, when given, replace all lines; totals are
    recomputed). Status changes here follow the same rules as `order_update_status`."""
    require(actor, "edit", order)
    order = lock_for_change(order, expected_version=expected_version)
    if data.status is not None and data.status != order.status:
        _check_transition(order.status, data.status)
    order, _ = _apply_order_update(actor=actor, order=order, data=data)
    return order


def order_next_statuses(current: str) -> list[str]:
    """The statuses an order in `current` may move to, in lifecycle order (paid before
    shipped before cancelled), so a form offers the likely next step first."""
    allowed = ORDER_TRANSITIONS.get(current, set())
    return [value for value in OrderStatus.values if value in allowed]


def _check_transition(current: str, target: str) -> None:
    if target not in OrderStatus.values:
        raise ValidationError(
            {"status": f"{target!r} is not a status; use one of: {', '.join(OrderStatus.values)}."}
        )
    if target not in ORDER_TRANSITIONS.get(current, set()):
        allowed = ", ".join(order_next_statuses(current)) or "none"
        raise ValidationError(
            {"status": f"A {current} order cannot become {target} (allowed: {allowed})."}
        )


@transaction.atomic
def order_update_status(
    *,
    actor: Any,
    order: Order,
    status: str,
    reason: str = "",
    expected_version: int | None = None,
) -> Order:
    """Move an order to `status` (paid, shipped, cancelled…), following ORDER_TRANSITIONS.

    Writes the audit row, `order.updated` + `order.status_changed` (+ `order.cancelled`)
    and a timeline entry on the customer.
    """
    require(actor, "edit", order)
    order = lock_for_change(order, expected_version=expected_version)
    if status == order.status:
        return order
    _check_transition(order.status, status)
    previous = order.status
    before = audit.snapshot(order)
    order.status = status
    order.status_changed_at = timezone.now()
    bump_version(order)
    order.save(update_fields=["status", "status_changed_at", "version", "updated_at"])
    order = Order.objects.select_related("customer").prefetch_related("lines").get(pk=order.pk)
    changes = audit.diff(before, audit.snapshot(order))
    if reason:
        changes["reason"] = [None, reason[:500]]
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=order, changes=changes)
    outbox.emit(
        "order.updated", {**order_payload(order), "changed_fields": ["status"]}, aggregate=order
    )
    _record_status_change(actor=actor, order=order, previous=previous, timeline=True, reason=reason)
    return order


@transaction.atomic
def order_upsert_by_external_id(
    *, actor: Any, customer: Customer, data: OrderInput
) -> tuple[Order, bool]:
    """Create the order `data.external_id` names, or bring the existing one up to date.

    Idempotent: sending the same order twice leaves one order, and a repeat with nothing
    changed writes nothing (no audit row, no event, no timeline entry). Returns
    (order, created). The existing order must belong to the same customer. Status changes
    from the source system are taken as they are (it is the authority on its orders).
    """
    external_id = _text(data.external_id, 100) if data.external_id else ""
    if not external_id:
        raise ValidationError({"external_id": "An upsert needs the order's external_id."})
    existing = Order.objects.select_for_update().filter(external_id=external_id).first()
    if existing is None:
        try:
            with transaction.atomic():
                return order_create(actor=actor, customer=customer, data=data), True
        except IntegrityError:
            # Someone created it between our read and our insert: update theirs instead.
            existing = Order.objects.select_for_update().get(external_id=external_id)
    require(actor, "edit", existing)
    if existing.customer_id != customer.pk:
        raise ValidationError(
            {
                "customer": f"Order {external_id!r} belongs to another customer "
                f"(#{existing.customer_id})."
            }
        )
    order, _ = _apply_order_update(actor=actor, order=existing, data=data)
    return order, False


@transaction.atomic
def order_delete(*, actor: Any, order: Order, expected_version: int | None = None) -> None:
    """Delete an order with its lines and shipments (an import mistake, a test order).

    Its timeline entries stay: they are the record that it happened."""
    require(actor, "delete", order)
    order = lock_for_change(order, expected_version=expected_version)
    lines = list(order.lines.all())
    payload = order_payload(_with_lines(order, lines))
    audit.record_deleted(actor=actor, obj=order, before=_audited_order(order, lines))
    outbox.emit("order.deleted", payload, aggregate=order)
    order.delete()
