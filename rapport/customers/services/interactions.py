"""The customer's timeline: any app's interaction, and a user's note."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.core.permissions import acting_user, object_type_of, require
from rapport.customers import normalize
from rapport.customers.models import Channel, Customer, Direction, Interaction, InteractionKind
from rapport.customers.schemas import interaction_payload


@transaction.atomic
def interaction_record(
    *,
    actor: Any,
    customer: Customer,
    kind: str,
    summary: str,
    channel: str = Channel.SYSTEM,
    direction: str = Direction.NONE,
    occurred_at: dt.datetime | None = None,
    body: str = "",
    source: Any = None,
    data: dict[str, Any] | None = None,
    check_access: bool = False,
) -> Interaction:
    """Add an entry to the customer's timeline (any app records its interactions here).

    Other apps' services call this after their own access checks; pass `check_access`
    when the caller is a user acting on the timeline directly (e.g. adding a note).
    """
    if check_access:
        require(actor, "edit", customer)
    if kind not in InteractionKind.values:
        raise ValidationError({"kind": f"Unknown interaction kind {kind!r}."})
    if channel not in Channel.values:
        raise ValidationError({"channel": f"Unknown channel {channel!r}."})
    summary = normalize.clean_text(summary)[:500]
    if not summary:
        raise ValidationError({"summary": "An interaction needs a summary."})
    interaction = Interaction.objects.create(
        customer=customer,
        kind=kind,
        channel=channel,
        direction=direction,
        occurred_at=occurred_at or timezone.now(),
        actor=acting_user(actor),
        summary=summary,
        body=body,
        source_type=object_type_of(source) if source is not None else "",
        source_id=str(source.pk) if source is not None else "",
        data=data or {},
    )
    outbox.emit("interaction.created", interaction_payload(interaction), aggregate=customer)
    return interaction


@transaction.atomic
def note_add(*, actor: Any, customer: Customer, body: str) -> Interaction:
    """A user's note on the timeline. Plain text; templates escape it when shown."""
    require(actor, "edit", customer)
    text = (body or "").strip()
    if not text:
        raise ValidationError({"body": "Write something before adding the note."})
    if len(text) > 20_000:
        raise ValidationError({"body": "A note is at most 20,000 characters."})
    first_line = normalize.clean_text(text.splitlines()[0])
    note = interaction_record(
        actor=actor,
        customer=customer,
        kind=InteractionKind.NOTE,
        channel=Channel.SYSTEM,
        summary=first_line[:200] or "Note",
        body=text,
    )
    audit.record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=note,
        changes={"customer_id": [None, customer.pk], "body": [None, text[:1000]]},
    )
    return note
