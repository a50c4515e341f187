"""Commerce endpoints: products, orders (with lines) and shipments (with tracking).

Thin: parse, call one selector or service, shape the answer. Lists use keyset cursors;
detail answers carry an `ETag` ("<id>-<version>") and updates honour `If-Match`, so a
stale write is refused with 412 instead of silently overwriting.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from rapport.commerce import selectors, services
from rapport.commerce.models import Order, Product, Shipment
from rapport.commerce.money import normalize_currency
from rapport.commerce.schemas import (
    OrderOut,
    ProductOut,
    ShipmentDetailOut,
    ShipmentOut,
)
from rapport.core.api_fields import Id, Int32, Money
from rapport.core.api_helpers import if_match_version, set_etag
from rapport.core.permissions import require
from rapport.customers import selectors as customer_selectors

router = Router(tags=["commerce"])

PAGE_MAX = settings.API_PAGE_SIZE_MAX


# --- Schemas: only writable fields ----------------------------------------------------------


def _currency(value: str) -> str:
    try:
        return normalize_currency(value)
    except ValidationError as exc:
        # The message goes in as context, never as the template: it quotes client input.
        raise PydanticCustomError("currency", "{message}", {"message": exc.messages[0]}) from exc


# An ISO 4217 code, checked with the amounts so that one answer lists both problems.
Currency = Annotated[str, AfterValidator(_currency)]


class PageOut(Schema):
    next_cursor: str | None


class ProductPage(PageOut):
    items: list[ProductOut]


class OrderPage(PageOut):
    items: list[OrderOut]


class ShipmentPage(PageOut):
    items: list[ShipmentOut]


class ProductIn(Schema):
    sku: str
    name: str
    description: str = ""
    category: str = ""
    price: Money
    currency: Currency | None = None
    active: bool = True


class ProductPatch(Schema):
    sku: str | None = None
    name: str | None = None
    description: str | None = None
    category: str | None = None
    price: Money | None = None
    currency: Currency | None = None
    active: bool | None = None


class LineIn(Schema):
    product_id: Id | None = None
    sku: str = ""
    name: str = ""
    quantity: Int32 = 1
    unit_price: Money | None = None


class OrderIn(Schema):
    customer_id: Id
    lines: list[LineIn] = Field(default_factory=list)
    currency: Currency | None = None
    status: str | None = None
    channel: str | None = None
    ordered_at: dt.datetime | None = None
    number: str | None = None
    external_id: str | None = None
    tax: Money | None = None
    shipping: Money | None = None
    total: Money | None = None
    owner_id: Id | None = None
    team_id: Id | None = None


class OrderPatch(Schema):
    lines: list[LineIn] | None = None
    currency: Currency | None = None
    status: str | None = None
    channel: str | None = None
    ordered_at: dt.datetime | None = None
    number: str | None = None
    external_id: str | None = None
    tax: Money | None = None
    shipping: Money | None = None
    total: Money | None = None
    owner_id: Id | None = None
    team_id: Id | None = None


class OrderStatusIn(Schema):
    status: str
    reason: str = ""


class OrderDetailOut(OrderOut):
    shipments: list[ShipmentDetailOut]

    @staticmethod
    def resolve_shipments(obj: Any) -> list[Any]:
        return list(obj.shipments.all())


class ShipmentIn(Schema):
    order_id: Id
    carrier: str
    tracking_number: str = ""
    tracking_url: str = ""
    status: str | None = None
    shipped_at: dt.datetime | None = None
    expected_delivery: dt.date | None = None
    location: str = ""
    owner_id: Id | None = None
    team_id: Id | None = None


class ShipmentPatch(Schema):
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    expected_delivery: dt.date | None = None
    owner_id: Id | None = None
    team_id: Id | None = None


class ShipmentStatusIn(Schema):
    status: str
    occurred_at: dt.datetime | None = None
    location: str = ""
    description: str = ""
    expected_delivery: dt.date | None = None


def _lines(items: list[LineIn] | None) -> list[services.LineInput] | None:
    if items is None:
        return None
    return [services.LineInput(**item.model_dump()) for item in items]


def _order_input(payload: OrderIn | OrderPatch) -> services.OrderInput:
    data = payload.model_dump(exclude={"lines", "customer_id"})
    return services.OrderInput(**data, lines=_lines(payload.lines))


def _customer(actor: Any, customer_id: Id) -> Any:
    customer = customer_selectors.customer_list(actor=actor).filter(pk=customer_id).first()
    if customer is None:
        raise ValidationError({"customer_id": f"No customer #{customer_id} that you may see."})
    return customer


def _require_view(request: HttpRequest, model: type[Any]) -> None:
    """A list the key's scopes or the role do not cover is a 403, not an empty page."""
    actor: Any = request.user
    require(actor, "view", model)


# --- Products -----------------------------------------------------------------------------


@router.get("/products", response=ProductPage, summary="List products")
def list_products(
    request: HttpRequest,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=PAGE_MAX),
    q: str | None = None,
    category: str | None = None,
    active: bool | None = None,
    sort: str | None = Query(None, description="name, sku, price or id; '-' for descending"),
) -> Any:
    _require_view(request, Product)
    page = selectors.product_page(
        actor=request.user,
        q=q,
        category=category,
        active=active,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/products", response={201: ProductOut}, summary="Create a product")
def create_product(request: HttpRequest, payload: ProductIn) -> Any:
    product = services.product_create(
        actor=request.user, data=services.ProductInput(**payload.model_dump())
    )
    return Status(201, product)


@router.get("/products/{product_id}", response=ProductOut, summary="Get a product")
def get_product(request: HttpRequest, product_id: Id, response: HttpResponse) -> Any:
    product = selectors.product_detail(actor=request.user, pk=product_id)
    set_etag(response, product)
    return product


@router.patch("/products/{product_id}", response=ProductOut, summary="Update a product")
def update_product(
    request: HttpRequest, product_id: Id, payload: ProductPatch, response: HttpResponse
) -> Any:
    product = selectors.product_detail(actor=request.user, pk=product_id)
    product = services.product_update(
        actor=request.user,
        product=product,
        data=services.ProductInput(**payload.model_dump(exclude_unset=True)),
        expected_version=if_match_version(request, product),
    )
    set_etag(response, product)
    return product


@router.delete("/products/{product_id}", response={204: None}, summary="Delete a product")
def delete_product(request: HttpRequest, product_id: Id) -> Any:
    product = selectors.product_detail(actor=request.user, pk=product_id)
    services.product_delete(
        actor=request.user,
        product=product,
        expected_version=if_match_version(request, product),
    )
    return Status(204, None)


# --- Orders -------------------------------------------------------------------------------


@router.get("/orders", response=OrderPage, summary="List orders")
def list_orders(
    request: HttpRequest,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=PAGE_MAX),
    status: str | None = None,
    channel: str | None = None,
    customer_id: Id | None = None,
    currency: str | None = None,
    external_id: str | None = None,
    ordered_from: dt.date | None = None,
    ordered_to: dt.date | None = None,
    sort: str | None = Query(None, description="ordered_at, total or id; '-' for descending"),
) -> Any:
    _require_view(request, Order)
    filters = selectors.OrderFilters(
        status=status,
        channel=channel,
        customer_id=customer_id,
        currency=currency,
        external_id=external_id,
        ordered_from=ordered_from,
        ordered_to=ordered_to,
    )
    page = selectors.order_page(
        actor=request.user,
        filters=filters,
        sort=sort,
        cursor=cursor,
        limit=limit,
        with_lines=True,
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/orders", response={201: OrderOut}, summary="Create an order with its lines")
def create_order(request: HttpRequest, payload: OrderIn, response: HttpResponse) -> Any:
    customer = _customer(request.user, payload.customer_id)
    order = services.order_create(actor=request.user, customer=customer, data=_order_input(payload))
    set_etag(response, order)
    return Status(201, order)


@router.put(
    "/orders/external/{external_id}",
    response={200: OrderOut, 201: OrderOut},
    summary="Create or update an order by its external id (idempotent)",
)
def upsert_order(
    request: HttpRequest, external_id: str, payload: OrderIn, response: HttpResponse
) -> Any:
    customer = _customer(request.user, payload.customer_id)
    data = _order_input(payload)
    data.external_id = external_id
    order, created = services.order_upsert_by_external_id(
        actor=request.user, customer=customer, data=data
    )
    set_etag(response, order)
    return Status(201 if created else 200, order)


@router.get("/orders/{order_id}", response=OrderDetailOut, summary="Get an order")
def get_order(request: HttpRequest, order_id: Id, response: HttpResponse) -> Any:
    order = selectors.order_detail(actor=request.user, pk=order_id)
    set_etag(response, order)
    return order


@router.patch("/orders/{order_id}", response=OrderOut, summary="Update an order")
def update_order(
    request: HttpRequest, order_id: Id, payload: OrderPatch, response: HttpResponse
) -> Any:
    order = selectors.order_for_update(actor=request.user, pk=order_id)
    patch = OrderPatch(**payload.model_dump(exclude_unset=True))
    order = services.order_update(
        actor=request.user,
        order=order,
        data=_order_input(patch),
        expected_version=if_match_version(request, order),
    )
    set_etag(response, order)
    return order


@router.post("/orders/{order_id}/status", response=OrderOut, summary="Change an order's status")
def change_order_status(
    request: HttpRequest, order_id: Id, payload: OrderStatusIn, response: HttpResponse
) -> Any:
    order = selectors.order_for_update(actor=request.user, pk=order_id)
    order = services.order_update_status(
        actor=request.user,
        order=order,
        status=payload.status,
        reason=payload.reason,
        expected_version=if_match_version(request, order),
    )
    set_etag(response, order)
    return order


@router.delete("/orders/{order_id}", response={204: None}, summary="Delete an order")
def delete_order(request: HttpRequest, order_id: Id) -> Any:
    order = selectors.order_for_update(actor=request.user, pk=order_id)
    services.order_delete(
        actor=request.user, order=order, expected_version=if_match_version(request, order)
    )
    return Status(204, None)


# --- Shipments ----------------------------------------------------------------------------


@router.get("/shipments", response=ShipmentPage, summary="List shipments")
def list_shipments(
    request: HttpRequest,
    cursor: str | None = None,
    limit: int = Query(50, ge=1, le=PAGE_MAX),
    in_transit: bool = Query(False, description="Only open shipments (goods in transit)"),
    status: str | None = None,
    carrier: str | None = None,
    customer_id: Id | None = None,
    order_id: Id | None = None,
    sort: str | None = Query(
        None, description="expected_delivery, shipped_at or id; '-' for descending"
    ),
) -> Any:
    _require_view(request, Shipment)
    filters = selectors.ShipmentFilters(
        status=status,
        carrier=carrier,
        customer_id=customer_id,
        order_id=order_id,
        in_transit=in_transit,
    )
    page = selectors.shipment_page(
        actor=request.user, filters=filters, sort=sort, cursor=cursor, limit=limit
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.post("/shipments", response={201: ShipmentOut}, summary="Create a shipment")
def create_shipment(request: HttpRequest, payload: ShipmentIn, response: HttpResponse) -> Any:
    try:
        order = selectors.order_for_update(actor=request.user, pk=payload.order_id)
    except Http404 as exc:
        raise ValidationError(
            {"order_id": f"No order #{payload.order_id} that you may see."}
        ) from exc
    data = services.ShipmentInput(**payload.model_dump(exclude={"order_id"}))
    shipment = services.shipment_create(actor=request.user, order=order, data=data)
    set_etag(response, shipment)
    return Status(201, shipment)


@router.get("/shipments/{shipment_id}", response=ShipmentDetailOut, summary="Get a shipment")
def get_shipment(request: HttpRequest, shipment_id: Id, response: HttpResponse) -> Any:
    shipment = selectors.shipment_detail(actor=request.user, pk=shipment_id)
    set_etag(response, shipment)
    return shipment


@router.patch("/shipments/{shipment_id}", response=ShipmentOut, summary="Update a shipment")
def update_shipment(
    request: HttpRequest, shipment_id: Id, payload: ShipmentPatch, response: HttpResponse
) -> Any:
    shipment = selectors.shipment_detail(actor=request.user, pk=shipment_id)
    shipment = services.shipment_update(
        actor=request.user,
        shipment=shipment,
        data=services.ShipmentInput(**payload.model_dump(exclude_unset=True)),
        expected_version=if_match_version(request, shipment),
    )
    set_etag(response, shipment)
    return shipment


@router.post(
    "/shipments/{shipment_id}/status",
    response=ShipmentDetailOut,
    summary="Record a tracking update / status change",
)
def change_shipment_status(
    request: HttpRequest, shipment_id: Id, payload: ShipmentStatusIn, response: HttpResponse
) -> Any:
    shipment = selectors.shipment_detail(actor=request.user, pk=shipment_id)
    services.shipment_update_status(
        actor=request.user,
        shipment=shipment,
        status=payload.status,
        occurred_at=payload.occurred_at,
        location=payload.location,
        description=payload.description,
        expected_delivery=payload.expected_delivery,
        expected_version=if_match_version(request, shipment),
    )
    shipment = selectors.shipment_detail(actor=request.user, pk=shipment_id)
    set_etag(response, shipment)
    return shipment


@router.delete("/shipments/{shipment_id}", response={204: None}, summary="Delete a shipment")
def delete_shipment(request: HttpRequest, shipment_id: Id) -> Any:
    shipment = selectors.shipment_detail(actor=request.user, pk=shipment_id)
    services.shipment_delete(
        actor=request.user,
        shipment=shipment,
        expected_version=if_match_version(request, shipment),
    )
    return Status(204, None)
