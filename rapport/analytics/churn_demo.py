"""Demo data for churn prediction: a planted, known defection mechanism on top of the
commerce demo's orders, then a first training and scoring so the pages have something
to show.

The mechanism: most customers who will never order again filed a complaint (a support
ticket) within three weeks after their last order; a few loyal customers file one too,
in the middle of their history, so a ticket alone is not a verdict. A model that finds
the mechanism ranks "recent complaint" among its top features and beats the recency
signal the purchase process already gives (`tests/test_churn_demo.py`).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from rapport.analytics import churn_services
from rapport.commerce.models import NON_REVENUE_STATUSES, Order
from rapport.core.permissions import system_actor
from rapport.customers import services as customer_services
from rapport.customers.models import Channel, Direction, Interaction, InteractionKind

SEED = 1616
SOURCE = "analytics.churn_demo"
COMPLAINT_AFTER_LAST_ORDER = 0.8  # share of defectors who complained first
COMPLAINT_WHILE_LOYAL = 0.08  # share of the others with a complaint mid-history
QUIET_DAYS = 60  # a last order older than this counts as "never ordered again"
COMPLAINTS = (
    "Complaint: order arrived damaged",
    "Complaint: delivery two weeks late",
    "Complaint: charged twice for one order",
    "Complaint: wrong item sent, refund slow",
    "Complaint: rude answer from customer service",
)


def plant(*, now: dt.datetime | None = None, seed: int = SEED) -> int:
    """Plant the complaint tickets over the orders that exist; returns how many. Once only:
    a second call plants nothing."""
    if Interaction.objects.filter(source_type=SOURCE).exists():
        return 0
    now = now or timezone.now()
    rng = random.Random(seed)
    spans = (
        Order.objects.exclude(status__in=NON_REVENUE_STATUSES)
        .values("customer_id")
        .annotate(first=Min("ordered_at"), last=Max("ordered_at"))
        .order_by("customer_id")
    )
    entries = []
    for span in spans.iterator(chunk_size=5000):
        last, first = span["last"], span["first"]
        when: dt.datetime | None = None
        if last < now - dt.timedelta(days=QUIET_DAYS):
            if rng.random() < COMPLAINT_AFTER_LAST_ORDER:
                when = last + dt.timedelta(days=rng.uniform(1, 21))
        elif rng.random() < COMPLAINT_WHILE_LOYAL and last - first > dt.timedelta(days=60):
            when = first + (last - first) * rng.uniform(0.2, 0.8)
        if when is None or when >= now:
            continue
        entries.append(
            customer_services.TimelineEntry(
                customer_id=span["customer_id"],
                kind=InteractionKind.TICKET,
                channel=Channel.EMAIL,
                direction=Direction.INBOUND,
                occurred_at=when,
                summary=rng.choice(COMPLAINTS),
                source_type=SOURCE,
            )
        )
    for start in range(0, len(entries), 2000):
        with transaction.atomic():
            customer_services.timeline_append_many(
                actor=system_actor(), entries=entries[start : start + 2000]
            )
    return len(entries)


def load(stdout: Any = None) -> str:
    planted = plant()
    if not planted and not Order.objects.exists():
        return "Churn demo: no orders to learn from."
    actor = system_actor()
    run = churn_services.churn_model_train(actor=actor)
    scored = churn_services.churn_scores_refresh(actor=actor, run=run) if run.model_blob else 0
    return (
        f"Churn demo: {planted} complaint tickets planted; {run.message} {scored} customers scored."
    )
