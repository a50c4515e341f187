"""What service adds to the customer 360° page: the customer's tickets."""

from __future__ import annotations

from typing import Any

from rapport.core.permissions import can
from rapport.service import selectors


def customer_panel_context(*, actor: Any, customer: Any) -> dict[str, Any] | None:
    """The latest tickets (one query); hidden for users who may not see tickets."""
    if not can(actor, "view", "service.ticket"):
        return None
    return {
        "customer": customer,
        "tickets": selectors.customer_tickets(actor=actor, customer_id=customer.pk),
    }
