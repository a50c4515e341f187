"""Reads of commerce, always narrowed to what the actor may see (record scope on orders
and shipments; the product catalogue is all-or-nothing by the product grant)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.http import Http404
from django.utils import timezone

from rapport.commerce.models import (
    NON_REVENUE_STATUSES,
    OPEN_SHIPMENT_STATUSES,
    Order,
    OrderChannel,
    OrderStatus,
    Product,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
)
from rapport.core.pagination import Page, SortKey, keyset_page, parse_sort
from rapport.core.permissions import object_type_of, scope_queryset

ORDER_SORTS = {
    "ordered_at": SortKey("ordered_at", "ordered_at"),
    "total": SortKey("total", "total"),
    "id": SortKey("id", "pk"),
}
PRODUCT_SORTS = {
    "name": SortKey("name", "name"),
    "sku": SortKey("sku", "sku"),
    "price": SortKey("price", "price"),
    "id": SortKey("id", "pk"),
}
SHIPMENT_SORTS = {
    "expected_delivery": SortKey("expected_delivery", "expected_delivery"),
    "shipped_at": SortKey("shipped_at", "shipped_at"),
    "id": SortKey("id", "pk"),
}


@dataclass
class OrderFilters:
    """The whitelisted order filters (UI query string and API)."""

    status: str | None = None
    channel: str | None = None
    customer_id: int | None = None
    ordered_from: dt.date | None = None
    ordered_to: dt.date | None = None
    currency: str | None = None
    external_id: str | None = None
    q: str | None = None  # order number or external id, exact


def _check_choice(name: str, value: str | None, choices: Any) -> None:
    if value and value not in choices.values:
        raise ValidationError(
            {name: f"Unknown {name} {value!r}. Allowed: {', '.join(choices.values)}."}
        )


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def order_list(
    *, actor: Any, filters: OrderFilters | None = None, action: str = "view"
) -> QuerySet[Order]:
    """The orders the actor may `action` (see; export), filtered, with their customer (one
    query per page)."""
    qs = scope_queryset(Order.objects.select_related("customer"), actor=actor, action=action)
    f = filters or OrderFilters()
    _check_choice("status", f.status, OrderStatus)
    _check_choice("channel", f.channel, OrderChannel)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    if f.currency:
        qs = qs.filter(currency=f.currency.upper())
    if f.external_id:
        qs = qs.filter(external_id=f.external_id)
    if f.ordered_from and f.ordered_to and f.ordered_from > f.ordered_to:
        raise ValidationError({"ordered_to": "The end date is before the start date."})
    # Whole days in the site's time zone, as a range on the indexed column.
    if f.ordered_from:
        qs = qs.filter(ordered_at__gte=_start_of(f.ordered_from))
    if f.ordered_to:
        qs = qs.filter(ordered_at__lt=_start_of(f.ordered_to + dt.timedelta(days=1)))
    if f.q:
        text = f.q.strip()
        qs = qs.filter(Q(number=text) | Q(external_id=text))
    return qs


def order_page(
    *,
    actor: Any,
    filters: OrderFilters | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    with_lines: bool = False,
) -> Page[Order]:
    """One keyset page of orders (newest first by default); `with_lines` prefetches the
    lines (one more query per page, for the API)."""
    sort_key, descending = parse_sort(sort, ORDER_SORTS, "-ordered_at")
    qs = order_list(actor=actor, filters=filters)
    if with_lines:
        qs = qs.prefetch_related("lines")
    return keyset_page(
        qs,
        sort_key=sort_key,
        descending=descending,
        cursor=cursor,
        limit=limit,
    )


def customer_orders(*, actor: Any, customer_id: int, limit: int = 20) -> list[Order]:
    """A customer's most recent orders (served by the (customer, ordered_at) index)."""
    return list(
        scope_queryset(Order.objects.filter(customer_id=customer_id), actor=actor).order_by(
            "-ordered_at", "-id"
        )[:limit]
    )


def _visible_shipments(actor: Any) -> QuerySet[Shipment]:
    return scope_queryset(Shipment.objects.all(), actor=actor)


def order_detail(*, actor: Any, pk: int) -> Order:
    """One order with its lines and the shipments the actor may see, each with its tracking
    events: four queries whatever the size of the order."""
    shipments = _visible_shipments(actor).prefetch_related(
        Prefetch("events", queryset=ShipmentEvent.objects.order_by("-occurred_at", "-id"))
    )
    order = (
        scope_queryset(Order.objects.select_related("customer"), actor=actor)
        .prefetch_related(
            "lines", Prefetch("shipments", queryset=shipments.order_by("created_at", "id"))
        )
        .filter(pk=pk)
        .first()
    )
    if order is None:
        raise Http404("No such order, or you may not see it.")
    return order


def order_for_update(*, actor: Any, pk: int) -> Order:
    """The order by id if the actor may see it (services then check edit/delete)."""
    order = scope_queryset(Order.objects.all(), actor=actor).filter(pk=pk).first()
    if order is None:
        raise Http404("No such order, or you may not see it.")
    return order


def _with_latest_event(qs: QuerySet[Shipment]) -> QuerySet[Shipment]:
    latest = ShipmentEvent.objects.filter(shipment=OuterRef("pk")).order_by("-occurred_at", "-id")
    return qs.annotate(
        latest_status=Subquery(latest.values("status")[:1]),
        latest_location=Subquery(latest.values("location")[:1]),
        latest_at=Subquery(latest.values("occurred_at")[:1]),
        latest_description=Subquery(latest.values("description")[:1]),
    )


@dataclass
class ShipmentFilters:
    status: str | None = None
    carrier: str | None = None
    customer_id: int | None = None
    order_id: int | None = None
    in_transit: bool = False
    overdue_on: dt.date | None = None  # expected before this date and still open


def shipment_list(*, actor: Any, filters: ShipmentFilters | None = None) -> QuerySet[Shipment]:
    """Shipments the actor may see, with order, customer and the latest tracking event."""
    f = filters or ShipmentFilters()
    _check_choice("status", f.status, ShipmentStatus)
    qs = _with_latest_event(_visible_shipments(actor).select_related("order", "customer"))
    if f.in_transit:
        qs = qs.filter(status__in=OPEN_SHIPMENT_STATUSES)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.carrier:
        qs = qs.filter(carrier__iexact=f.carrier.strip())
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    if f.order_id:
        qs = qs.filter(order_id=f.order_id)
    if f.overdue_on:
        qs = qs.filter(status__in=OPEN_SHIPMENT_STATUSES, expected_delivery__lt=f.overdue_on)
    return qs


def shipments_in_transit(
    *,
    actor: Any,
    filters: ShipmentFilters | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Shipment]:
    """ "Where is my order?": open shipments (not delivered or returned), soonest expected
    first, each with its latest tracking event. Served by the partial index on open
    shipments by expected delivery."""
    f = filters or ShipmentFilters()
    f.in_transit = True
    sort_key, descending = parse_sort(sort, SHIPMENT_SORTS, "expected_delivery")
    return keyset_page(
        shipment_list(actor=actor, filters=f),
        sort_key=sort_key,
        descending=descending,
        cursor=cursor,
        limit=limit,
    )


def shipment_page(
    *,
    actor: Any,
    filters: ShipmentFilters | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Shipment]:
    sort_key, descending = parse_sort(sort, SHIPMENT_SORTS, "id")
    return keyset_page(
        shipment_list(actor=actor, filters=filters),
        sort_key=sort_key,
        descending=descending,
        cursor=cursor,
        limit=limit,
    )


def shipment_detail(*, actor: Any, pk: int) -> Shipment:
    shipment = (
        _visible_shipments(actor)
        .select_related("order", "customer")
        .prefetch_related(
            Prefetch("events", queryset=ShipmentEvent.objects.order_by("-occurred_at", "-id"))
        )
        .filter(pk=pk)
        .first()
    )
    if shipment is None:
        raise Http404("No such shipment, or you may not see it.")
    return shipment


@dataclass
class CustomerCommerceSummary:
    recent_orders: list[Order]
    revenue: list[dict[str, Any]]  # [{"currency", "revenue", "orders"}] per currency
    order_count: int
    in_transit: list[Shipment]


def customer_summary(
    *, actor: Any, customer_id: int, recent: int = 5, in_transit: int = 5
) -> CustomerCommerceSummary:
    """What the 360° page shows: recent orders, lifetime revenue per currency (cancelled and
    returned orders excluded), order count and open shipments. Three queries."""
    orders = scope_queryset(Order.objects.filter(customer_id=customer_id), actor=actor)
    recent_orders = list(orders.order_by("-ordered_at", "-id")[:recent])
    revenue_filter = ~Q(status__in=NON_REVENUE_STATUSES)
    per_currency = list(
        orders.order_by()
        .values("currency")
        .annotate(
            revenue=Sum("total", filter=revenue_filter),
            orders=Count("id", filter=revenue_filter),
            all_orders=Count("id"),
        )
        .order_by("currency")
    )
    order_count = sum(row["all_orders"] for row in per_currency)
    revenue = [
        {"currency": row["currency"], "revenue": row["revenue"] or 0, "orders": row["orders"]}
        for row in per_currency
        if row["orders"]
    ]
    shipments = list(
        _with_latest_event(
            _visible_shipments(actor)
            .filter(customer_id=customer_id, status__in=OPEN_SHIPMENT_STATUSES)
            .select_related("order")
        ).order_by("expected_delivery", "id")[:in_transit]
    )
    return CustomerCommerceSummary(
        recent_orders=recent_orders,
        revenue=revenue,
        order_count=order_count,
        in_transit=shipments,
    )


# --- Products -----------------------------------------------------------------------------


def _may_view_products(actor: Any) -> bool:
    if not getattr(actor, "is_authenticated", False):
        return False
    return bool(actor.grant_for(object_type_of(Product)).allows("view"))


def product_list(
    *,
    actor: Any,
    q: str | None = None,
    category: str | None = None,
    active: bool | None = None,
    currency: str | None = None,
) -> QuerySet[Product]:
    """The catalogue (empty for actors without the product grant)."""
    if not _may_view_products(actor):
        return Product.objects.none()
    qs = Product.objects.all()
    if q:
        text = q.strip()
        qs = qs.filter(Q(sku__iexact=text) | Q(name__icontains=text))
    if category:
        qs = qs.filter(category=category)
    if active is not None:
        qs = qs.filter(active=active)
    if currency:
        qs = qs.filter(currency=currency.upper())
    return qs


def product_page(
    *,
    actor: Any,
    q: str | None = None,
    category: str | None = None,
    active: bool | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Product]:
    sort_key, descending = parse_sort(sort, PRODUCT_SORTS, "name")
    return keyset_page(
        product_list(actor=actor, q=q, category=category, active=active),
        sort_key=sort_key,
        descending=descending,
        cursor=cursor,
        limit=limit,
    )


def product_categories(*, actor: Any) -> list[str]:
    return list(
        product_list(actor=actor)
        .exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )


def product_detail(*, actor: Any, pk: int) -> Product:
    product = product_list(actor=actor).filter(pk=pk).first()
    if product is None:
        raise Http404("No such product, or you may not see the catalogue.")
    return product
