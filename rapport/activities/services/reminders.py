"""Reminders: the scheduled sweep that tells owners about their due activities, in the
app (a notification under the bell) and by e-mail, each reminder exactly once; and the
notifications' read state."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from rapport.activities.models import Activity, ActivityStatus, Notification
from rapport.activities.schemas import activity_payload
from rapport.core import outbox
from rapport.core.permissions import acting_user

logger = logging.getLogger(__name__)

BATCH_SIZE = 200


def _due(now: dt.datetime) -> Any:
    # Exactly the partial index `activity_reminder_due`'s condition, plus the range. Only
    # open activities have unsent reminders (closing one drops it); the claim checks again.
    return Activity.objects.filter(
        reminder_at__isnull=False,
        reminder_sent_at__isnull=True,
        reminder_at__lte=now,
    )


def _message(activity: Activity) -> tuple[str, str, str]:
    local = timezone.localtime(activity.due_at)
    when = local.strftime("%d %b %Y, %H:%M")
    title = f"Reminder: {activity.subject}"
    url = reverse("activities:detail", args=[activity.pk])
    customer = f" with {activity.customer.display_name}" if activity.customer else ""
    body = f"{activity.get_kind_display()}{customer}, due {when}."
    return title, body, url


def _send_one(activity_id: int, reminder_at: dt.datetime, now: dt.datetime) -> bool:
    """Claim one reminder and deliver it in one transaction: the claim (a compare-and-swap
    on `reminder_sent_at`) lets only one sweep through, and a failed e-mail rolls the
    claim back so the next sweep tries again."""
    with transaction.atomic():
        claimed = Activity.objects.filter(
            pk=activity_id,
            status=ActivityStatus.OPEN,
            reminder_at=reminder_at,
            reminder_sent_at__isnull=True,
        ).update(reminder_sent_at=now)
        if not claimed:  # another sweep sent it, or the activity changed meanwhile
            return False
        activity = Activity.objects.select_related("owner", "customer").get(pk=activity_id)
        owner = activity.owner
        if owner is None or not owner.is_active:
            return True  # nobody to tell: the reminder is spent, not retried forever
        title, body, url = _message(activity)
        Notification.objects.create(
            recipient=owner, title=title, body=body, url=url, activity=activity
        )
        outbox.emit(
            "activity.reminder_sent",
            {**activity_payload(activity), "reminder_at": reminder_at.isoformat()},
            aggregate=activity,
        )
        if owner.email:
            text = f"{body}\n\nOpen it: {settings.SITE_URL}{url}\n"
            if activity.notes:
                text += f"\n{activity.notes}\n"
            EmailMessage(subject=title, body=text, to=[owner.email]).send()
    return True


def reminders_send_due(*, now: dt.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Send every reminder that is due and not sent yet; return how many went out.

    Reads the due ones in batches on the partial index, walking (reminder_at, id) so a
    reminder whose e-mail failed is skipped for this run instead of read again. Safe to
    run twice or on two workers at once: each reminder is claimed before it is sent."""
    now = now or timezone.now()
    sent = 0
    after: tuple[dt.datetime, int] | None = None
    while True:
        due = _due(now)
        if after is not None:
            due = due.filter(reminder_at__gte=after[0]).exclude(
                reminder_at=after[0], id__lte=after[1]
            )
        batch = list(
            due.order_by("reminder_at", "id").values_list("id", "reminder_at")[:batch_size]
        )
        for activity_id, reminder_at in batch:
            try:
                sent += _send_one(activity_id, reminder_at, now)
            except Exception:
                logger.exception("Reminder for activity %s failed; it is retried", activity_id)
        if len(batch) < batch_size:
            return sent
        last_id, last_at = batch[-1]
        after = (last_at, last_id)


@transaction.atomic
def notification_mark_read(*, actor: Any, notification_id: int) -> bool:
    """Mark one of the actor's notifications read; False when it is not theirs."""
    user = acting_user(actor)
    if user is None:
        return False
    return (
        bool(
            Notification.objects.filter(
                pk=notification_id, recipient=user, read_at__isnull=True
            ).update(read_at=timezone.now())
        )
        or Notification.objects.filter(pk=notification_id, recipient=user).exists()
    )


@transaction.atomic
def notifications_mark_all_read(*, actor: Any) -> int:
    """Mark every unread notification of the actor read; returns how many."""
    user = acting_user(actor)
    if user is None:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
