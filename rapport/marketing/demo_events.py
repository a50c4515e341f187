"""Demo storefront data: two weeks of web events for the demo customers, sent through the
events service like a shop would (so visitors are stitched and segments fill up):
anonymous browsing that becomes a customer's at login, abandoned carts, visitors who
never identify, and two dynamic segments built on them."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from django.utils import timezone

from rapport.commerce.models import Product
from rapport.core.permissions import system_actor
from rapport.customers.models import Customer
from rapport.marketing import services
from rapport.marketing.models import Segment, WebEvent

SEED = 15
SHOP = "https://shop.example.com"
IDENTIFIED = 60
ABANDONED_EVERY = 4  # one identified shopper in four leaves a cart behind
ANONYMOUS = 40


def _event(type: str, when: dt.datetime, visitor: str, **fields: Any) -> dict[str, Any]:
    return {
        "idempotency_key": f"demo-{uuid.uuid4()}",
        "type": type,
        "occurred_at": when.isoformat(),
        "visitor_id": visitor,
        **fields,
    }


def _browse(rng: random.Random, visitor: str, skus: list[str], start: dt.datetime) -> list[dict]:
    events = []
    when = start
    for _ in range(rng.randint(2, 8)):
        when += dt.timedelta(minutes=rng.randint(1, 30))
        if rng.random() < 0.5:
            sku = rng.choice(skus)
            events.append(
                _event("product_view", when, visitor, product_sku=sku, url=f"{SHOP}/p/{sku}")
            )
        else:
            events.append(_event("page_view", when, visitor, url=f"{SHOP}/"))
    return events


def load(stdout: Any = None) -> str:
    """Idempotent: loads nothing when web events exist."""
    if WebEvent.objects.exists():
        return "Marketing demo data already loaded."
    skus = list(Product.objects.filter(active=True).order_by("pk").values_list("sku", flat=True))
    people = list(
        Customer.objects.exclude(primary_email="")
        .filter(merged_into__isnull=True)
        .order_by("pk")
        .values_list("pk", "primary_email")[:IDENTIFIED]
    )
    if not skus or not people:
        return "Marketing demo: no products or customers to make web events for."
    rng = random.Random(SEED)
    now = timezone.now()
    events: list[dict[str, Any]] = []
    abandoned = 0
    for i, (pk, email) in enumerate(people):
        visitor = f"demo-v{pk}"
        start = now - dt.timedelta(days=rng.randint(1, 14), hours=rng.randint(0, 20))
        browsing = _browse(rng, visitor, skus, start)
        events += browsing
        login_at = dt.datetime.fromisoformat(browsing[-1]["occurred_at"]) + dt.timedelta(minutes=2)
        events.append(_event("login", login_at, visitor, customer={"email": email}))
        if i % ABANDONED_EVERY == 0:
            sku = rng.choice(skus)
            # Recent (the last two days), after the login: the cart is the customer's.
            cart_at = max(login_at, now - dt.timedelta(hours=rng.randint(1, 44))) + dt.timedelta(
                minutes=1
            )
            items = [{"sku": sku, "quantity": 1}]
            cart = {"properties": {"items": items}, "product_sku": sku}
            events.append(_event("cart_updated", cart_at, visitor, **cart))
            abandoned += 1
    for n in range(ANONYMOUS):
        start = now - dt.timedelta(days=rng.randint(0, 14), hours=rng.randint(0, 20))
        events += _browse(rng, f"demo-anon{n}", skus, start)
    # In time order, as a shop would send them, in batches.
    events.sort(key=lambda e: e["occurred_at"])
    actor = system_actor()
    accepted = 0
    for start_at in range(0, len(events), services.MAX_BATCH):
        result = services.web_events_ingest(
            actor=actor, events=events[start_at : start_at + services.MAX_BATCH], source="demo"
        )
        accepted += result.accepted
    made = 0
    if not Segment.objects.exists():
        for name, description, rules in _segments():
            services.segment_create(
                actor=actor,
                data=services.SegmentInput(name=name, description=description, rules=rules),
            )
            made += 1
    return (
        f"Marketing demo: {accepted} web events ({len(people)} visitors stitched to customers, "
        f"{abandoned} abandoned carts, {ANONYMOUS} anonymous visitors), {made} segments."
    )


def _segments() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (
            "Abandoned carts",
            "Put something in the cart in the last 3 days and ordered nothing since.",
            {
                "op": "and",
                "rules": [
                    {"kind": "event", "type": "cart_updated", "days": 3},
                    {"kind": "order", "measure": "count", "op": "eq", "value": 0, "days": 3},
                ],
            },
        ),
        (
            "Browsing, not buying",
            "Viewed products at least twice in the last 14 days and has not ordered in 90.",
            {
                "op": "and",
                "rules": [
                    {"kind": "event", "type": "product_view", "days": 14, "min_count": 2},
                    {
                        "kind": "order",
                        "measure": "last_order_days",
                        "op": "lte",
                        "value": 90,
                        "negate": True,
                    },
                ],
            },
        ),
    ]
