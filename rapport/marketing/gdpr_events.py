"""What marketing's storefront side holds about a person: their web events, the visitor
ids stitched to them and their segment memberships. Erasure deletes all three (events
of an erased person have no analytic use that outweighs the right to erasure; orders,
which do, stay in commerce)."""

from __future__ import annotations

from typing import Any

from rapport.core import registry
from rapport.core.gdpr import ErasureContext
from rapport.marketing.models import SegmentMembership, VisitorIdentity, WebEvent


def export(*, customer_id: int) -> dict[str, Any] | None:
    events = [
        dict(e)
        for e in WebEvent.objects.filter(customer_id=customer_id)
        .order_by("occurred_at", "id")
        .values("type", "occurred_at", "url", "product_sku", "visitor_id", "properties")
    ]
    visitors = list(
        VisitorIdentity.objects.filter(customer_id=customer_id).values_list("visitor_id", flat=True)
    )
    if not events and not visitors:
        return None
    return {"web_events": events, "visitor_ids": visitors}


def erase(*, ctx: ErasureContext) -> int:
    visitors = list(
        VisitorIdentity.objects.filter(customer_id=ctx.customer_id).values_list(
            "visitor_id", flat=True
        )
    )
    ctx.add_identifiers(*visitors)
    erased = WebEvent.objects.filter(customer_id=ctx.customer_id).delete()[0]
    if visitors:  # anonymous events of the same browser are the person's too
        erased += WebEvent.objects.filter(visitor_id__in=visitors).delete()[0]
    erased += VisitorIdentity.objects.filter(customer_id=ctx.customer_id).delete()[0]
    erased += SegmentMembership.objects.filter(customer_id=ctx.customer_id).delete()[0]
    return erased


def register() -> None:
    registry.add_gdpr_contributor(
        registry.GdprContributor(
            key="marketing.events",
            label="Web events and segments",
            erase=erase,
            export=export,
            order=25,
        )
    )
