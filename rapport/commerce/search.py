"""Global search: find an order by its number or external id, or a parcel by its
tracking number (exact matches on indexed columns, narrowed to what the actor may see)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from rapport.commerce.models import Order, Shipment
from rapport.core.permissions import scope_queryset
from rapport.core.registry import SearchHit


def search(*, actor: Any, query: str, limit: int = 8) -> list[SearchHit]:
    text = query.strip()
    if len(text) < 3 or len(text) > 100 or " " in text:
        return []
    hits: list[SearchHit] = []
    orders = scope_queryset(Order.objects.select_related("customer"), actor=actor).filter(
        Q(number=text) | Q(external_id=text)
    )
    for order in orders[:limit]:
        hits.append(
            SearchHit(
                title=f"Order {order.number}",
                subtitle=(
                    f"{order.customer.display_name} · {order.total:,.2f} {order.currency} · "
                    f"{order.get_status_display()}"
                ),
                url=order.get_absolute_url(),
                kind="Order",
            )
        )
    shipments = scope_queryset(
        Shipment.objects.select_related("order", "customer"), actor=actor
    ).filter(tracking_number=text)
    for shipment in shipments[:limit]:
        expected = (
            f" · expected {shipment.expected_delivery:%d %b}"
            if shipment.is_open and shipment.expected_delivery
            else ""
        )
        hits.append(
            SearchHit(
                title=f"Parcel {shipment.carrier} {shipment.tracking_number}",
                subtitle=(
                    f"{shipment.customer.display_name} · order {shipment.order.number} · "
                    f"{shipment.get_status_display()}{expected}"
                ),
                url=shipment.order.get_absolute_url(),
                kind="Shipment",
            )
        )
    return hits[:limit]
