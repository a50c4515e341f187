"""The "Next best offer" card on the customer 360° page."""

from __future__ import annotations

from typing import Any

from rapport.analytics import recommend_selectors


def customer_panel_context(*, actor: Any, customer: Any) -> dict[str, Any] | None:
    """The customer's stored offers with their evidence (one query); hidden when none."""
    offers = recommend_selectors.customer_offers(actor=actor, customer_id=customer.pk)
    return {"offers": offers} if offers else None
