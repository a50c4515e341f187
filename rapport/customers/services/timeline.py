"""Many timeline entries in one write: `interaction_record`'s rules and events for bulk
writers (order imports now; campaign sends and channel syncs next)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rapport.core import outbox
from rapport.core.permissions import acting_user
from rapport.customers import normalize
from rapport.customers.models import Channel, Customer, Direction, Interaction, InteractionKind
from rapport.customers.schemas import interaction_payload

BATCH_SIZE = 1000


@dataclass(frozen=True)
class TimelineEntry:
    """One interaction to append; `source_type`/`source_id` name the record it is about
    (an order: "commerce.order", its id)."""

    customer_id: int
    kind: str
    summary: str
    channel: str = Channel.SYSTEM
    direction: str = Direction.NONE
    occurred_at: dt.datetime | None = None
    body: str = ""
    source_type: str = ""
    source_id: str = ""
    data: dict[str, Any] | None = None


def timeline_append_many(*, actor: Any, entries: Sequence[TimelineEntry]) -> list[Interaction]:
    """Append the entries (in order) and emit one `interaction.created` per entry, as
    `interaction_record` does for one. All or nothing: an entry with an unknown kind or
    channel or an empty summary raises ValidationError (keyed `entries.<i>.<field>`)
    before anything is written. The caller checks access to the customers, as for
    `interaction_record` called by another app's service.

    Inside the caller's transaction it adds no savepoint (bulk callers count their
    queries): a database error fails the caller's transaction, which is all or nothing."""
    now = timezone.now()
    author = acting_user(actor)
    errors: dict[str, list[str]] = {}
    rows: list[Interaction] = []
    for i, entry in enumerate(entries):
        if entry.kind not in InteractionKind.values:
            errors[f"entries.{i}.kind"] = [f"Unknown interaction kind {entry.kind!r}."]
        if entry.channel not in Channel.values:
            errors[f"entries.{i}.channel"] = [f"Unknown channel {entry.channel!r}."]
        summary = normalize.clean_text(entry.summary)[:500]
        if not summary:
            errors[f"entries.{i}.summary"] = ["An interaction needs a summary."]
        rows.append(
            Interaction(
                customer_id=entry.customer_id,
                kind=entry.kind,
                channel=entry.channel,
                direction=entry.direction,
                occurred_at=entry.occurred_at or now,
                actor=author,
                summary=summary,
                body=entry.body,
                source_type=entry.source_type,
                source_id=entry.source_id,
                data=entry.data or {},
            )
        )
    if errors:
        raise ValidationError(errors)
    if not rows:
        return []
    with transaction.atomic(savepoint=False):
        saved = Interaction.objects.bulk_create(rows, batch_size=BATCH_SIZE)
        outbox.emit_many(
            outbox.build(
                "interaction.created",
                interaction_payload(interaction),
                # The event's aggregate is the customer; its id is all the event needs.
                aggregate=Customer(pk=interaction.customer_id),
            )
            for interaction in saved
        )
    return saved
