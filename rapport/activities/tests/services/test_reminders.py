"""Reminders go out once each, in the app and through a real SMTP server, however many
sweeps run; notifications are their recipient's alone."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rapport.activities import tasks
from rapport.activities.models import Activity, Notification
from rapport.activities.services import (
    ActivityInput,
    activity_complete,
    activity_update,
    notification_mark_read,
    notifications_mark_all_read,
    reminders,
    reminders_send_due,
)
from rapport.activities.tests.conftest import task
from rapport.core.models import OutboxEvent


def _due_reminder(world, subject: str = "Call Anna", minutes_ago: int = 5) -> Activity:
    now = timezone.now()
    return task(
        world.rep,
        subject,
        customer_id=world.customers["north"].pk,
        due_at=now + dt.timedelta(hours=1),
        reminder_at=now - dt.timedelta(minutes=minutes_ago),
    )


@pytest.mark.django_db
def test_a_due_reminder_is_sent_once_in_the_app_and_by_email(world, smtp) -> None:
    activity = _due_reminder(world)
    not_yet = task(world.rep, "Later", reminder_at=timezone.now() + dt.timedelta(hours=1))
    assert reminders_send_due() == 1
    assert reminders_send_due() == 0  # a second sweep finds nothing
    tasks.send_due_reminders.enqueue()  # the scheduled task, run at once: still nothing
    [note] = Notification.objects.filter(recipient=world.rep)
    assert note.title == "Reminder: Call Anna" and note.url == f"/activities/{activity.pk}/"
    assert "North customer" in note.body
    [message] = smtp.to("rep@example.com")
    assert message["Subject"] == "Reminder: Call Anna"
    assert f"/activities/{activity.pk}/" in message.get_payload(decode=True).decode()
    activity.refresh_from_db()
    assert activity.reminder_sent_at is not None
    not_yet.refresh_from_db()
    assert not_yet.reminder_sent_at is None
    assert OutboxEvent.objects.filter(type="activity.reminder_sent").count() == 1


@pytest.mark.django_db
def test_done_activities_and_changed_reminders(world, smtp) -> None:
    done = _due_reminder(world, "Done already")
    activity_complete(actor=world.rep, activity=done)
    assert reminders_send_due() == 0  # a done activity is not reminded
    done.refresh_from_db()
    assert done.reminder_at is None  # its unsent reminder is dropped
    activity = _due_reminder(world, "Moved")
    assert reminders_send_due() == 1
    # A new reminder time goes out again.
    activity_update(
        actor=world.rep,
        activity=activity,
        data=ActivityInput(reminder_at=timezone.now() - dt.timedelta(seconds=1)),
    )
    assert reminders_send_due() == 1
    assert len(smtp.to("rep@example.com")) == 2


@pytest.mark.django_db
def test_a_failed_email_rolls_back_the_claim_and_is_retried(world, settings, smtp) -> None:
    activity = _due_reminder(world)
    port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1  # nothing listens there
    assert reminders_send_due() == 0
    activity.refresh_from_db()
    assert activity.reminder_sent_at is None and not Notification.objects.exists()
    settings.EMAIL_PORT = port
    assert reminders_send_due() == 1
    assert len(smtp.to("rep@example.com")) == 1


@pytest.mark.django_db
def test_the_sweep_reads_in_batches_on_the_partial_index(world, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for i in range(7):
        _due_reminder(world, f"R{i}", minutes_ago=i + 1)
    with CaptureQueriesContext(connection) as ctx:
        assert reminders_send_due(batch_size=3) == 7
    reads = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith("SELECT") and "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]
    ]
    assert len(reads) == 3  # 3 + 3 + 1
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + reads[0])
            plan = " ".join(str(row) for row in cursor.fetchall())
        assert "activity_reminder_due" in plan
    assert reminders_send_due(batch_size=3) == 0


@pytest.mark.django_db
def test_a_reminder_claimed_by_another_sweep_is_not_sent_again(world, settings) -> None:
    """The race, step by step: this sweep read the reminder as due, another sweep sent it
    meanwhile; this sweep's claim (compare-and-swap) then finds nothing to send."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    activity = _due_reminder(world)
    now = timezone.now()
    assert reminders_send_due(now=now) == 1  # the other sweep
    assert reminders._send_one(activity.pk, activity.reminder_at, now) is False
    assert Notification.objects.count() == 1


@pytest.mark.skipif(
    "connection.vendor == 'sqlite'",
    reason="SQLite's shared in-memory test database locks whole tables between threads; "
    "the claim itself is tested step by step above",
)
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_reminder_once(world, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for i in range(20):
        _due_reminder(world, f"R{i}")
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait()
            results.append(reminders_send_due(batch_size=5))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(results) == 20
    assert Notification.objects.count() == 20
    assert (
        Activity.objects.filter(reminder_sent_at__isnull=True, reminder_at__isnull=False).count()
        == 0
    )


@pytest.mark.django_db
def test_notifications_are_read_by_their_recipient_only(world, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _due_reminder(world, "A")
    _due_reminder(world, "B")
    reminders_send_due()
    first, second = Notification.objects.order_by("id")
    assert notification_mark_read(actor=world.mate, notification_id=first.pk) is False
    assert notification_mark_read(actor=world.rep, notification_id=first.pk) is True
    first.refresh_from_db()
    assert first.read_at is not None
    assert notifications_mark_all_read(actor=world.mate) == 0
    assert notifications_mark_all_read(actor=world.rep) == 1
    second.refresh_from_db()
    assert second.read_at is not None
