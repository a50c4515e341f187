"""What commerce holds about a person: their orders (with lines) and shipments (with
tracking scans). Erasure keeps them, linked to the anonymous record, for revenue; only
free text that may quote the person (a scan's location or note) is blanked."""

from __future__ import annotations

from typing import Any

from rapport.commerce.models import ORDER_VALUE_FIELDS, Order, OrderLine, Shipment, ShipmentEvent
from rapport.core import registry
from rapport.core.gdpr import ErasureContext, sweep


def export(*, customer_id: int) -> dict[str, Any]:
    orders: list[dict[str, Any]] = [
        dict(o)
        for o in Order.objects.filter(customer_id=customer_id)
        .order_by("ordered_at", "id")
        .values("id", "number", "external_id", *ORDER_VALUE_FIELDS)
    ]
    lines: dict[int, list[dict[str, Any]]] = {}
    for line in (
        OrderLine.objects.filter(order__customer_id=customer_id)
        .order_by("id")
        .values("order_id", "sku", "name", "quantity", "unit_price")
    ):
        row: dict[str, Any] = dict(line)
        lines.setdefault(int(row.pop("order_id")), []).append(row)
    for order in orders:
        order["lines"] = lines.get(order["id"], [])
    shipments: list[dict[str, Any]] = [
        dict(s)
        for s in Shipment.objects.filter(customer_id=customer_id)
        .order_by("id")
        .values(
            "id",
            "order_id",
            "carrier",
            "tracking_number",
            "tracking_url",
            "status",
            "shipped_at",
            "expected_delivery",
            "delivered_at",
        )
    ]
    scans: dict[int, list[dict[str, Any]]] = {}
    for scan in (
        ShipmentEvent.objects.filter(shipment__customer_id=customer_id)
        .order_by("occurred_at", "id")
        .values("shipment_id", "status", "occurred_at", "location", "description")
    ):
        event: dict[str, Any] = dict(scan)
        scans.setdefault(int(event.pop("shipment_id")), []).append(event)
    for shipment in shipments:
        shipment["events"] = scans.get(shipment["id"], [])
    return {"orders": orders, "shipments": shipments}


def erase(*, ctx: ErasureContext) -> int:
    scans = ShipmentEvent.objects.filter(shipment__customer_id=ctx.customer_id)
    return sweep(scans, ctx, text_fields=["location", "description"])


def register() -> None:
    registry.add_gdpr_contributor(
        registry.GdprContributor(
            key="commerce", label="Orders and shipments", erase=erase, export=export, order=20
        )
    )
