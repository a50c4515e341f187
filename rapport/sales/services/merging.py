"""Sales' part of merging two customers: the deals move to the survivor (and back on undo)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import F

from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.customers.models import Customer
from rapport.sales.models import Deal
from rapport.sales.schemas import deal_payload
from rapport.sales.services.common import DEAL_TYPE


@transaction.atomic
def deals_mover(
    *, actor: Any, source: Customer, target: Customer, ids: Sequence[int] | None = None
) -> list[int]:
    """Re-point `source`'s deals (or the `ids` of an undo) to `target`. The merge service
    checked access; every deal moves, whatever the actor's deal scope, so none is left on
    a customer that no longer shows. One audit row and `deal.updated` event per deal."""
    deals = Deal.objects.select_for_update().filter(customer_id=source.pk)
    if ids is not None:
        deals = deals.filter(pk__in=list(ids))
    moved = list(deals)
    if not moved:
        return []
    moved_ids = [d.pk for d in moved]
    Deal.objects.filter(pk__in=moved_ids).update(customer_id=target.pk, version=F("version") + 1)
    rows, events = [], []
    for deal in moved:
        deal.customer_id = target.pk
        deal.version += 1
        rows.append(
            audit.entry(
                actor=actor,
                action=AuditAction.UPDATE,
                object_type=DEAL_TYPE,
                object_id=deal.pk,
                object_repr=str(deal),
                changes={"customer_id": [source.pk, target.pk]},
            )
        )
        events.append(
            outbox.build(
                "deal.updated",
                {**deal_payload(deal), "changed_fields": ["customer_id"]},
                aggregate=deal,
            )
        )
    type(rows[0]).objects.bulk_create(rows)
    outbox.emit_many(events)
    return moved_ids
