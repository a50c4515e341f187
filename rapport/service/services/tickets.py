"""Tickets and their messages: open, edit, assign, move through statuses, reply, note,
take in a customer's message, merge. Every action checks access, writes in one
transaction, audits, emits, and puts the interaction on the customer's timeline."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from dataclasses import dataclass, field
from email.utils import make_msgid
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.core import audit, outbox, registry
from rapport.core.models import AuditAction
from rapport.core.permissions import acting_user, can, require, require_assignees_exist
from rapport.core.versioning import bump_version, lock_for_change
from rapport.customers import services as customer_services
from rapport.customers.models import Channel, Customer, Direction, InteractionKind
from rapport.customers.normalize import clean_text
from rapport.service import clock
from rapport.service.models import (
    DONE_CATEGORIES,
    DeliveryStatus,
    Mailbox,
    Message,
    MessageChannel,
    MessageDirection,
    Priority,
    Queue,
    StatusCategory,
    Ticket,
    TicketStatus,
    TicketType,
)
from rapport.service.schemas import message_payload, ticket_payload

DEFAULT_STATUSES = (
    ("Open", StatusCategory.OPEN),
    ("Pending", StatusCategory.WAITING_ON_CUSTOMER),
    ("On hold", StatusCategory.ON_HOLD),
    ("Solved", StatusCategory.SOLVED),
    ("Closed", StatusCategory.CLOSED),
)
MAX_BODY = 200_000


@dataclass
class TicketInput:
    """A ticket's writable fields; None on update means "leave as it is"."""

    customer_id: int | None = None
    subject: str | None = None
    priority: str | None = None
    type: str | None = None
    queue_id: int | None = None
    tags: list[str] | None = None
    order_ids: list[int] | None = None
    owner_id: int | None = None
    team_id: int | None = None


@dataclass
class MessageInput:
    """One message on a ticket, from any channel (e-mail today; chat and portal next)."""

    body_text: str = ""
    body_html: str = ""
    channel: str = MessageChannel.EMAIL
    subject: str = ""
    from_address: str = ""
    to_addresses: str = ""
    cc_addresses: str = ""
    message_id: str = ""
    in_reply_to: str = ""
    references: str = ""
    mailbox_id: int | None = None
    author_customer_id: int | None = None
    created_at: dt.datetime | None = None
    # (filename, content type, bytes, content id) stored beside the message.
    attachments: list[tuple[str, str, bytes, str]] = field(default_factory=list)


def statuses_seed() -> list[TicketStatus]:
    """The five standard statuses, created once (admins rename or add their own)."""
    if not TicketStatus.objects.exists():
        for position, (name, category) in enumerate(DEFAULT_STATUSES):
            TicketStatus.objects.get_or_create(
                name=name,
                defaults={
                    "category": category,
                    "position": position * 10,
                    "is_default": category == StatusCategory.OPEN,
                },
            )
    return list(TicketStatus.objects.all())


def _status_of(category: str) -> TicketStatus:
    statuses_seed()
    qs = TicketStatus.objects.filter(category=category).order_by("-is_default", "position", "id")
    status = qs.first()
    if status is None:
        raise ValidationError({"status": f"No ticket status is in the {category} category."})
    return status


def _choice(value: str, choices: Any, label: str) -> str:
    if value not in choices.values:
        raise ValidationError(f"Unknown {label} {value!r}.")
    return value


def _tags(values: list[str]) -> list[str]:
    tags = []
    for raw in values:
        tag = clean_text(raw).lower()[:50]
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def _values(data: TicketInput, *, creating: bool) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}

    def add(name: str, exc: Exception | str) -> None:
        msgs = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        errors.setdefault(name, []).extend(msgs)

    if data.subject is not None or creating:
        subject = clean_text(data.subject or "")[:300]
        if not subject:
            add("subject", "Give the ticket a subject.")
        values["subject"] = subject
    for name, choices in (("priority", Priority), ("type", TicketType)):
        raw = getattr(data, name)
        if raw is not None:
            try:
                values[name] = _choice(raw, choices, name)
            except ValidationError as exc:
                add(name, exc)
    if data.queue_id is not None:
        if data.queue_id and not Queue.objects.filter(pk=data.queue_id).exists():
            add("queue_id", f"There is no queue #{data.queue_id}.")
        values["queue_id"] = data.queue_id or None
    if data.tags is not None:
        values["tags"] = _tags(data.tags)
    if errors:
        raise ValidationError(errors)
    return values


def _set_orders(actor: Any, ticket: Ticket, order_ids: list[int]) -> None:
    from rapport.commerce.models import Order  # commerce sits below service

    orders = list(Order.objects.filter(pk__in=order_ids))
    if len(orders) != len(set(order_ids)):
        raise ValidationError({"order_ids": "Some of these orders do not exist."})
    for order in orders:
        if order.customer_id != ticket.customer_id:
            raise ValidationError({"order_ids": f"Order {order.pk} is another customer's."})
        if not can(actor, "view", order):
            raise PermissionDenied("You may not see one of these orders.")
    ticket.orders.set(orders)


def _timeline(actor: Any, ticket: Ticket, message: Message | None = None) -> None:
    """A ticket (anchor) or a message on it, on the customer's timeline."""
    if message is None:
        customer_services.interaction_record(
            actor=actor,
            customer=ticket.customer,
            kind=InteractionKind.TICKET,
            summary=f"Ticket #{ticket.pk} opened: {ticket.subject}",
            channel=_TIMELINE_CHANNEL.get(ticket.channel, Channel.SYSTEM),
            source=ticket,
            data={"ticket_id": ticket.pk, "status": ticket.status.name},
        )
        return
    verb = {"in": "Message from the customer", "out": "Reply sent", "internal": "Internal note"}
    customer_services.interaction_record(
        actor=actor,
        customer=ticket.customer,
        kind=_TIMELINE_KIND.get(message.channel, InteractionKind.TICKET),
        summary=f"{verb[message.direction]} on ticket #{ticket.pk}: {ticket.subject}",
        channel=_TIMELINE_CHANNEL.get(message.channel, Channel.SYSTEM),
        direction={"in": Direction.INBOUND, "out": Direction.OUTBOUND}.get(
            message.direction, Direction.NONE
        ),
        occurred_at=message.created_at,
        body=message.body_text[:2000],
        source=message,
        data={"ticket_id": ticket.pk, "message_id": message.pk},
    )


_TIMELINE_KIND = {
    "email": InteractionKind.EMAIL,
    "chat": InteractionKind.CHAT,
    "phone": InteractionKind.CALL,
    "portal": InteractionKind.TICKET,
    "note": InteractionKind.NOTE,
}
_TIMELINE_CHANNEL = {
    "email": Channel.EMAIL,
    "chat": Channel.CHAT,
    "phone": Channel.PHONE,
    "portal": Channel.WEB,
}


def _store_message(ticket: Ticket, direction: str, data: MessageInput, author: Any) -> Message:
    from rapport.service import attachments

    body = (data.body_text or "")[:MAX_BODY]
    if not body.strip() and not data.body_html.strip() and not data.attachments:
        raise ValidationError({"body": "Write a message."})
    message = Message.objects.create(
        ticket=ticket,
        channel=data.channel,
        direction=direction,
        author_user=acting_user(author),
        author_customer_id=data.author_customer_id,
        from_address=data.from_address[:254],
        to_addresses=data.to_addresses,
        cc_addresses=data.cc_addresses,
        subject=data.subject[:300],
        body_text=body,
        body_html=data.body_html[:MAX_BODY],
        mailbox_id=data.mailbox_id,
        message_id=data.message_id[:255],
        in_reply_to=data.in_reply_to[:255],
        references=data.references,
        created_at=data.created_at or timezone.now(),
    )
    for filename, content_type, content, content_id in data.attachments:
        attachments.store(message, filename, content_type, content, content_id)
    return message


def _save(actor: Any, ticket: Ticket, before: dict[str, Any], event: str | None = None) -> None:
    """Save a changed ticket with its audit row and events (updated, plus `event`)."""
    changes = audit.diff(before, audit.snapshot(ticket))
    bump_version(ticket)
    ticket.save()
    ticket.refresh_from_db()
    if changes:
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=ticket, changes=changes)
        payload = {**ticket_payload(ticket), "changed_fields": sorted(changes)}
        outbox.emit("ticket.updated", payload, aggregate=ticket)
        if event:
            outbox.emit(event, payload, aggregate=ticket)


@transaction.atomic
def ticket_create(
    *, actor: Any, data: TicketInput, message: MessageInput | None = None, channel: str = "email"
) -> Ticket:
    """Open a ticket for a customer, optionally with the customer's first message.

    Picks the default open status and the matching SLA policy, writes the audit row,
    `ticket.created` (and `message.received`), and the timeline entries."""
    require(actor, "create", Ticket)
    values = _values(data, creating=True)
    customer = (
        Customer.objects.filter(pk=data.customer_id, merged_into=None).first()
        if data.customer_id
        else None
    )
    if customer is None:
        raise ValidationError({"customer_id": "Choose the customer this ticket is for."})
    if not can(actor, "view", customer):
        raise PermissionDenied("You may not see this customer.")
    require_assignees_exist(owner_id=data.owner_id, team_id=data.team_id)
    status = _status_of(StatusCategory.OPEN)
    now = timezone.now()
    if values.get("queue_id") and data.team_id is None:
        values["team_id"] = Queue.objects.get(pk=values["queue_id"]).team_id
    created = (message.created_at if message else None) or now
    ticket = Ticket(
        customer=customer,
        status=status,
        status_category=status.category,
        channel=_choice(channel, MessageChannel, "channel"),
        owner_id=data.owner_id,
        team_id=values.pop("team_id", data.team_id),
        mailbox_id=message.mailbox_id if message else None,
        created_at=created,
        last_message_at=created,
        **values,
    )
    clock.start(ticket, now=now)
    ticket.save()
    if data.order_ids:
        _set_orders(actor, ticket, data.order_ids)
    audit.record_created(actor=actor, obj=ticket)
    outbox.emit("ticket.created", ticket_payload(ticket), aggregate=ticket)
    _timeline(actor, ticket)
    if message is not None:
        stored = _store_message(ticket, MessageDirection.IN, message, None)
        outbox.emit("message.received", message_payload(stored), aggregate=ticket)
        _timeline(actor, ticket, stored)
    return ticket


@transaction.atomic
def ticket_update(
    *, actor: Any, ticket: Ticket, data: TicketInput, expected_version: int | None = None
) -> Ticket:
    """Change subject, priority, type, queue, tags or linked orders. A new priority may
    bring another SLA policy, whose targets then count from the ticket's creation."""
    require(actor, "edit", ticket)
    ticket = lock_for_change(ticket, expected_version=expected_version)
    values = _values(data, creating=False)
    before = audit.snapshot(ticket)
    for name, value in values.items():
        setattr(ticket, name, value)
    if "priority" in values and before.get("priority") != values["priority"]:
        previous_policy = ticket.sla_policy_id
        if clock.policy_for(ticket) is not None or previous_policy is not None:
            clock.start(ticket, now=timezone.now())
    if data.order_ids is not None:
        _set_orders(actor, ticket, data.order_ids)
    if audit.diff(before, audit.snapshot(ticket)):
        _save(actor, ticket, before)
    return ticket


@transaction.atomic
def ticket_assign(
    *,
    actor: Any,
    ticket: Ticket,
    owner_id: int | None,
    team_id: int | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """Give the ticket to an agent and/or a team (None: unassigned)."""
    require(actor, "edit", ticket)
    ticket = lock_for_change(ticket, expected_version=expected_version)
    require_assignees_exist(owner_id=owner_id, team_id=team_id)
    before = audit.snapshot(ticket)
    ticket.owner_id = owner_id
    ticket.team_id = team_id
    if audit.diff(before, audit.snapshot(ticket)):
        _save(actor, ticket, before, "ticket.assigned")
    return ticket


@transaction.atomic
def ticket_set_status(
    *, actor: Any, ticket: Ticket, status_id: int, expected_version: int | None = None
) -> Ticket:
    """Move the ticket to a status; its category pauses, resumes or stops the SLA clocks."""
    require(actor, "edit", ticket)
    ticket = lock_for_change(ticket, expected_version=expected_version)
    status = TicketStatus.objects.filter(pk=status_id).first()
    if status is None:
        raise ValidationError({"status": "Choose one of the ticket statuses."})
    if ticket.merged_into_id and status.category not in DONE_CATEGORIES:
        raise ValidationError({"status": "A merged ticket stays closed."})
    _move_status(actor, ticket, status)
    return ticket


def _move_status(actor: Any, ticket: Ticket, status: TicketStatus) -> None:
    if status.pk == ticket.status_id:
        return
    before = audit.snapshot(ticket)
    previous = ticket.status_category
    ticket.status = status
    ticket.status_category = status.category
    clock.status_moved(ticket, previous=previous, now=timezone.now())
    _save(actor, ticket, before, "ticket.status_changed")


def _new_message_id(mailbox: Mailbox | None) -> str:
    domain = mailbox.email_address.rsplit("@", 1)[-1] if mailbox else "rapport.invalid"
    return make_msgid(idstring=f"rapport.{secrets.token_hex(4)}", domain=domain)


@transaction.atomic
def ticket_reply(
    *,
    actor: Any,
    ticket: Ticket,
    body: str,
    expected_version: int | None = None,
    status_id: int | None = None,
) -> Message:
    """Reply to the customer: stored at once, sent over SMTP by a task after commit.

    `expected_version` is the version the agent's page showed: if someone replied (or
    changed the ticket) since, the reply is refused with Conflict so the agent reads first.
    Meets the first/next response target; `status_id` moves the ticket in the same step
    (reply and set to pending, reply and solve)."""
    require(actor, "edit", ticket)
    ticket = lock_for_change(ticket, expected_version=expected_version)
    if ticket.merged_into_id:
        raise ValidationError({"body": "This ticket was merged: reply on the ticket it went into."})
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write the reply."})
    last_in = ticket.messages.filter(direction=MessageDirection.IN).order_by("-created_at", "-id")
    parent = last_in.first()
    mailbox = ticket.mailbox or (parent.mailbox if parent else None)
    to = parent.from_address if parent and parent.from_address else ticket.customer.primary_email
    if not to:
        raise ValidationError({"body": "The customer has no e-mail address to reply to."})
    references = ""
    if parent is not None:
        references = " ".join(x for x in (parent.references, parent.message_id) if x).strip()
    subject = (
        ticket.subject if ticket.subject.lower().startswith("re:") else f"Re: {ticket.subject}"
    )
    now = timezone.now()
    message = _store_message(
        ticket,
        MessageDirection.OUT,
        MessageInput(
            body_text=body,
            channel=MessageChannel.EMAIL,
            subject=f"{subject} {ticket.reference}",
            from_address=mailbox.email_address if mailbox else "",
            to_addresses=to,
            message_id=_new_message_id(mailbox),
            in_reply_to=parent.message_id if parent else "",
            references=references,
            mailbox_id=mailbox.pk if mailbox else None,
            created_at=now,
        ),
        actor,
    )
    message.delivery_status = DeliveryStatus.QUEUED
    message.save(update_fields=["delivery_status"])
    before = audit.snapshot(ticket)
    clock.agent_replied(ticket, now=now)
    ticket.last_message_at = now
    if status_id is not None:
        status = TicketStatus.objects.filter(pk=status_id).first()
        if status is None:
            raise ValidationError({"status": "Choose one of the ticket statuses."})
        previous = ticket.status_category
        ticket.status = status
        ticket.status_category = status.category
        clock.status_moved(ticket, previous=previous, now=now)
    moved = ticket.status_id != before.get("status_id")
    _save(actor, ticket, before, "ticket.status_changed" if moved else None)
    outbox.emit("message.sent", message_payload(message), aggregate=ticket)
    _timeline(actor, ticket, message)
    transaction.on_commit(lambda: registry.enqueue("service.deliver_message", message.pk))
    return message


@transaction.atomic
def ticket_add_note(*, actor: Any, ticket: Ticket, body: str) -> Message:
    """An internal note: agents see it, the customer never does. It changes no clock and
    no version (a note is no reason to warn another agent about a collision)."""
    require(actor, "edit", ticket)
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write the note."})
    message = _store_message(
        ticket,
        MessageDirection.INTERNAL,
        MessageInput(body_text=body, channel=MessageChannel.NOTE),
        actor,
    )
    audit.record(
        actor=actor, action=AuditAction.UPDATE, obj=ticket, changes={"note": [None, message.pk]}
    )
    outbox.emit("message.note_added", message_payload(message), aggregate=ticket)
    _timeline(actor, ticket, message)
    return message


@transaction.atomic
def message_receive(*, actor: Any, ticket: Ticket, data: MessageInput) -> Message:
    """A customer's message on an existing ticket (a reply by e-mail; chat and portal
    next). Reopens a solved or closed ticket, ends "waiting on customer", and starts the
    next-response clock. Never opens a new ticket."""
    require(actor, "edit", ticket)
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    while ticket.merged_into_id:  # replies to a merged ticket go to the surviving one
        ticket = Ticket.objects.select_for_update().get(pk=ticket.merged_into_id)
    message = _store_message(ticket, MessageDirection.IN, data, None)
    before = audit.snapshot(ticket)
    now = timezone.now()
    ticket.last_message_at = max(ticket.last_message_at, message.created_at)
    if ticket.status_category in (*DONE_CATEGORIES, StatusCategory.WAITING_ON_CUSTOMER):
        status = _status_of(StatusCategory.OPEN)
        previous = ticket.status_category
        ticket.status = status
        ticket.status_category = status.category
        clock.status_moved(ticket, previous=previous, now=now)
    clock.customer_wrote(ticket, now=now)
    _save(actor, ticket, before)
    outbox.emit("message.received", message_payload(message), aggregate=ticket)
    _timeline(actor, ticket, message)
    return message


@transaction.atomic
def ticket_delete(*, actor: Any, ticket: Ticket, expected_version: int | None = None) -> None:
    """Delete a ticket with its messages and attachments (spam, a test). The customer's
    timeline keeps what happened; the audit row keeps the ticket as it was."""
    require(actor, "delete", ticket)
    ticket = lock_for_change(ticket, expected_version=expected_version)
    payload = ticket_payload(ticket)
    from rapport.service import attachments

    files = list(attachments.Attachment.objects.filter(message__ticket=ticket))
    transaction.on_commit(lambda: _unlink(files))
    audit.record_deleted(actor=actor, obj=ticket, before=audit.snapshot(ticket))
    outbox.emit("ticket.deleted", payload, aggregate=ticket)
    ticket.delete()


def _unlink(files: list[Any]) -> None:
    from rapport.service import attachments

    for attachment in files:
        with contextlib.suppress(FileNotFoundError):
            attachments.path_of(attachment).unlink(missing_ok=True)


@transaction.atomic
def ticket_merge(*, actor: Any, source: Ticket, target: Ticket) -> Ticket:
    """Merge `source` into `target` (same customer): its messages move over, it is closed
    and points at `target`, so later replies to its thread land on `target`."""
    require(actor, "edit", source)
    require(actor, "edit", target)
    if source.pk == target.pk:
        raise ValidationError({"target": "A ticket cannot be merged into itself."})
    source = lock_for_change(source, expected_version=None)
    target = lock_for_change(target, expected_version=None)
    if source.customer_id != target.customer_id:
        raise ValidationError({"target": "Only tickets of the same customer can be merged."})
    if target.merged_into_id:
        raise ValidationError({"target": "That ticket was itself merged into another one."})
    moved = Message.objects.filter(ticket=source).update(ticket=target)
    before = audit.snapshot(source)
    source.merged_into = target
    closed = _status_of(StatusCategory.CLOSED)
    previous = source.status_category
    source.status = closed
    source.status_category = closed.category
    clock.status_moved(source, previous=previous, now=timezone.now())
    _save(actor, source, before, "ticket.merged")
    target_before = audit.snapshot(target)
    last = target.messages.order_by("-created_at").values_list("created_at", flat=True).first()
    if last:
        target.last_message_at = last
    _save(actor, target, target_before)
    note = (
        f"Ticket #{source.pk} ({source.subject}) was merged into this one: {moved} messages moved."
    )
    _store_message(
        target, MessageDirection.INTERNAL, MessageInput(body_text=note, channel="note"), actor
    )
    return target
