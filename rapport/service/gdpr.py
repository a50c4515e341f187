"""What service holds about a person: their tickets and the messages on them. Erasure
keeps the tickets (service statistics) but blanks what may quote the person: subjects,
bodies, addresses, and deletes attachment files."""

from __future__ import annotations

import contextlib
from typing import Any

from rapport.core import registry
from rapport.core.gdpr import ErasureContext
from rapport.service import attachments
from rapport.service.models import Attachment, Message, Ticket

REDACTED = "[erased]"


def export(*, customer_id: int) -> dict[str, Any]:
    tickets = list(
        Ticket.objects.filter(customer_id=customer_id)
        .order_by("created_at", "id")
        .values("id", "subject", "status__name", "priority", "created_at", "resolved_at")
    )
    messages = list(
        Message.objects.filter(ticket__customer_id=customer_id)
        .exclude(direction="internal")
        .order_by("created_at", "id")
        .values(
            "ticket_id",
            "direction",
            "channel",
            "from_address",
            "subject",
            "body_text",
            "created_at",
        )
    )
    return {"tickets": tickets, "ticket_messages": messages}


def erase(*, ctx: ErasureContext) -> int:
    tickets = Ticket.objects.filter(customer_id=ctx.customer_id)
    ids = list(tickets.values_list("pk", flat=True))
    ctx.add_objects("service.ticket", ids)
    changed = tickets.update(subject=REDACTED, tags=[])
    messages = Message.objects.filter(ticket_id__in=ids)
    changed += messages.update(
        subject=REDACTED,
        body_text=REDACTED,
        body_html="",
        from_address="",
        to_addresses="",
        cc_addresses="",
        references="",
    )
    files = Attachment.objects.filter(message__ticket_id__in=ids)
    for attachment in files:
        with contextlib.suppress(FileNotFoundError):
            attachments.path_of(attachment).unlink(missing_ok=True)
    changed += files.delete()[0]
    return changed


def register() -> None:
    registry.add_gdpr_contributor(
        registry.GdprContributor(
            key="service", label="Tickets", erase=erase, export=export, order=25
        )
    )
