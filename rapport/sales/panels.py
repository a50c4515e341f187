"""What sales adds to the customer 360° page: the customer's deals."""

from __future__ import annotations

from typing import Any

from rapport.core.permissions import can
from rapport.sales import selectors


def customer_panel_context(*, actor: Any, customer: Any) -> dict[str, Any] | None:
    """Open deals first, then recent ones; hidden from users who may not see deals."""
    if not can(actor, "view", "sales.deal"):
        return None
    deals = selectors.customer_deals(actor=actor, customer_id=customer.pk)
    return {
        "customer": customer,
        "deals": deals,
        "can_create": can(actor, "create", "sales.deal"),
    }
