"""The outbox consumer that turns domain events into webhook deliveries (fast: one query
for the endpoints, one bulk insert; sending happens in a task)."""

from __future__ import annotations

from rapport.core import outbox
from rapport.core.models import OutboxEvent
from rapport.integrations import services


@outbox.consumer("webhooks")
def create_webhook_deliveries(event: OutboxEvent) -> None:
    services.deliveries_for_event(event)
