"""Activities (tasks, calls, meetings) and the in-app notifications their reminders raise."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from rapport.core.models import OwnedModel


class ActivityKind(models.TextChoices):
    TASK = "task", "Task"
    CALL = "call", "Call"
    MEETING = "meeting", "Meeting"


class ActivityStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class Priority(models.IntegerChoices):
    # Numbers, so that "high first" is a plain descending sort.
    LOW = 1, "Low"
    NORMAL = 2, "Normal"
    HIGH = 3, "High"


class CallDirection(models.TextChoices):
    INBOUND = "in", "Inbound"
    OUTBOUND = "out", "Outbound"
    NONE = "", "—"


class CallOutcome(models.TextChoices):
    CONNECTED = "connected", "Connected"
    LEFT_VOICEMAIL = "voicemail", "Left voicemail"
    NO_ANSWER = "no_answer", "No answer"
    BUSY = "busy", "Busy"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    NONE = "", "—"


class Activity(OwnedModel):
    """Something a user does or did with a customer: a task, a call or a meeting.

    `due_at` is never empty: a task's deadline, a call's time, a meeting's start. Lists,
    "My day" and keyset cursors sort on it, and a cursor cannot hold NULL.
    `related_type`/`related_id` point at any other record by its object type name
    ("sales.deal", 42) so apps above this one (sales, service) link their records without
    this app importing them. A logged call (the service desk's phone log too) is an
    activity of kind call, created done, with direction, duration, outcome and recording.
    """

    kind = models.CharField(max_length=8, choices=ActivityKind.choices)
    subject = models.CharField(max_length=200)
    notes = models.TextField(blank=True)
    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="activities",
        db_index=False,  # the (customer, status, due_at) index leads with it
    )
    related_type = models.CharField(max_length=100, blank=True)
    related_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=10, choices=ActivityStatus.choices, default=ActivityStatus.OPEN
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    due_at = models.DateTimeField()
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    reminder_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    # Calls.
    call_direction = models.CharField(
        max_length=3, choices=CallDirection.choices, blank=True, default=""
    )
    call_duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    call_outcome = models.CharField(
        max_length=16, choices=CallOutcome.choices, blank=True, default=""
    )
    recording_url = models.URLField(max_length=500, blank=True)
    # Meetings: the iCalendar UID stays the same for the meeting's life; SEQUENCE grows
    # with every change attendees are told about (RFC 5546).
    location = models.CharField(max_length=255, blank=True)
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="meeting_invitations"
    )
    attendee_emails = models.JSONField(default=list, blank=True)
    ical_uid = models.UUIDField(default=uuid.uuid4, editable=False, unique=True)
    ical_sequence = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["owner", "id"], name="activity_owner"),
            models.Index(fields=["team", "id"], name="activity_team"),
            # "My day": an owner's open activities by due time (overdue, today, upcoming).
            models.Index(fields=["owner", "status", "due_at", "id"], name="activity_my_day"),
            # The customer's list (the 360° panel) and its open ones first.
            models.Index(fields=["customer", "status", "due_at", "id"], name="activity_customer"),
            # The list sorted by due date for users who see everything, and its status
            # filter (open ones are a small, recent share: without it the walk in due
            # order passes years of done activities first).
            models.Index(fields=["due_at", "id"], name="activity_due"),
            models.Index(fields=["status", "due_at", "id"], name="activity_status_due"),
            # "High priority first" on the whole list without sorting it.
            models.Index(fields=["priority", "id"], name="activity_priority"),
            models.Index(fields=["related_type", "related_id"], name="activity_related"),
            # The reminder sweep reads only unsent reminders: a partial index that stays
            # small (closing an activity drops its unsent reminder, see services).
            models.Index(
                fields=["reminder_at", "id"],
                name="activity_reminder_due",
                condition=models.Q(reminder_at__isnull=False, reminder_sent_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("activities:detail", args=[self.pk])

    @property
    def status_tone(self) -> str:
        if self.status == ActivityStatus.DONE:
            return "success"
        if self.status == ActivityStatus.CANCELLED:
            return ""
        return "danger" if self.is_overdue else "primary"

    @property
    def is_open(self) -> bool:
        return self.status == ActivityStatus.OPEN

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_at < timezone.now()


class Notification(models.Model):
    """An in-app message for one user (a reminder today; mentions and assignments later):
    the bell in the navigation counts the unread ones."""

    id = models.BigAutoField(primary_key=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the (recipient, read_at, -created_at) index leads with it
    )
    title = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    activity = models.ForeignKey(
        Activity, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["recipient", "read_at", "-created_at"], name="notification_inbox")
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title
