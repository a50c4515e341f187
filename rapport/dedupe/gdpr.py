"""What duplicate detection holds about a person, for GDPR export and erasure: the merge
history (with the values a merge replaced, kept for undo) and the duplicate pairs."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from rapport.core import registry
from rapport.core.gdpr import ErasureContext, sweep
from rapport.customers.models import Customer
from rapport.dedupe.models import CustomerMerge, DuplicatePair


def export(*, customer_id: int) -> dict[str, Any]:
    merges = (
        CustomerMerge.objects.filter(Q(survivor_id=customer_id) | Q(loser_id=customer_id))
        .order_by("id")
        .values("merged_at", "status", "survivor_id", "loser_id", "rule", "choices")
    )
    return {"merges": list(merges)}


def erase(*, ctx: ErasureContext) -> int:
    from rapport.customers import services as customer_services
    from rapport.dedupe.services import scrub_for_erasure

    changed = scrub_for_erasure(customer_id=ctx.customer_id)
    involving = Q(customer_a_id=ctx.customer_id) | Q(customer_b_id=ctx.customer_id)
    # A pair's details compare the two records' values field by field.
    changed += DuplicatePair.objects.filter(involving).exclude(details={}).update(details={})
    changed += sweep(CustomerMerge.objects.all(), ctx, json_fields=["summary"])
    changed += sweep(DuplicatePair.objects.all(), ctx, json_fields=["details"])
    # Records merged into this person are the same person: erase them too.
    for tombstone in Customer.objects.filter(
        merged_into_id=ctx.customer_id, erased_at__isnull=True
    ):
        customer_services.customer_erase(actor=ctx.actor, customer=tombstone)
        changed += 1
    return changed


def register() -> None:
    registry.add_gdpr_contributor(
        registry.GdprContributor(
            key="dedupe", label="Duplicates and merges", erase=erase, export=export, order=30
        )
    )
