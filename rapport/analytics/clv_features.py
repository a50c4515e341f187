"""The CLV models' inputs from the orders, aggregated in the database.

One GROUP BY per batch of customers (keyset ranges of customer id): orders to
(customer, purchase day, spend that day), then to (first day, last day, purchase days,
total spend, first day's spend) per customer. Python never loops over orders or
customers; it receives one row per customer and turns the batch into NumPy arrays.

Which orders count: those placed (`ordered_at`, in the site's time zone) on or before the
calibration end day, in the fit's currency, neither cancelled nor returned (commerce's
NON_REVENUE_STATUSES), with their `total` as the spend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Max, Min, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from numpy.typing import NDArray

from rapport.analytics.clv import fitting, summary
from rapport.commerce.models import NON_REVENUE_STATUSES, Order

EPOCH = np.datetime64("1970-01-01", "D")
BATCH_CUSTOMERS = 50_000


@dataclass(frozen=True)
class Features:
    customer_ids: NDArray[np.int64]
    first_purchase: NDArray[np.int64]  # day numbers since 1970-01-01
    summary: fitting.Summary

    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])


def _counted_orders(*, calibration_end: dt.date, currency: str) -> object:
    following_day = calibration_end + dt.timedelta(days=1)
    end = timezone.make_aware(dt.datetime.combine(following_day, dt.time.min))
    return Order.objects.filter(ordered_at__lt=end, currency=currency).exclude(
        status__in=NON_REVENUE_STATUSES
    )


def _day_numbers(values: list[Any]) -> NDArray[np.int64]:
    # SQLite returns dates as 'YYYY-MM-DD' text, PostgreSQL as date objects.
    days = np.array([str(v)[:10] for v in values], dtype="datetime64[D]")
    return (days - EPOCH).astype(np.int64)


def customer_features(
    *,
    calibration_end: dt.date,
    currency: str,
    batch: int = BATCH_CUSTOMERS,
    progress: Callable[[int, int], None] | None = None,
) -> Features:
    """Every customer with a counted order on or before `calibration_end`, in id order."""
    orders = _counted_orders(calibration_end=calibration_end, currency=currency)
    bounds = orders.aggregate(lo=Min("customer_id"), hi=Max("customer_id"))  # type: ignore[attr-defined]
    end_day = int((np.datetime64(calibration_end, "D") - EPOCH).astype(np.int64))
    chunks: list[tuple[list[Any], ...]] = []
    if bounds["lo"] is not None:
        lo, hi = int(bounds["lo"]), int(bounds["hi"])
        for start in range(lo, hi + 1, batch):
            chunks.append(_batch(orders, start, min(start + batch, hi + 1)))
            if progress:
                progress(min(start + batch, hi + 1) - lo, hi + 1 - lo)
    columns: list[list[Any]] = [[] for _ in range(6)]
    for chunk in chunks:
        for i in range(6):
            columns[i].extend(chunk[i])
    ids = np.array(columns[0], dtype=np.int64)
    first = _day_numbers(columns[1])
    return Features(
        customer_ids=ids,
        first_purchase=first,
        summary=summary.summarise_days(
            first,
            _day_numbers(columns[2]),
            np.array(columns[3], dtype=np.float64),
            np.array([float(v) for v in columns[4]], dtype=np.float64),
            np.array([float(v) for v in columns[5]], dtype=np.float64),
            calibration_end_day=end_day,
        ),
    )


def _batch(orders: object, lo: int, hi: int) -> tuple[list[Any], ...]:
    """Customers lo <= id < hi: (id, first day, last day, days, total, first day's total)."""
    per_day = (
        orders.filter(customer_id__gte=lo, customer_id__lt=hi)  # type: ignore[attr-defined]
        .annotate(day=TruncDate("ordered_at"))
        .values("customer_id", "day")
        .annotate(spend=Sum("total"))
        .order_by()
    )
    inner, params = per_day.query.sql_with_params()
    sql = f"""
        SELECT customer_id, MIN(day), MAX(day), COUNT(*), SUM(spend),
               SUM(CASE WHEN day = first_day THEN spend ELSE 0 END)
        FROM (
            SELECT d.customer_id AS customer_id, d.day AS day, d.spend AS spend,
                   MIN(d.day) OVER (PARTITION BY d.customer_id) AS first_day
            FROM ({inner}) d
        ) w
        GROUP BY customer_id
        ORDER BY customer_id
    """  # noqa: S608 (the inner SQL is Django's, with its parameters passed separately)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return ([], [], [], [], [], [])
    return tuple(list(col) for col in zip(*rows, strict=True))
