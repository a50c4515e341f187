"""Churn features as of a cut-off, computed by GROUP BY in the database over keyset batches
of customers (two aggregate queries and one id query per batch, never one per customer),
and the churn label: no order in the window after the cut-off.

Only rows strictly before the cut-off feed the features; the label reads only
[cut-off, cut-off + window). A feature that read past the cut-off would leak the label,
which `tests/test_churn_features.py` checks by adding orders after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate

from rapport.commerce.models import NON_REVENUE_STATUSES, Order
from rapport.customers.models import Customer, Interaction, InteractionKind

BATCH = 5000
# Timeline kinds that are a contact with the customer (not a mirror of an order, nor
# bookkeeping such as merges and consent changes).
TOUCH_KINDS = (
    InteractionKind.EMAIL,
    InteractionKind.CALL,
    InteractionKind.MEETING,
    InteractionKind.CHAT,
    InteractionKind.TICKET,
    InteractionKind.NOTE,
    InteractionKind.CAMPAIGN_OPEN,
    InteractionKind.CAMPAIGN_CLICK,
    InteractionKind.WEB_EVENT,
)
NO_TOUCH_DAYS = 366.0  # "no contact in the last year", the timeline's look-back


def window_days() -> int:
    """Churn = no order in this many days after the cut-off (setting CHURN_WINDOW_DAYS)."""
    return int(getattr(settings, "CHURN_WINDOW_DAYS", 180))


def active_days() -> int:
    """A customer counts as active at a cut-off when they ordered in this many days
    before it (setting CHURN_ACTIVE_DAYS); only active customers are labelled and scored."""
    return int(getattr(settings, "CHURN_ACTIVE_DAYS", 365))


@dataclass(frozen=True)
class Feature:
    name: str
    label: str  # what the admin page calls it
    # How a reason reads on the 360° page, with {value} formatted and {s} an "s" unless
    # the value is one: "last order 212 days ago", "1 support ticket in the last year".
    reason: str
    unit: str = ""


FEATURES: tuple[Feature, ...] = (
    Feature("orders", "Orders", "{value:.0f} order{s} in all"),
    Feature("order_days", "Purchase days", "bought on {value:.0f} different days"),
    Feature("revenue", "Revenue", "{value:,.0f} spent in all"),
    Feature("avg_order_value", "Average order value", "average order of {value:,.0f}"),
    Feature("days_since_last_order", "Days since last order", "last order {value:.0f} day{s} ago"),
    Feature("tenure_days", "Days since first order", "customer for {value:.0f} day{s}"),
    Feature("mean_gap_days", "Mean days between purchases", "buys every {value:.0f} day{s}"),
    Feature(
        "recency_to_gap",
        "Days since last order ÷ usual gap",
        "{value:.1f} times their usual gap since the last order",
    ),
    Feature("orders_last_90", "Orders, last 90 days", "{value:.0f} order{s} in the last 90 days"),
    Feature(
        "orders_prev_90", "Orders, 90 to 180 days ago", "{value:.0f} order{s} 90 to 180 days ago"
    ),
    Feature(
        "order_trend_90",
        "Order trend (last 90 minus previous 90)",
        "order trend {value:+.0f} vs before",
    ),
    Feature(
        "cancelled", "Cancelled or returned orders", "{value:.0f} cancelled or returned order{s}"
    ),
    Feature(
        "cancelled_180",
        "Cancelled or returned, last 180 days",
        "{value:.0f} cancelled or returned order{s} in the last 180 days",
    ),
    Feature(
        "tickets_90", "Tickets, last 90 days", "{value:.0f} support ticket{s} in the last 90 days"
    ),
    Feature("tickets_365", "Tickets, last year", "{value:.0f} support ticket{s} in the last year"),
    Feature(
        "inbound_90", "Inbound contacts, last 90 days", "{value:.0f} inbound contact{s} in 90 days"
    ),
    Feature(
        "outbound_90",
        "Outbound contacts, last 90 days",
        "{value:.0f} outbound contact{s} in 90 days",
    ),
    Feature(
        "email_engagement_90",
        "Campaign opens and clicks, last 90 days",
        "{value:.0f} campaign open{s} or click{s} in 90 days",
    ),
    Feature("touches_90", "Contacts, last 90 days", "{value:.0f} contact{s} in the last 90 days"),
    Feature(
        "touch_trend_90",
        "Contact trend (last 90 minus previous 90)",
        "contact trend {value:+.0f} vs before",
    ),
    Feature(
        "days_since_last_touch",
        "Days since last contact",
        "last contact {value:.0f} day{s} ago",
    ),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)
FEATURES_BY_NAME = {f.name: f for f in FEATURES}
_COLUMN = {name: i for i, name in enumerate(FEATURE_NAMES)}


@dataclass
class FeatureTable:
    """Features of the customers active at `cutoff` (rows in customer id order); `churned`
    is filled when labels were asked for (1 = no order in the window after the cut-off)."""

    cutoff: dt.datetime
    customer_ids: np.ndarray
    X: np.ndarray
    churned: np.ndarray | None = None
    names: tuple[str, ...] = field(default=FEATURE_NAMES)

    def __len__(self) -> int:
        return len(self.customer_ids)


def _seconds(values: list[Any]) -> np.ndarray:
    return np.array([v.timestamp() if v is not None else np.nan for v in values], dtype=float)


def _order_rows(lo: int, hi: int, cutoff: dt.datetime) -> list[dict[str, Any]]:
    revenue = ~Q(status__in=NON_REVENUE_STATUSES)
    d90, d180 = cutoff - dt.timedelta(days=90), cutoff - dt.timedelta(days=180)
    return list(
        Order.objects.filter(customer_id__gte=lo, customer_id__lte=hi, ordered_at__lt=cutoff)
        .values("customer_id")
        .annotate(
            orders=Count("id", filter=revenue),
            order_days=Count(TruncDate("ordered_at"), filter=revenue, distinct=True),
            revenue=Sum("total", filter=revenue),
            first=Min("ordered_at", filter=revenue),
            last=Max("ordered_at", filter=revenue),
            orders_last_90=Count("id", filter=revenue & Q(ordered_at__gte=d90)),
            orders_prev_90=Count(
                "id", filter=revenue & Q(ordered_at__gte=d180, ordered_at__lt=d90)
            ),
            cancelled=Count("id", filter=~revenue),
            cancelled_180=Count("id", filter=~revenue & Q(ordered_at__gte=d180)),
        )
        .order_by()
    )


def _touch_rows(lo: int, hi: int, cutoff: dt.datetime) -> dict[int, dict[str, Any]]:
    d90, d180 = cutoff - dt.timedelta(days=90), cutoff - dt.timedelta(days=180)
    recent = Q(occurred_at__gte=d90)
    rows = (
        Interaction.objects.filter(
            customer_id__gte=lo,
            customer_id__lte=hi,
            kind__in=TOUCH_KINDS,
            occurred_at__lt=cutoff,
            occurred_at__gte=cutoff - dt.timedelta(days=365),
        )
        .values("customer_id")
        .annotate(
            tickets_90=Count("id", filter=Q(kind=InteractionKind.TICKET) & recent),
            tickets_365=Count("id", filter=Q(kind=InteractionKind.TICKET)),
            inbound_90=Count("id", filter=Q(direction="in") & recent),
            outbound_90=Count("id", filter=Q(direction="out") & recent),
            email_engagement_90=Count(
                "id",
                filter=Q(kind__in=[InteractionKind.CAMPAIGN_OPEN, InteractionKind.CAMPAIGN_CLICK])
                & recent,
            ),
            touches_90=Count("id", filter=recent),
            touches_prev_90=Count("id", filter=Q(occurred_at__gte=d180, occurred_at__lt=d90)),
            last_touch=Max("occurred_at"),
        )
        .order_by()
    )
    return {row["customer_id"]: row for row in rows}


def _batch_features(
    ids: list[int], cutoff: dt.datetime, active: int
) -> tuple[np.ndarray, np.ndarray]:
    """(customer ids, feature rows) of the batch's customers active at the cut-off."""
    wanted = set(ids)
    orders = [
        r
        for r in _order_rows(ids[0], ids[-1], cutoff)
        if r["customer_id"] in wanted and r["last"] is not None
    ]
    now_s = cutoff.timestamp()
    active_after = now_s - active * 86400
    orders = [r for r in orders if r["last"].timestamp() >= active_after]
    if not orders:
        return np.empty(0, dtype=np.int64), np.empty((0, len(FEATURES)))
    touches = _touch_rows(ids[0], ids[-1], cutoff)
    n = len(orders)
    X = np.zeros((n, len(FEATURES)))
    col = _COLUMN
    day = 86400.0
    first = _seconds([r["first"] for r in orders])
    last = _seconds([r["last"] for r in orders])
    for name in ("orders", "order_days", "orders_last_90", "orders_prev_90"):
        X[:, col[name]] = [r[name] for r in orders]
    X[:, col["cancelled"]] = [r["cancelled"] for r in orders]
    X[:, col["cancelled_180"]] = [r["cancelled_180"] for r in orders]
    X[:, col["revenue"]] = [float(r["revenue"] or 0) for r in orders]
    X[:, col["avg_order_value"]] = X[:, col["revenue"]] / np.maximum(X[:, col["orders"]], 1)
    since_last = (now_s - last) / day
    X[:, col["days_since_last_order"]] = since_last
    X[:, col["tenure_days"]] = (now_s - first) / day
    repeat = X[:, col["order_days"]] > 1
    gap = np.full(n, np.nan)
    gap[repeat] = (last[repeat] - first[repeat]) / day / (X[repeat, col["order_days"]] - 1)
    X[:, col["mean_gap_days"]] = gap
    with np.errstate(divide="ignore", invalid="ignore"):
        X[:, col["recency_to_gap"]] = np.where(repeat, since_last / np.maximum(gap, 1.0), np.nan)
    X[:, col["order_trend_90"]] = X[:, col["orders_last_90"]] - X[:, col["orders_prev_90"]]
    touch_names: tuple[str, ...] = ("tickets_90", "tickets_365", "inbound_90", "outbound_90")
    touch_names += ("email_engagement_90", "touches_90")
    for i, r in enumerate(orders):
        t = touches.get(r["customer_id"])
        if t is None:
            X[i, col["days_since_last_touch"]] = NO_TOUCH_DAYS
            continue
        for name in touch_names:
            X[i, col[name]] = t[name]
        X[i, col["touch_trend_90"]] = t["touches_90"] - t["touches_prev_90"]
        X[i, col["days_since_last_touch"]] = (now_s - t["last_touch"].timestamp()) / day
    return np.array([r["customer_id"] for r in orders], dtype=np.int64), X


def _churned(ids: np.ndarray, start: dt.datetime, end: dt.datetime) -> np.ndarray:
    """1 for each customer with no revenue order in [start, end), else 0."""
    if not len(ids):
        return np.empty(0, dtype=np.int64)
    bought = set(
        Order.objects.filter(
            customer_id__gte=int(ids[0]),
            customer_id__lte=int(ids[-1]),
            ordered_at__gte=start,
            ordered_at__lt=end,
        )
        .exclude(status__in=NON_REVENUE_STATUSES)
        .values_list("customer_id", flat=True)
        .distinct()
        .order_by()
    )
    return np.array([0 if int(i) in bought else 1 for i in ids], dtype=np.int64)


def batches(
    cutoff: dt.datetime, *, batch_size: int = BATCH
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(customers looked at, ids, feature rows) per keyset batch of customers: the active
    ones of each batch at `cutoff`, merged-away and erased records left out."""
    active = active_days()
    last_id = 0
    customers = Customer.objects.filter(merged_into__isnull=True, erased_at__isnull=True)
    while True:
        ids = list(
            customers.filter(pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return
        last_id = ids[-1]
        batch_ids, X = _batch_features(ids, cutoff, active)
        yield len(ids), batch_ids, X


def extract(
    cutoff: dt.datetime,
    *,
    label_until: dt.datetime | None = None,
    batch_size: int = BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> FeatureTable:
    """Features of every customer active at `cutoff`, with churn labels over
    [cutoff, label_until) when `label_until` is given."""
    all_ids: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for seen, batch_ids, X in batches(cutoff, batch_size=batch_size):
        all_ids.append(batch_ids)
        rows.append(X)
        if label_until is not None:
            labels.append(_churned(batch_ids, cutoff, label_until))
        if on_batch is not None:
            on_batch(seen)
    customer_ids = np.concatenate(all_ids) if all_ids else np.empty(0, dtype=np.int64)
    X = np.vstack(rows) if rows else np.empty((0, len(FEATURES)))
    churned = None
    if label_until is not None:
        churned = np.concatenate(labels) if labels else np.empty(0, dtype=np.int64)
    return FeatureTable(cutoff=cutoff, customer_ids=customer_ids, X=X, churned=churned)
