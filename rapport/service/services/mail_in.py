"""Inbound e-mail: one raw message in, at most one message on a ticket out.

The rules, in order: a Message-ID this mailbox already holds is a duplicate (polling and
pushes are idempotent); our own mail coming back (loops) and auto-replies and bounces are
never turned into tickets; a reply to a known thread (In-Reply-To / References, then the
ticket token in the subject from the ticket's own customer) joins that ticket whatever
its status — it never opens a new one; anything else opens a ticket for the sender,
matched to a customer by normalised e-mail (or created).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from rapport.core.permissions import system_actor
from rapport.customers import services as customer_services
from rapport.customers.models import Customer, EmailAddress
from rapport.customers.normalize import normalize_email
from rapport.service import mime
from rapport.service.models import DeliveryStatus, Mailbox, Message, MessageDirection, Ticket
from rapport.service.services.tickets import (
    MessageInput,
    TicketInput,
    message_receive,
    ticket_create,
)


@dataclass
class IngestResult:
    outcome: str  # created | appended | duplicate | auto_reply | bounce | loop | rejected
    ticket: Ticket | None = None
    message: Message | None = None
    reason: str = ""


def _customer_for(address: str, name: str, actor: Any) -> Customer:
    """The customer with this e-mail (the hub's normalisation), else a new person."""
    email = normalize_email(address)
    match = (
        EmailAddress.objects.filter(email=email, customer__erased_at=None)
        .select_related("customer")
        .order_by("-is_primary", "customer_id")
        .first()
    )
    if match is not None:
        customer = match.customer
        while customer.merged_into_id:  # follow a merge to the surviving record
            customer = Customer.objects.get(pk=customer.merged_into_id)
        return customer
    first, _, last = (name or "").strip().partition(" ")
    if not first:
        first = email.split("@", 1)[0]
    return customer_services.customer_create(
        actor=actor,
        data=customer_services.CustomerInput(
            first_name=first[:100],
            last_name=last[:100] or None,
            source="email",
            emails=[customer_services.EmailInput(email=email, is_primary=True)],
        ),
    )


def _thread(parsed: mime.ParsedMail, customer_id: int | None) -> Ticket | None:
    """The ticket this mail continues, if any (newest reference first)."""
    ids = [i for i in [parsed.in_reply_to, *reversed(parsed.references)] if i]
    if ids:
        found = (
            Message.objects.filter(message_id__in=ids)
            .order_by("-created_at")
            .values_list("ticket_id", flat=True)
            .first()
        )
        if found:
            return Ticket.objects.get(pk=found)
    number = mime.ticket_token(parsed.subject)
    if number is not None and customer_id is not None:
        # Only the ticket's own customer may thread by subject: a token is guessable.
        return Ticket.objects.filter(pk=number, customer_id=customer_id).first()
    return None


def _our_addresses() -> set[str]:
    return {a.lower() for a in Mailbox.objects.values_list("email_address", flat=True)}


def _mark_bounced(parsed: mime.ParsedMail) -> None:
    if parsed.bounced_message_ids:
        Message.objects.filter(
            message_id__in=parsed.bounced_message_ids, direction=MessageDirection.OUT
        ).update(
            delivery_status=DeliveryStatus.FAILED,
            delivery_error=f"Bounced: {parsed.subject}"[:500],
        )


def email_ingest(*, mailbox: Mailbox, raw: bytes, actor: Any = None) -> IngestResult:
    """Take one raw message that arrived at `mailbox` (IMAP poll or webhook push)."""
    actor = actor or system_actor()
    parsed = mime.parse(raw)
    if Message.objects.filter(mailbox=mailbox, message_id=parsed.message_id).exists():
        return IngestResult("duplicate", reason=parsed.message_id)
    ours = _our_addresses()
    if (
        parsed.from_address in ours
        or any(loop in ours for loop in parsed.x_loop)
        or Message.objects.filter(
            message_id=parsed.message_id, direction=MessageDirection.OUT
        ).exists()
    ):
        return IngestResult("loop", reason=f"our own mail ({parsed.from_address})")
    if parsed.automated:
        if parsed.automated == "bounce":
            _mark_bounced(parsed)
        return IngestResult(parsed.automated, reason=parsed.automated_reason)
    if not parsed.from_address:
        return IngestResult("rejected", reason="no sender address")
    try:
        with transaction.atomic():
            return _ingest(mailbox, parsed, actor)
    except IntegrityError:
        # Another poller stored the same Message-ID a moment ago.
        if Message.objects.filter(mailbox=mailbox, message_id=parsed.message_id).exists():
            return IngestResult("duplicate", reason=parsed.message_id)
        raise
    except ValidationError as exc:
        return IngestResult("rejected", reason="; ".join(exc.messages))


def _ingest(mailbox: Mailbox, parsed: mime.ParsedMail, actor: Any) -> IngestResult:
    customer = _customer_for(parsed.from_address, parsed.from_name, actor)
    html = mime.sanitize_html(parsed.html)
    text = parsed.text or (mime.html_to_text(parsed.html) if parsed.html else "")
    data = MessageInput(
        body_text=text,
        body_html=html,
        channel="email",
        subject=parsed.subject,
        from_address=parsed.from_address,
        to_addresses=", ".join(parsed.to),
        cc_addresses=", ".join(parsed.cc),
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=" ".join(parsed.references),
        mailbox_id=mailbox.pk,
        author_customer_id=customer.pk,
        attachments=parsed.attachments,
    )
    if not (text.strip() or html.strip() or parsed.attachments):
        data.body_text = "(empty message)"
    ticket = _thread(parsed, customer.pk)
    if ticket is not None:
        message = message_receive(actor=actor, ticket=ticket, data=data)
        return IngestResult("appended", ticket=message.ticket, message=message)
    ticket = ticket_create(
        actor=actor,
        data=TicketInput(
            customer_id=customer.pk,
            subject=mime.clean_subject(parsed.subject),
            queue_id=mailbox.queue_id,
        ),
        message=data,
        channel="email",
    )
    return IngestResult("created", ticket=ticket, message=ticket.messages.first())
