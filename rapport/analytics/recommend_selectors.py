"""Reads of next-best-offer lists, through the customers the actor may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from rapport.analytics.models import Recommendation
from rapport.analytics.recommend import EVALUATE_JOB_KIND
from rapport.core.models import Job, JobStatus
from rapport.customers import selectors as customer_selectors


def customer_offers(*, actor: Any, customer_id: int) -> list[Recommendation]:
    """The customer's offers, best first, if the actor may see the customer (one query)."""
    visible = customer_selectors.customer_list(actor=actor).filter(pk=customer_id).values("pk")
    return list(
        Recommendation.objects.filter(customer_id__in=visible)
        .select_related("product", "because")
        .order_by("rank")
    )


def top_offers(*, actor: Any, limit: int = 10) -> list[dict[str, Any]]:
    """The products offered most often to the actor's customers (one GROUP BY)."""
    visible = customer_selectors.customer_list(actor=actor).values("pk")
    return list(
        Recommendation.objects.filter(customer_id__in=visible)
        .values("product_id", "product__name", "product__category")
        .annotate(customers=Count("pk"), first=Count("pk", filter=Q(rank=1)))
        .order_by("-customers", "product_id")[:limit]
    )


def offered_customers(*, actor: Any) -> int:
    visible = customer_selectors.customer_list(actor=actor).values("pk")
    return Recommendation.objects.filter(customer_id__in=visible, rank=1).count()


def last_evaluation() -> Job | None:
    """The latest finished offline evaluation (its result has both hit rates)."""
    return (
        Job.objects.filter(kind=EVALUATE_JOB_KIND, status=JobStatus.SUCCEEDED)
        .order_by("-finished_at")
        .first()
    )
