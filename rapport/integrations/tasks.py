"""Background work of the integrations app: sending webhook deliveries."""

from __future__ import annotations

from django_tasks import task

from rapport.integrations import services


@task()
def send_due_webhooks() -> int:
    """Send every due delivery (enqueued after new deliveries; swept every 30 s)."""
    sent = 0
    while True:
        n = services.send_due()
        sent += n
        if n < services.BATCH_SIZE:
            return sent
