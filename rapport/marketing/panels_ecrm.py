"""What marketing adds to the customer 360° page: recent web activity and the segments
the customer is in (two queries each, whatever the history)."""

from __future__ import annotations

from typing import Any

from rapport.marketing import selectors


def web_activity_context(*, actor: Any, customer: Any) -> dict[str, Any] | None:
    events = selectors.customer_web_activity(actor=actor, customer_id=customer.pk)
    if events is None:
        return None
    return {"events": events}


def segments_context(*, actor: Any, customer: Any) -> dict[str, Any] | None:
    segments = selectors.customer_segments(actor=actor, customer_id=customer.pk)
    return {"segments": segments}
