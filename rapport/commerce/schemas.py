"""The public shape of commerce data: what the API returns and what events carry.

Amounts are Decimal, serialised as strings ("19.90") so no client parses them as floats.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Schema


class ProductOut(Schema):
    id: int
    sku: str
    name: str
    description: str
    category: str
    price: Decimal
    currency: str
    active: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class OrderLineOut(Schema):
    id: int
    position: int
    product_id: int | None
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


class OrderOut(Schema):
    id: int
    customer_id: int
    external_id: str | None
    number: str
    status: str
    channel: str
    currency: str
    subtotal: Decimal
    tax: Decimal
    shipping: Decimal
    total: Decimal
    ordered_at: dt.datetime
    status_changed_at: dt.datetime
    lines: list[OrderLineOut]
    owner_id: int | None
    team_id: int | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_lines(obj: Any) -> list[Any]:
        return list(obj.lines.all())


class ShipmentEventOut(Schema):
    id: int
    status: str
    occurred_at: dt.datetime
    location: str
    description: str


class ShipmentOut(Schema):
    id: int
    order_id: int
    customer_id: int
    carrier: str
    tracking_number: str
    tracking_url: str
    status: str
    shipped_at: dt.datetime | None
    expected_delivery: dt.date | None
    delivered_at: dt.datetime | None
    owner_id: int | None
    team_id: int | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class ShipmentDetailOut(ShipmentOut):
    events: list[ShipmentEventOut]

    @staticmethod
    def resolve_events(obj: Any) -> list[Any]:
        return list(obj.events.all())


def product_payload(product: Any) -> dict[str, Any]:
    return ProductOut.from_orm(product).model_dump(mode="json")


def order_payload(order: Any) -> dict[str, Any]:
    """The order with its lines as the API returns it (prefetch `lines` to spare a query)."""
    return OrderOut.from_orm(order).model_dump(mode="json")


def shipment_payload(shipment: Any) -> dict[str, Any]:
    return ShipmentOut.from_orm(shipment).model_dump(mode="json")
