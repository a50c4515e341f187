"""Service settings an administrator keeps: queues, ticket statuses, business calendars,
SLA policies, mailboxes (passwords encrypted, webhook token hashed), and an agent's own
signature. One grant, "service.settings", covers the configuration."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, fields
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from rapport.core import audit
from rapport.core.models import AuditAction
from rapport.core.permissions import acting_user, require
from rapport.customers.normalize import clean_text, normalize_email
from rapport.service import sla
from rapport.service.models import (
    AgentProfile,
    BusinessCalendar,
    Mailbox,
    Priority,
    Queue,
    Security,
    SLAPolicy,
    StatusCategory,
    TicketStatus,
)

SETTINGS = "service.settings"


def _saved(actor: Any, obj: Any, before: dict[str, Any] | None) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise ValidationError({"name": "That name is already taken."}) from exc
    if before is None:
        audit.record_created(actor=actor, obj=obj)
    elif changes := audit.diff(before, audit.snapshot(obj)):
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=obj, changes=changes)


def _name(value: str, what: str) -> str:
    name = clean_text(value)[:100]
    if not name:
        raise ValidationError({"name": f"Give the {what} a name."})
    return name


@transaction.atomic
def queue_save(
    *,
    actor: Any,
    queue: Queue | None = None,
    name: str,
    description: str = "",
    team_id: int | None = None,
) -> Queue:
    """Create or rename a queue (and the team its new tickets go to)."""
    require(actor, "edit", SETTINGS)
    before = audit.snapshot(queue) if queue else None
    queue = queue or Queue()
    queue.name, queue.description = _name(name, "queue"), clean_text(description)[:300]
    queue.team_id = team_id
    _saved(actor, queue, before)
    return queue


@transaction.atomic
def status_save(
    *,
    actor: Any,
    status: TicketStatus | None = None,
    name: str,
    category: str,
    position: int = 0,
    is_default: bool = False,
) -> TicketStatus:
    """Create or change a ticket status; its category decides what the SLA clocks do."""
    require(actor, "edit", SETTINGS)
    if category not in StatusCategory.values:
        raise ValidationError({"category": "Choose one of the status categories."})
    before = audit.snapshot(status) if status else None
    status = status or TicketStatus()
    status.name, status.category = _name(name, "status")[:60], category
    status.position, status.is_default = position, is_default
    _saved(actor, status, before)
    if is_default:
        TicketStatus.objects.filter(category=category).exclude(pk=status.pk).update(
            is_default=False
        )
    return status


@transaction.atomic
def calendar_save(
    *,
    actor: Any,
    calendar: BusinessCalendar | None = None,
    name: str,
    time_zone: str,
    weekly_hours: dict[str, list[list[str]]],
    holidays: list[str],
) -> BusinessCalendar:
    """Create or change a business calendar (validated: real zone, hours that end after
    they start, ISO holiday dates)."""
    require(actor, "edit", SETTINGS)
    try:
        parsed = sla.calendar_from_settings(
            time_zone=time_zone, weekly_hours=weekly_hours, holidays=holidays
        )
    except ZoneInfoNotFoundError as exc:
        raise ValidationError({"time_zone": f"Unknown time zone {time_zone!r}."}) from exc
    except (ValueError, TypeError) as exc:
        raise ValidationError({"weekly_hours": str(exc)}) from exc
    if not parsed.has_hours:
        raise ValidationError({"weekly_hours": "Give at least one day working hours."})
    before = audit.snapshot(calendar) if calendar else None
    calendar = calendar or BusinessCalendar()
    calendar.name, calendar.time_zone = _name(name, "calendar"), time_zone
    calendar.weekly_hours = {str(k): v for k, v in weekly_hours.items()}
    calendar.holidays = sorted(set(holidays))
    _saved(actor, calendar, before)
    return calendar


@dataclass
class SLAPolicyInput:
    name: str
    calendar_id: int
    priority: str = ""
    customer_tag: str = ""
    first_response_minutes: int | None = None
    next_response_minutes: int | None = None
    resolution_minutes: int | None = None
    warn_before_minutes: int = 60
    position: int = 0
    active: bool = True
    escalate_to_id: int | None = None
    escalate_queue_id: int | None = None


@transaction.atomic
def sla_policy_save(
    *, actor: Any, policy: SLAPolicy | None = None, data: SLAPolicyInput
) -> SLAPolicy:
    """Create or change an SLA policy. New targets apply to tickets opened from now on."""
    require(actor, "edit", SETTINGS)
    if data.priority and data.priority not in Priority.values:
        raise ValidationError({"priority": "Choose a priority or leave it for any."})
    if not BusinessCalendar.objects.filter(pk=data.calendar_id).exists():
        raise ValidationError({"calendar_id": "Choose a business calendar."})
    targets = (data.first_response_minutes, data.next_response_minutes, data.resolution_minutes)
    if not any(targets):
        raise ValidationError({"first_response_minutes": "Set at least one target."})
    before = audit.snapshot(policy) if policy else None
    policy = policy or SLAPolicy()
    for f in fields(data):
        setattr(policy, f.name, getattr(data, f.name))
    policy.name = _name(data.name, "policy")
    policy.customer_tag = clean_text(data.customer_tag).lower()[:64]
    _saved(actor, policy, before)
    return policy


@dataclass
class MailboxInput:
    name: str
    email_address: str
    enabled: bool = True
    queue_id: int | None = None
    signature: str = ""
    imap_host: str = ""
    imap_port: int = 993
    imap_security: str = "ssl"
    imap_user: str = ""
    imap_password: str | None = None  # None: keep the stored one
    folders: list[str] | None = None
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str | None = None
    alert_after_minutes: int = 30


@transaction.atomic
def mailbox_save(*, actor: Any, mailbox: Mailbox | None = None, data: MailboxInput) -> Mailbox:
    """Create or change a mailbox. Passwords are stored encrypted and never shown again;
    leaving one empty keeps the stored password."""
    require(actor, "edit", SETTINGS)
    errors: dict[str, str] = {}
    try:
        address = normalize_email(data.email_address)
    except ValidationError as exc:
        errors["email_address"] = exc.messages[0]
        address = ""
    if not address and "email_address" not in errors:
        errors["email_address"] = "Give the mailbox's address."
    for name in ("imap_security", "smtp_security"):
        if getattr(data, name) not in Security.values:
            errors[name] = "Choose SSL/TLS, STARTTLS or none."
    folders = [clean_text(f)[:200] for f in (data.folders or []) if clean_text(f)]
    if data.imap_host and not data.imap_user:
        errors["imap_user"] = "Give the IMAP user name."
    if errors:
        raise ValidationError(errors)
    before = audit.snapshot(mailbox, _AUDITED) if mailbox else None
    mailbox = mailbox or Mailbox()
    for f in fields(data):
        if f.name in ("imap_password", "smtp_password", "folders"):
            continue
        setattr(mailbox, f.name, getattr(data, f.name))
    mailbox.name = _name(data.name, "mailbox")
    mailbox.email_address = address
    mailbox.folders = folders or ["INBOX"]
    if data.imap_password:
        mailbox.imap_password = data.imap_password
    if data.smtp_password:
        mailbox.smtp_password = data.smtp_password
    try:
        with transaction.atomic():
            mailbox.save()
    except IntegrityError as exc:
        raise ValidationError(
            {"email_address": "Another mailbox has this name or address."}
        ) from exc
    if before is None:
        audit.record(
            actor=actor,
            action=AuditAction.CREATE,
            obj=mailbox,
            changes={k: [None, v] for k, v in audit.snapshot(mailbox, _AUDITED).items()},
        )
    elif changes := audit.diff(before, audit.snapshot(mailbox, _AUDITED)):
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=mailbox, changes=changes)
    return mailbox


# Never the passwords (encrypted at rest; the audit log must not hold them in clear).
_AUDITED = [
    "name", "email_address", "enabled", "queue_id", "imap_host", "imap_port", "imap_user",
    "folders", "smtp_host", "smtp_port", "smtp_user", "alert_after_minutes",
]  # fmt: skip


def webhook_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def mailbox_rotate_webhook_token(*, actor: Any, mailbox: Mailbox) -> str:
    """A new secret for the inbound webhook, shown once; only its hash is stored."""
    require(actor, "edit", SETTINGS)
    token = "rmw_" + secrets.token_urlsafe(32)
    mailbox.webhook_token_hash = webhook_token_hash(token)
    mailbox.save(update_fields=["webhook_token_hash", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditAction.SECURITY,
        obj=mailbox,
        changes={"webhook_token": ["", "rotated"]},
    )
    return token


@transaction.atomic
def agent_signature_save(*, actor: Any, signature: str) -> AgentProfile:
    """The signature under the acting agent's own replies."""
    user = acting_user(actor)
    if user is None:
        raise ValidationError({"signature": "Only a signed-in agent has a signature."})
    profile, _ = AgentProfile.objects.get_or_create(user=user)
    profile.signature = (signature or "").strip()[:2000]
    profile.save(update_fields=["signature"])
    return profile
