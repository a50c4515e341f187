"""The outbox: events are written with their change and delivered once after commit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from rapport.core import events, outbox
from rapport.core.models import OutboxEvent
from rapport.core.tasks import dispatch_outbox

events.register("test.happened", "A test event.")


@pytest.fixture
def received(monkeypatch):
    seen: list[str] = []
    monkeypatch.setitem(outbox._consumers, "test-consumer", lambda e: seen.append(str(e.event_id)))
    return seen


@pytest.mark.django_db(transaction=True)
def test_event_rolls_back_with_its_transaction(received):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.emit("test.happened", {"n": 1})
        raise RuntimeError("the change failed")
    assert OutboxEvent.objects.count() == 0
    assert received == []


@pytest.mark.django_db(transaction=True)
def test_event_is_delivered_once_after_commit(received, immediate_tasks):
    with transaction.atomic():
        event = outbox.emit("test.happened", {"n": 1})
        assert received == []  # nothing leaves before commit
    assert received == [str(event.event_id)]
    dispatch_outbox.call()  # a later sweep does not deliver it again
    assert received == [str(event.event_id)]
    event.refresh_from_db()
    assert event.dispatched_at is not None and event.pending_consumers == []


@pytest.mark.django_db
def test_failing_consumer_is_retried_with_backoff_without_replaying_others(monkeypatch):
    good: list[str] = []
    calls = {"n": 0}

    def flaky(event):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("down")

    monkeypatch.setattr(outbox, "_consumers", {"good": lambda e: good.append("x"), "flaky": flaky})
    event = outbox.emit("test.happened", {})
    assert outbox.dispatch_pending() == 1
    event.refresh_from_db()
    assert event.pending_consumers == ["flaky"]
    assert event.attempts == 1 and event.next_attempt_at > event.occurred_at
    assert "ConnectionError" in event.last_error
    OutboxEvent.objects.filter(pk=event.pk).update(next_attempt_at=event.occurred_at)
    outbox.dispatch_pending()
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert good == ["x"]  # the good consumer saw it exactly once
    assert calls["n"] == 2


@pytest.mark.django_db
def test_unknown_event_type_is_refused():
    with pytest.raises(ValueError, match="Unknown event type"):
        outbox.emit("nobody.registered.this", {})


@pytest.mark.django_db
def test_only_events_delivered_before_the_retention_window_are_pruned(settings):
    from django.utils import timezone

    from rapport.core.tasks import prune_outbox

    settings.OUTBOX_RETENTION_DAYS = 30
    now = timezone.now()
    old_delivered = outbox.emit("test.happened", {"n": 1})
    recent_delivered = outbox.emit("test.happened", {"n": 2})
    old_undelivered = outbox.emit("test.happened", {"n": 3})
    OutboxEvent.objects.filter(pk=old_delivered.pk).update(
        dispatched_at=now - dt.timedelta(days=31), occurred_at=now - dt.timedelta(days=31)
    )
    OutboxEvent.objects.filter(pk=recent_delivered.pk).update(
        dispatched_at=now - dt.timedelta(days=29)
    )
    OutboxEvent.objects.filter(pk=old_undelivered.pk).update(
        occurred_at=now - dt.timedelta(days=90), dispatched_at=None
    )
    assert prune_outbox.call() == 1
    assert set(OutboxEvent.objects.values_list("pk", flat=True)) == {
        recent_delivered.pk,
        old_undelivered.pk,
    }
