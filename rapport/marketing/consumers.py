"""The outbox consumer that keeps dynamic segments current: it only queues the customers
an event concerns (one INSERT); the refresh task evaluates them in batches."""

from __future__ import annotations

from rapport.core import outbox
from rapport.core.models import OutboxEvent
from rapport.marketing import services


@outbox.consumer("segments")
def queue_segment_refresh(event: OutboxEvent) -> None:
    ids = services.customer_ids_of_event(
        event.type, event.data or {}, (event.aggregate_type, event.aggregate_id)
    )
    services.segments_queue_customers(customer_ids=ids)
