"""The transactional outbox: events are written with the change and dispatched after commit.

`emit` adds an event row inside the caller's transaction and arranges for the dispatch task
to run once that transaction commits (a rolled-back change therefore emits nothing). The
dispatcher hands each event to every registered consumer at least once, retrying a failing
consumer with exponential backoff; consumers must be idempotent on the event id.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from rapport.core import events, registry
from rapport.core.models import OutboxEvent

logger = logging.getLogger(__name__)

Consumer = Callable[[OutboxEvent], None]
_consumers: dict[str, Consumer] = {}

MAX_BACKOFF = dt.timedelta(hours=1)
LOCK_FOR = dt.timedelta(minutes=5)
BATCH_SIZE = 500


def consumer(name: str) -> Callable[[Consumer], Consumer]:
    """Register `fn` to receive every event (it filters the types it cares about)."""

    def decorator(fn: Consumer) -> Consumer:
        _consumers[name] = fn
        return fn

    return decorator


def registered_consumers() -> dict[str, Consumer]:
    return dict(_consumers)


def _enqueue_dispatch() -> None:
    try:
        registry.enqueue("core.dispatch_outbox")
    except Exception:  # the scheduler's periodic sweep delivers it later; never fail a write
        logger.exception("Could not enqueue the outbox dispatcher")


def _schedule_dispatch() -> None:
    # One dispatch per transaction however many events it emitted (an import emits
    # thousands). Looking at the pending callbacks (rather than a flag) stays right when a
    # savepoint or the transaction rolls back and discards them.
    if any(callback[1] is _enqueue_dispatch for callback in connection.run_on_commit):
        return
    transaction.on_commit(_enqueue_dispatch)


def build(type: str, data: dict[str, Any], *, aggregate: models.Model | None = None) -> OutboxEvent:
    """An unsaved event (for bulk writers); `emit_many` saves and schedules them."""
    if not events.is_registered(type):
        raise ValueError(f"Unknown event type {type!r}: register it in the app's events.py")
    return OutboxEvent(
        type=type,
        data=data,
        aggregate_type=aggregate._meta.label_lower if aggregate is not None else "",
        aggregate_id=str(aggregate.pk) if aggregate is not None else "",
        pending_consumers=sorted(_consumers),
    )


def emit(type: str, data: dict[str, Any], *, aggregate: models.Model | None = None) -> OutboxEvent:
    """Write one event in the current transaction; it is dispatched after commit."""
    event = build(type, data, aggregate=aggregate)
    event.save(force_insert=True)
    _schedule_dispatch()
    return event


def emit_many(built: Iterable[OutboxEvent]) -> None:
    OutboxEvent.objects.bulk_create(list(built), batch_size=BATCH_SIZE)
    _schedule_dispatch()


def _backoff(attempts: int) -> dt.timedelta:
    return min(dt.timedelta(seconds=2 ** min(attempts, 20)), MAX_BACKOFF)


def _claim(limit: int) -> list[OutboxEvent]:
    """Lock a batch of due events for this dispatcher (compare-and-swap on locked_until)."""
    now = timezone.now()
    due = (
        OutboxEvent.objects.filter(dispatched_at__isnull=True, next_attempt_at__lte=now)
        .filter(models.Q(locked_until__isnull=True) | models.Q(locked_until__lt=now))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    ids = list(due)
    if not ids:
        return []
    with transaction.atomic():
        OutboxEvent.objects.filter(id__in=ids).filter(
            models.Q(locked_until__isnull=True) | models.Q(locked_until__lt=now)
        ).update(locked_until=now + LOCK_FOR)
    # Rows another dispatcher locked first keep its (different) locked_until.
    return list(OutboxEvent.objects.filter(id__in=ids, locked_until=now + LOCK_FOR).order_by("id"))


def dispatch_pending(limit: int = BATCH_SIZE) -> int:
    """Deliver one batch of due events; return how many were handled."""
    batch = _claim(limit)
    for event in batch:
        _deliver(event)
    return len(batch)


def _deliver(event: OutboxEvent) -> None:
    still_pending: list[str] = []
    errors: list[str] = []
    for name in event.pending_consumers:
        handler = _consumers.get(name)
        if handler is None:  # a consumer removed since the event was written
            continue
        try:
            with transaction.atomic():
                handler(event)
        except Exception as exc:
            logger.exception("Outbox consumer %s failed on event %s", name, event.event_id)
            still_pending.append(name)
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    now = timezone.now()
    event.pending_consumers = still_pending
    event.locked_until = None
    if still_pending:
        event.attempts += 1
        event.next_attempt_at = now + _backoff(event.attempts)
        event.last_error = "\n".join(errors)[:4000]
    else:
        event.dispatched_at = now
        event.last_error = ""
    event.save(
        update_fields=[
            "pending_consumers",
            "locked_until",
            "attempts",
            "next_attempt_at",
            "dispatched_at",
            "last_error",
        ]
    )
