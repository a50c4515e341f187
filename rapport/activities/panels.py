"""What activities add to the customer 360° page: the open activities panel with quick
"log a call" and "add task" actions."""

from __future__ import annotations

from typing import Any

from rapport.activities import selectors
from rapport.activities.forms import CallLogForm, QuickTaskForm
from rapport.core.permissions import can

PANEL_LIMIT = 8


def customer_panel_context(*, actor: Any, customer: Any) -> dict[str, Any] | None:
    """The customer's open activities (one query); hidden for users who may not see
    activities at all."""
    if not can(actor, "view", "activities.activity"):
        return None
    return {
        "customer": customer,
        "open_activities": selectors.customer_activities(
            actor=actor, customer_id=customer.pk, limit=PANEL_LIMIT
        ),
        "can_add": can(actor, "create", "activities.activity"),
        "call_form": CallLogForm(auto_id="call_%s"),
        "task_form": QuickTaskForm(auto_id="task_%s"),
    }
