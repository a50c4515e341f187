"""The "Orders & shipments" panel on the customer 360° page."""

from __future__ import annotations

from typing import Any

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
