"""Service: tickets and their messages on every channel, queues, admin-defined statuses,
SLA policies counted in business hours, and the mailboxes e-mail arrives through.

A ticket is an owned record: its owner is the assignee and its team the assigned team, so
record scope (own / team / all) means "my tickets", "my team's tickets", "every ticket".
A message has a channel (e-mail, chat, portal, phone, note): later channels add messages
to the same tickets without a model change.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from rapport.core.crypto import EncryptedTextField
from rapport.core.models import OwnedModel, TimestampedModel


class StatusCategory(models.TextChoices):
    """What a status means to the SLA clocks and the inbox; admins name their own statuses
    and put each in one of these."""

    OPEN = "open", "Open"
    WAITING_ON_CUSTOMER = "waiting_on_customer", "Waiting on customer"
    ON_HOLD = "on_hold", "On hold"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


# The SLA clocks stop while a ticket waits on someone else.
PAUSED_CATEGORIES = (StatusCategory.WAITING_ON_CUSTOMER, StatusCategory.ON_HOLD)
DONE_CATEGORIES = (StatusCategory.SOLVED, StatusCategory.CLOSED)


class TicketStatus(models.Model):
    name = models.CharField(max_length=60, unique=True)
    category = models.CharField(max_length=24, choices=StatusCategory.choices)
    position = models.PositiveSmallIntegerField(default=0)
    # The status new tickets (and customer replies to a solved ticket) get.
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "ticket statuses"

    def __str__(self) -> str:
        return self.name


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class TicketType(models.TextChoices):
    QUESTION = "question", "Question"
    PROBLEM = "problem", "Problem"
    INCIDENT = "incident", "Incident"
    TASK = "task", "Task"


class BusinessCalendar(TimestampedModel):
    """Working hours per weekday in a time zone, and holidays (no work all day).

    `weekly_hours`: {"0": [["09:00", "17:00"]], …} with Monday = "0"; a weekday without
    an entry is a day off. `holidays`: ISO dates in the calendar's time zone."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    weekly_hours = models.JSONField(default=dict)
    holidays = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return self.name


class Queue(TimestampedModel):
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    team = models.ForeignKey(
        "identity.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SLAPolicy(TimestampedModel):
    """Targets in business minutes for tickets of a priority (blank: any) and of customers
    with a tag (the customer tier; blank: any). The first active policy by position that
    matches a ticket applies."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    priority = models.CharField(max_length=8, choices=Priority.choices, blank=True)
    customer_tag = models.CharField(max_length=64, blank=True)
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="+")
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    # A warning (and "breaching soon" in the inbox) this many business minutes before due.
    warn_before_minutes = models.PositiveIntegerField(default=60)
    # Escalation when a target is breached: reassign and/or notify.
    escalate_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    escalate_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name


class Security(models.TextChoices):
    SSL = "ssl", "SSL/TLS"
    STARTTLS = "starttls", "STARTTLS"
    NONE = "none", "None (local testing only)"


class Mailbox(TimestampedModel):
    """A support address: polled over IMAP (or pushed to the webhook), replied from over
    SMTP. Passwords are encrypted at rest; the webhook token is stored as a hash."""

    name = models.CharField(max_length=100, unique=True)
    email_address = models.CharField(max_length=254, unique=True)
    enabled = models.BooleanField(default=True)
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signature = models.TextField(blank=True)
    imap_host = models.CharField(max_length=200, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    imap_security = models.CharField(max_length=8, choices=Security.choices, default="ssl")
    imap_user = models.CharField(max_length=200, blank=True)
    imap_password = EncryptedTextField(blank=True, default="")
    folders = models.JSONField(default=list, blank=True)
    smtp_host = models.CharField(max_length=200, blank=True)
    smtp_port = models.PositiveIntegerField(default=587)
    smtp_security = models.CharField(max_length=8, choices=Security.choices, default="starttls")
    smtp_user = models.CharField(max_length=200, blank=True)
    smtp_password = EncryptedTextField(blank=True, default="")
    webhook_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # Health: what the mailbox health page shows and the stale-sync alert reads.
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    alert_after_minutes = models.PositiveIntegerField(default=30)
    alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return f"{self.name} <{self.email_address}>"

    @property
    def polls(self) -> bool:
        return self.enabled and bool(self.imap_host)

    @property
    def backlog(self) -> int:
        return sum(f.backlog for f in self.folder_states.all())


class MailboxFolder(models.Model):
    """Where polling of one folder stands: the last UID fetched under one UIDVALIDITY."""

    mailbox = models.ForeignKey(
        Mailbox, on_delete=models.CASCADE, related_name="folder_states", db_index=False
    )
    folder = models.CharField(max_length=200)
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    backlog = models.PositiveIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "folder"], name="mailbox_folder_once")
        ]

    def __str__(self) -> str:
        return f"{self.mailbox_id}:{self.folder}"


class AgentProfile(models.Model):
    """What service keeps about an agent: the signature under their replies."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="service_profile"
    )
    signature = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"Profile of user {self.user_id}"


class Ticket(OwnedModel):
    """A customer's request on any channel. owner = assignee, team = assigned team."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    subject = models.CharField(max_length=300)
    status = models.ForeignKey(TicketStatus, on_delete=models.PROTECT, related_name="+")
    # Denormalised from the status: the inbox and the SLA worker filter on it by index.
    status_category = models.CharField(max_length=24, choices=StatusCategory.choices)
    priority = models.CharField(max_length=8, choices=Priority.choices, default="normal")
    type = models.CharField(max_length=10, choices=TicketType.choices, default="question")
    queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    tags = models.JSONField(default=list, blank=True)
    orders = models.ManyToManyField("commerce.Order", blank=True, related_name="+")
    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=8, default="email")
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # SLA: the policy that applied, each target's due time (NULL while paused or met),
    # when it was met, whether it was breached, and what was left when the clock paused.
    sla_policy = models.ForeignKey(
        SLAPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_response_due = models.DateTimeField(null=True, blank=True)
    next_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    # The earliest of the three: what the breach worker and "breaching soon" index on.
    sla_next_due = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_remaining = models.JSONField(default=dict, blank=True)
    first_response_breached = models.BooleanField(default=False)
    next_response_breached = models.BooleanField(default=False)
    resolution_breached = models.BooleanField(default=False)
    sla_warned_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "id"], name="ticket_owner_id"),
            models.Index(fields=["team", "id"], name="ticket_team_id"),
            models.Index(fields=["customer", "-created_at", "-id"], name="ticket_customer"),
            models.Index(
                fields=["status_category", "-last_message_at", "-id"], name="ticket_cat_recent"
            ),
            models.Index(
                fields=["queue", "status_category", "-last_message_at", "-id"],
                name="ticket_queue_recent",
            ),
            models.Index(
                fields=["owner", "status_category", "-last_message_at", "-id"],
                name="ticket_owner_recent",
            ),
            models.Index(
                fields=["team", "status_category", "-last_message_at", "-id"],
                name="ticket_team_recent",
            ),
            models.Index(fields=["-last_message_at", "-id"], name="ticket_recent"),
            models.Index(fields=["sla_next_due", "id"], name="ticket_sla_due"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("service:ticket_detail", args=[self.pk])

    @property
    def etag(self) -> str:
        return f'"{self.pk}-{self.version}"'

    @property
    def reference(self) -> str:
        """What outgoing subjects carry, so a reply that lost its headers still threads."""
        return f"[#{self.pk}]"

    @property
    def breached(self) -> bool:
        return (
            self.first_response_breached or self.next_response_breached or self.resolution_breached
        )


class MessageChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    CHAT = "chat", "Chat"
    PORTAL = "portal", "Portal"
    PHONE = "phone", "Phone"
    NOTE = "note", "Internal note"


class MessageDirection(models.TextChoices):
    IN = "in", "From the customer"
    OUT = "out", "To the customer"
    INTERNAL = "internal", "Internal"


class DeliveryStatus(models.TextChoices):
    NONE = "", "—"
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Message(models.Model):
    id = models.BigAutoField(primary_key=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    channel = models.CharField(max_length=8, choices=MessageChannel.choices)
    direction = models.CharField(max_length=8, choices=MessageDirection.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_address = models.CharField(max_length=254, blank=True)
    to_addresses = models.TextField(blank=True)
    cc_addresses = models.TextField(blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body_text = models.TextField(blank=True)
    # Already sanitised by nh3 when stored: pages render it as is.
    body_html = models.TextField(blank=True)
    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    message_id = models.CharField(max_length=255, blank=True)
    in_reply_to = models.CharField(max_length=255, blank=True)
    references = models.TextField(blank=True)
    delivery_status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, blank=True, default=""
    )
    delivery_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["ticket", "created_at", "id"], name="message_ticket"),
            models.Index(fields=["message_id"], name="message_msgid"),
        ]
        constraints = [
            # What makes IMAP polling and webhook pushes idempotent.
            models.UniqueConstraint(
                fields=["mailbox", "message_id"],
                condition=~models.Q(message_id=""),
                name="message_once_per_mailbox",
            )
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} on ticket {self.ticket_id}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=150)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    # The path under VAR_DIR/files; never served directly, only through the ticket's view.
    path = models.CharField(max_length=300)
    content_id = models.CharField(max_length=255, blank=True)

    def __str__(self) -> str:
        return self.filename

    def get_absolute_url(self) -> str:
        return reverse("service:attachment", args=[self.pk])
