"""Reads for the duplicates queue, the compare page, merge history and the 360 panel.

Every read is narrowed to customers the actor may see: a pair is listed only when the
actor may see both records, so the queue never reveals a record outside their scope.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404

from rapport.core.pagination import Page, SortKey, keyset_page
from rapport.core.permissions import can, scope_queryset
from rapport.customers.models import Customer
from rapport.dedupe.models import CustomerMerge, DuplicatePair, MergeStatus, PairStatus

QUEUE_SORT = SortKey("probability", "probability")


def _live(actor: Any) -> QuerySet[Customer]:
    return scope_queryset(
        Customer.objects.filter(merged_into__isnull=True, erased_at__isnull=True), actor=actor
    )


def open_pairs(*, actor: Any, min_probability: float = 0.0) -> QuerySet[DuplicatePair]:
    """Open pairs of live records the actor may see, most likely first."""
    visible = _live(actor).values("pk")
    pairs = DuplicatePair.objects.filter(
        status=PairStatus.OPEN, customer_a__in=visible, customer_b__in=visible
    )
    if min_probability:
        pairs = pairs.filter(probability__gte=min_probability)
    return pairs


def queue_page(
    *, actor: Any, cursor: str | None = None, limit: int = 25, min_probability: float = 0.0
) -> Page[DuplicatePair]:
    if not 0.0 <= min_probability <= 1.0:
        raise ValidationError({"min_probability": "Give a probability between 0 and 1."})
    pairs = open_pairs(actor=actor, min_probability=min_probability).select_related(
        "customer_a", "customer_b"
    )
    return keyset_page(pairs, sort_key=QUEUE_SORT, descending=True, cursor=cursor, limit=limit)


def pair_for_review(*, actor: Any, pk: int) -> DuplicatePair:
    """An open or decided pair whose two records the actor may both see (404 otherwise)."""
    pair = DuplicatePair.objects.select_related("customer_a", "customer_b").filter(pk=pk).first()
    if pair is None or not (
        can(actor, "view", pair.customer_a) and can(actor, "view", pair.customer_b)
    ):
        raise Http404("No such pair.")
    return pair


def visible_customer(*, actor: Any, pk: int) -> Customer:
    customer = _live(actor).filter(pk=pk).first()
    if customer is None:
        raise Http404("No such customer.")
    return customer


def merges_of(*, actor: Any, customer: Customer, limit: int = 10) -> list[CustomerMerge]:
    """Merges into (or out of) `customer`, newest first, if the actor may see it."""
    if not can(actor, "view", customer):
        return []
    return list(
        CustomerMerge.objects.filter(Q(survivor=customer) | Q(loser=customer))
        .select_related("survivor", "loser", "merged_by")
        .order_by("-merged_at", "-id")[:limit]
    )


def merge_for(*, actor: Any, pk: int) -> CustomerMerge:
    merge = CustomerMerge.objects.select_related("survivor", "loser").filter(pk=pk).first()
    if merge is None or not can(actor, "view", merge.survivor):
        raise Http404("No such merge.")
    return merge


def merge_list(*, actor: Any) -> QuerySet[CustomerMerge]:
    return CustomerMerge.objects.filter(
        survivor__in=scope_queryset(Customer.objects.all(), actor=actor).values("pk")
    )


def pairs_of(*, actor: Any, customer: Customer, limit: int = 5) -> list[DuplicatePair]:
    """Open pairs involving `customer` whose other record the actor may see."""
    if not can(actor, "view", customer):
        return []
    visible = _live(actor).values("pk")
    return list(
        DuplicatePair.objects.filter(status=PairStatus.OPEN)
        .filter(
            Q(customer_a=customer, customer_b__in=visible)
            | Q(customer_b=customer, customer_a__in=visible)
        )
        .select_related("customer_a", "customer_b")
        .order_by("-probability", "-id")[:limit]
    )


def undoable(merge: CustomerMerge) -> bool:
    return merge.status == MergeStatus.MERGED and merge.erased_at is None
