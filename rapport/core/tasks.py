"""Core background tasks: outbox dispatch and housekeeping."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from rapport.core import outbox
from rapport.core.models import IdempotencyRecord, OutboxEvent


@task()
def dispatch_outbox() -> int:
    """Drain due outbox events (also run every few seconds by the scheduler as a sweep)."""
    handled = 0
    while True:
        n = outbox.dispatch_pending()
        handled += n
        if n < outbox.BATCH_SIZE:
            return handled


@task()
def prune_idempotency_records() -> int:
    """Idempotency keys are honoured for 24 hours, as the API guide promises."""
    cutoff = timezone.now() - dt.timedelta(hours=24)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@task()
def prune_outbox() -> int:
    """Delete events every consumer accepted more than OUTBOX_RETENTION_DAYS ago.

    Undelivered events are never pruned. Deletes go in chunks so a backlog of millions
    never holds one long transaction (or the SQLite write lock) for long.
    """
    cutoff = timezone.now() - dt.timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(
            OutboxEvent.objects.filter(dispatched_at__lt=cutoff).values_list("id", flat=True)[:5000]
        )
        if not ids:
            return deleted
        deleted += OutboxEvent.objects.filter(id__in=ids).delete()[0]
