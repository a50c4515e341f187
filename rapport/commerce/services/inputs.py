"""What commerce writes take: products, orders with their lines, shipments."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass
class ProductInput:
    """Writable product fields; None on update means "leave as it is"."""

    sku: str | None = None
    name: str | None = None
    description: str | None = None
    category: str | None = None
    price: Any = None
    currency: str | None = None
    active: bool | None = None


@dataclass
class LineInput:
    """One order line. `unit_price` defaults to the product's price (same currency only);
    `sku`/`name` default to the product's (found by `product_id` or by `sku`)."""

    quantity: Any = 1
    unit_price: Any = None
    sku: str = ""
    name: str = ""
    product_id: int | None = None


@dataclass
class OrderInput:
    """Writable order fields. On create, None takes the default; on update, None leaves the
    field as it is, and `lines` (when given) replaces every line.

    `total` is optional: it is computed as lines + tax + shipping, and when given it must
    match to the cent. An order without lines (header-only imports) keeps the given total.
    """

    lines: list[LineInput] | None = None
    currency: str | None = None
    status: str | None = None
    channel: str | None = None
    ordered_at: dt.datetime | None = None
    number: str | None = None
    external_id: str | None = None
    tax: Any = None
    shipping: Any = None
    total: Any = None
    owner_id: int | None = None
    team_id: int | None = None


@dataclass
class ShipmentInput:
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    status: str | None = None
    shipped_at: dt.datetime | None = None
    expected_delivery: dt.date | None = None
    location: str = ""
    owner_id: int | None = None
    team_id: int | None = None
