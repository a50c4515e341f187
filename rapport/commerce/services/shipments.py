"""Shipments of an order and their tracking scans, which move the order's status."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.commerce.models import Order, OrderStatus, Shipment, ShipmentEvent, ShipmentStatus
from rapport.commerce.schemas import order_payload, shipment_payload
from rapport.commerce.services.checks import (
    ORDER_TRANSITIONS,
    SHIPMENT_TYPE,
    _add,
    _aware,
    _choice,
    _raise,
    _text,
    check_assignment,
)
from rapport.commerce.services.inputs import ShipmentInput
from rapport.commerce.services.order_rules import _order_label
from rapport.commerce.services.orders import _record_status_change
from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.core.permissions import can, require
from rapport.core.versioning import bump_version, lock_for_change
from rapport.customers import services as customer_services
from rapport.customers.models import Channel, InteractionKind


def _shipment_summary(shipment: Shipment, order: Order, location: str = "") -> str:
    label = ShipmentStatus(shipment.status).label.lower()
    text = f"Shipment of order {_order_label(order)} {label}"
    if shipment.carrier:
        text += f" ({shipment.carrier}"
        text += f" {shipment.tracking_number})" if shipment.tracking_number else ")"
    if location:
        text += f" — {location}"
    if shipment.status not in ("delivered", "returned") and shipment.expected_delivery:
        text += f", expected {shipment.expected_delivery:%d %b %Y}"
    return text


def _shipment_timeline(actor: Any, shipment: Shipment, order: Order, location: str) -> None:
    customer_services.interaction_record(
        actor=actor,
        customer=shipment.customer,
        kind=InteractionKind.SHIPMENT,
        summary=_shipment_summary(shipment, order, location),
        channel=Channel.SYSTEM,
        source=shipment,
        data={
            "shipment_id": shipment.pk,
            "order_id": order.pk,
            "status": shipment.status,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "expected_delivery": (
                shipment.expected_delivery.isoformat() if shipment.expected_delivery else None
            ),
            "location": location,
        },
    )


def _stamp_dates(shipment: Shipment, when: dt.datetime) -> None:
    if shipment.status in ("in_transit", "out_for_delivery", "delivered"):
        shipment.shipped_at = shipment.shipped_at or when
    if shipment.status == ShipmentStatus.DELIVERED:
        shipment.delivered_at = shipment.delivered_at or when


def _sync_order_status(actor: Any, order: Order) -> None:
    """An order follows its shipments: shipped once one leaves, delivered when all arrive.

    The shipment's own timeline entry tells the story, so no second entry is written."""
    statuses = list(order.shipments.values_list("status", flat=True))
    target = None
    if statuses and all(s == ShipmentStatus.DELIVERED for s in statuses):
        target = OrderStatus.DELIVERED
    elif any(s in ("in_transit", "out_for_delivery", "delivered") for s in statuses):
        target = OrderStatus.SHIPPED
    if target is None or target == order.status:
        return
    if target not in ORDER_TRANSITIONS.get(order.status, set()):
        return
    previous = order.status
    order.status = target
    order.status_changed_at = timezone.now()
    bump_version(order)
    order.save(update_fields=["status", "status_changed_at", "version", "updated_at"])
    order.refresh_from_db()
    audit.record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=order,
        changes={"status": [previous, target]},
    )
    outbox.emit(
        "order.updated", {**order_payload(order), "changed_fields": ["status"]}, aggregate=order
    )
    _record_status_change(actor=actor, order=order, previous=previous, timeline=False)


@transaction.atomic
def shipment_create(*, actor: Any, order: Order, data: ShipmentInput) -> Shipment:
    """Ship (part of) an order: carrier, tracking number, expected delivery.

    Refused unless the actor may create shipments and may see the order. Writes the first
    tracking event, the audit row, `shipment.created` and a timeline entry (kind
    `shipment`), and moves the order to shipped when the parcel is already on its way.
    """
    require(actor, "create", Shipment)
    if not can(actor, "view", order):
        raise PermissionDenied("You may not see this order, so you may not ship it.")
    order = Order.objects.select_related("customer").get(pk=order.pk)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    try:
        values["carrier"] = _text(data.carrier, 100) or _raise("Name the carrier.")
    except ValidationError as exc:
        _add(errors, "carrier", exc)
    for name, limit in (("tracking_number", 100), ("tracking_url", 500)):
        try:
            values[name] = _text(getattr(data, name), limit)
        except ValidationError as exc:
            _add(errors, name, exc)
    if values.get("tracking_url") and not values["tracking_url"].startswith(
        ("https://", "http://")
    ):
        _add(errors, "tracking_url", "The tracking link must start with https:// or http://.")
    try:
        values["status"] = _choice(
            data.status or ShipmentStatus.PENDING, ShipmentStatus, "shipment status"
        )
    except ValidationError as exc:
        _add(errors, "status", exc)
    try:
        location = _text(data.location, 200)
    except ValidationError as exc:
        _add(errors, "location", exc)
        location = ""
    if errors:
        raise ValidationError(errors)
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor,
            object_type=SHIPMENT_TYPE,
            owner_id=data.owner_id,
            team_id=data.team_id,
            current=order,
        )
    now = timezone.now()
    shipment = Shipment(
        **values,
        order=order,
        customer=order.customer,
        shipped_at=_aware(data.shipped_at, "shipped_at") if data.shipped_at else None,
        expected_delivery=data.expected_delivery,
        owner_id=data.owner_id if data.owner_id is not None else order.owner_id,
        team_id=data.team_id if data.team_id is not None else order.team_id,
    )
    _stamp_dates(shipment, now)
    shipment.save(force_insert=True)
    ShipmentEvent.objects.create(
        shipment=shipment,
        status=shipment.status,
        occurred_at=shipment.shipped_at or now,
        location=location,
        description="Shipment created",
    )
    audit.record_created(actor=actor, obj=shipment)
    outbox.emit("shipment.created", shipment_payload(shipment), aggregate=shipment)
    _shipment_timeline(actor, shipment, order, location)
    _sync_order_status(actor, order)
    return shipment


@transaction.atomic
def shipment_update_status(
    *,
    actor: Any,
    shipment: Shipment,
    status: str,
    occurred_at: dt.datetime | None = None,
    location: str = "",
    description: str = "",
    expected_delivery: dt.date | None = None,
    expected_version: int | None = None,
) -> Shipment:
    """Record a tracking update. Every call adds a ShipmentEvent (a carrier's scan); a
    change of status also writes the audit row, `shipment.status_changed` (and
    `shipment.delivered`), a timeline entry (kind `shipment`) and syncs the order status.
    A repeated scan with the same status is kept as an event only."""
    require(actor, "edit", shipment)
    shipment = lock_for_change(shipment, expected_version=expected_version)
    errors: dict[str, list[str]] = {}
    try:
        _choice(status, ShipmentStatus, "shipment status")
    except ValidationError as exc:
        _add(errors, "status", exc)
    try:
        location = _text(location, 200)
    except ValidationError as exc:
        _add(errors, "location", exc)
    try:
        description = _text(description, 500)
    except ValidationError as exc:
        _add(errors, "description", exc)
    if errors:
        raise ValidationError(errors)
    when = _aware(occurred_at, "occurred_at") if occurred_at else timezone.now()
    ShipmentEvent.objects.create(
        shipment=shipment,
        status=status,
        occurred_at=when,
        location=location,
        description=description,
    )
    changed = status != shipment.status or (
        expected_delivery is not None and expected_delivery != shipment.expected_delivery
    )
    if not changed:
        return shipment
    before = audit.snapshot(shipment)
    previous = shipment.status
    shipment.status = status
    if expected_delivery is not None:
        shipment.expected_delivery = expected_delivery
    _stamp_dates(shipment, when)
    bump_version(shipment)
    shipment.save()
    shipment = Shipment.objects.select_related("order", "customer").get(pk=shipment.pk)
    changes = audit.diff(before, audit.snapshot(shipment))
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=shipment, changes=changes)
    payload = {**shipment_payload(shipment), "previous_status": previous, "location": location}
    outbox.emit(
        "shipment.updated", {**payload, "changed_fields": sorted(changes)}, aggregate=shipment
    )
    if status != previous:
        outbox.emit("shipment.status_changed", payload, aggregate=shipment)
        if status == ShipmentStatus.DELIVERED:
            outbox.emit("shipment.delivered", payload, aggregate=shipment)
        _shipment_timeline(actor, shipment, shipment.order, location)
        _sync_order_status(actor, shipment.order)
    return shipment


@transaction.atomic
def shipment_update(
    *, actor: Any, shipment: Shipment, data: ShipmentInput, expected_version: int | None = None
) -> Shipment:
    """Correct the carrier, tracking number/link or expected delivery (status changes go
    through `shipment_update_status`, which keeps the tracking history)."""
    require(actor, "edit", shipment)
    shipment = lock_for_change(shipment, expected_version=expected_version)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name, limit in (("carrier", 100), ("tracking_number", 100), ("tracking_url", 500)):
        raw = getattr(data, name)
        if raw is None:
            continue
        try:
            values[name] = _text(raw, limit)
        except ValidationError as exc:
            _add(errors, name, exc)
    if "carrier" in values and not values["carrier"]:
        _add(errors, "carrier", "Name the carrier.")
    if values.get("tracking_url") and not values["tracking_url"].startswith(
        ("https://", "http://")
    ):
        _add(errors, "tracking_url", "The tracking link must start with https:// or http://.")
    if data.status is not None and data.status != shipment.status:
        _add(errors, "status", "Change the status with the status endpoint (it keeps history).")
    if errors:
        raise ValidationError(errors)
    if data.expected_delivery is not None:
        values["expected_delivery"] = data.expected_delivery
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor,
            object_type=SHIPMENT_TYPE,
            owner_id=data.owner_id,
            team_id=data.team_id,
            current=shipment,
        )
        if data.owner_id is not None:
            values["owner_id"] = data.owner_id
        if data.team_id is not None:
            values["team_id"] = data.team_id
    before = audit.snapshot(shipment)
    for name, value in values.items():
        setattr(shipment, name, value)
    changes = audit.diff(before, audit.snapshot(shipment))
    if not changes:
        return shipment
    bump_version(shipment)
    shipment.save()
    shipment.refresh_from_db()
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=shipment, changes=changes)
    outbox.emit(
        "shipment.updated",
        {**shipment_payload(shipment), "changed_fields": sorted(changes)},
        aggregate=shipment,
    )
    return shipment


@transaction.atomic
def shipment_delete(*, actor: Any, shipment: Shipment, expected_version: int | None = None) -> None:
    require(actor, "delete", shipment)
    shipment = lock_for_change(shipment, expected_version=expected_version)
    payload = shipment_payload(shipment)
    audit.record_deleted(actor=actor, obj=shipment, before=audit.snapshot(shipment))
    outbox.emit("shipment.deleted", payload, aggregate=shipment)
    shipment.delete()
