"""What commerce adds to the customer 360° page: the "Orders & shipments" panel, and its
timeline entries grouped by order (an order's shipment updates fold under the order)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import ngettext

from rapport.commerce import selectors


def customer_panel_context(*, actor: Any, customer: Any) -> dict[str, Any]:
    """Recent orders, lifetime revenue per currency, order count and goods in transit: a
    constant three queries whatever the customer's history."""
    summary = selectors.customer_summary(actor=actor, customer_id=customer.pk)
    return {
        "customer": customer,
        "recent_orders": summary.recent_orders,
        "revenue": summary.revenue,
        "order_count": summary.order_count,
        "in_transit": summary.in_transit,
    }


def order_group_key(entry: Any) -> str | None:
    """Order and shipment entries carry their order's id in `data` (see services)."""
    order_id = (entry.data or {}).get("order_id")
    return f"commerce.order:{order_id}" if order_id else None


def order_updates_label(n: int) -> str:
    return ngettext("%(n)d more update on this order", "%(n)d more updates on this order", n) % {
        "n": n
    }
