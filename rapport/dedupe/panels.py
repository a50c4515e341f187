"""The 360 page's side panel: possible duplicates of this customer and its merge history."""

from __future__ import annotations

from typing import Any

from rapport.core.permissions import can
from rapport.customers.models import Customer
from rapport.dedupe import selectors


def customer_panel_context(*, actor: Any, customer: Customer) -> dict[str, Any] | None:
    pairs = selectors.pairs_of(actor=actor, customer=customer)
    merges = selectors.merges_of(actor=actor, customer=customer)
    if not pairs and not merges:
        return None
    return {
        "pairs": [
            {"pair": p, "other": p.customer_b if p.customer_a_id == customer.pk else p.customer_a}
            for p in pairs
        ],
        "merges": [{"merge": m, "undoable": selectors.undoable(m)} for m in merges],
        "can_edit": can(actor, "edit", customer),
    }
