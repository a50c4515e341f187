"""Commerce endpoints: products, orders (with lines) and shipments (with tracking).

Thin: each object type is one `CrudResource` declaration (list with keyset cursors,
create with Idempotency-Key, get with `ETag`, update and delete with `If-Match`; see
`rapport.core.api_crud`), plus the business actions that are not CRUD: an order's upsert
by external id, and the status endpoints of orders and shipments (they keep history).
Request bodies are derived from the services' input dataclasses: a field is declared
once, in the service.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Router, Schema, Status
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
from rapport.core.api_crud import (
    CrudResource,
    add_crud_routes,
    input_from,
    schema_from_dataclass,
)
from rapport.core.api_fields import Id, Int32, Money
from rapport.core.api_helpers import if_match_version, set_etag
from rapport.customers import selectors as customer_selectors

router = Router(tags=["commerce"])


def _currency(value: str) -> str:
    try:
        return normalize_currency(value)
    except ValidationError as exc:
        # The message goes in as context, never as the template: it quotes client input.
        raise PydanticCustomError("currency", "{message}", {"message": exc.messages[0]}) from exc


# An ISO 4217 code, checked with the amounts so that one answer lists both problems.
Currency = Annotated[str, AfterValidator(_currency)]


# --- Products -----------------------------------------------------------------------------


@dataclasses.dataclass
class ProductFilters:
    """The catalogue's list filters (`selectors.product_list`'s keyword arguments)."""

    q: str | None = None
    category: str | None = None
    active: bool | None = None


PRODUCT_TYPES: dict[str, Any] = {"price": Money, "currency": Currency}
ProductIn = schema_from_dataclass(
    services.ProductInput,
    name="ProductIn",
    types=PRODUCT_TYPES,
    required=("sku", "name", "price"),
    defaults={"description": "", "category": "", "active": True},
)
ProductPatch = schema_from_dataclass(
    services.ProductInput, name="ProductPatch", partial=True, types=PRODUCT_TYPES
)


def _products(*, actor: Any, filters: ProductFilters) -> QuerySet[Product]:
    return selectors.product_list(actor=actor, **dataclasses.asdict(filters))


add_crud_routes(
    router,
    CrudResource(
        name="products",
        model=Product,
        schema_out=ProductOut,
        schema_in=ProductIn,
        schema_patch=ProductPatch,
        filters=schema_from_dataclass(ProductFilters, name="ProductFilterParams"),
        select_list=_products,
        select_get=selectors.product_detail,
        sorts=selectors.PRODUCT_SORTS,
        default_sort="name",
        create=services.product_create,
        update=services.product_update,
        delete=services.product_delete,
    ),
)


# --- Orders -------------------------------------------------------------------------------

LineIn = schema_from_dataclass(
    services.LineInput, name="LineIn", types={"quantity": Int32, "unit_price": Money}
)
ORDER_TYPES: dict[str, Any] = {
    "lines": list[LineIn],  # type: ignore[valid-type]
    "currency": Currency,
    "tax": Money,
    "shipping": Money,
    "total": Money,
}
OrderIn = schema_from_dataclass(
    services.OrderInput,
    name="OrderIn",
    types=ORDER_TYPES,
    defaults={"lines": Field(default_factory=list)},
    leading={"customer_id": (Id, ...)},
)
if TYPE_CHECKING:  # mypy cannot see a derived class's fields; Ninja reads the real one
    OrderBody = Any
else:
    OrderBody = OrderIn
OrderPatch = schema_from_dataclass(
    services.OrderInput, name="OrderPatch", partial=True, types=ORDER_TYPES
)


class OrderStatusIn(Schema):
    status: str
    reason: str = ""


class OrderDetailOut(OrderOut):
    shipments: list[ShipmentDetailOut]

    @staticmethod
    def resolve_shipments(obj: Any) -> list[Any]:
        return list(obj.shipments.all())


def _customer(actor: Any, customer_id: int) -> Any:
    customer = customer_selectors.customer_list(actor=actor).filter(pk=customer_id).first()
    if customer is None:
        raise ValidationError({"customer_id": f"No customer #{customer_id} that you may see."})
    return customer


def _orders(*, actor: Any, filters: selectors.OrderFilters) -> QuerySet[Order]:
    # The lines in one more query per page, not one per order.
    return selectors.order_list(actor=actor, filters=filters).prefetch_related("lines")


add_crud_routes(
    router,
    CrudResource(
        name="orders",
        model=Order,
        schema_out=OrderOut,
        schema_detail=OrderDetailOut,
        schema_in=OrderIn,
        schema_patch=OrderPatch,
        filters=schema_from_dataclass(
            selectors.OrderFilters,
            name="OrderFilterParams",
            fields=(
                "status",
                "channel",
                "customer_id",
                "currency",
                "external_id",
                "ordered_from",
                "ordered_to",
            ),
        ),
        select_list=_orders,
        select_get=selectors.order_detail,
        select_for_update=selectors.order_for_update,
        sorts=selectors.ORDER_SORTS,
        default_sort="-ordered_at",
        create=services.order_create,
        create_args=lambda actor, payload: {"customer": _customer(actor, payload.customer_id)},
        update=services.order_update,
        delete=services.order_delete,
        summaries={"create": "Create an order with its lines"},
    ),
)


@router.put(
    "/orders/external/{external_id}",
    response={200: OrderOut, 201: OrderOut},
    summary="Create or update an order by its external id (idempotent)",
)
def upsert_order(
    request: HttpRequest, external_id: str, payload: OrderBody, response: HttpResponse
) -> Any:
    customer = _customer(request.user, payload.customer_id)
    data = input_from(payload)
    data.external_id = external_id
    order, created = services.order_upsert_by_external_id(
        actor=request.user, customer=customer, data=data
    )
    set_etag(response, order)
    return Status(201 if created else 200, order)


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


# --- Shipments ----------------------------------------------------------------------------

ShipmentIn = schema_from_dataclass(
    services.ShipmentInput,
    name="ShipmentIn",
    required=("carrier",),
    defaults={"tracking_number": "", "tracking_url": ""},
    leading={"order_id": (Id, ...)},
)
# Status, shipping date and location change through the status endpoint (it keeps the
# tracking history), so a PATCH does not offer them.
ShipmentPatch = schema_from_dataclass(
    services.ShipmentInput,
    name="ShipmentPatch",
    partial=True,
    exclude=("status", "shipped_at", "location"),
)


class ShipmentStatusIn(Schema):
    status: str
    occurred_at: dt.datetime | None = None
    location: str = ""
    description: str = ""
    expected_delivery: dt.date | None = None


def _shipment_order(actor: Any, payload: Any) -> dict[str, Any]:
    try:
        return {"order": selectors.order_for_update(actor=actor, pk=payload.order_id)}
    except Http404 as exc:
        raise ValidationError(
            {"order_id": f"No order #{payload.order_id} that you may see."}
        ) from exc


add_crud_routes(
    router,
    CrudResource(
        name="shipments",
        model=Shipment,
        schema_out=ShipmentOut,
        schema_detail=ShipmentDetailOut,
        schema_in=ShipmentIn,
        schema_patch=ShipmentPatch,
        filters=schema_from_dataclass(
            selectors.ShipmentFilters,
            name="ShipmentFilterParams",
            fields=("in_transit", "status", "carrier", "customer_id", "order_id"),
            types={
                "in_transit": Annotated[
                    bool, Field(description="Only open shipments (goods in transit)")
                ]
            },
        ),
        select_list=selectors.shipment_list,
        select_get=selectors.shipment_detail,
        sorts=selectors.SHIPMENT_SORTS,
        default_sort="id",
        create=services.shipment_create,
        create_args=_shipment_order,
        update=services.shipment_update,
        delete=services.shipment_delete,
    ),
)


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
