"""Acquisition cohorts and monthly trends, computed by the database (GROUP BY) over the
orders of the customers the actor may see.

A customer's cohort is the month of their first order that brings revenue (not cancelled
or returned). Retention in month k is the share of the cohort who ordered again in the
k-th month after it (k = 0: the month they were acquired, always 100 %); revenue in month
k is what the cohort spent that month. Months are calendar months in the site's time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from rapport.commerce.models import NON_REVENUE_STATUSES, Order
from rapport.core.pagination import Page, SortKey, keyset_page, parse_sort
from rapport.customers import selectors as customer_selectors

COHORT_CUSTOMER_SORTS = {"name": SortKey("name", "sort_name"), "id": SortKey("id", "pk")}
REVENUE_Q = ~Q(status__in=NON_REVENUE_STATUSES)


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, value: Any) -> Month:
        """From "2026-03", a date, or what a database returns for a truncated month."""
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        try:
            year, month = int(text[:4]), int(text[5:7])
            if text[4] != "-" or not 1 <= month <= 12:
                raise ValueError
        except (ValueError, IndexError):
            raise ValidationError({"cohort": "Give a month as YYYY-MM."}) from None
        return cls(year, month)

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def minus(self, other: Month) -> int:
        return (self.year - other.year) * 12 + self.month - other.month

    def start(self) -> dt.datetime:
        return timezone.make_aware(dt.datetime(self.year, self.month, 1))

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return dt.date(self.year, self.month, 1).strftime("%b %Y")


@dataclass
class CohortCell:
    k: int
    customers: int  # of the cohort who ordered in month k
    revenue: Decimal
    retention: float  # 0 to 100
    revenue_per_customer: Decimal  # revenue / cohort size
    heat: int = 0  # the shade step, 0 to 10, relative to the best retention after month 0


@dataclass
class Cohort:
    month: Month
    size: int
    cells: list[CohortCell | None] = field(default_factory=list)  # None: month not reached
    revenue: Decimal = Decimal(0)


@dataclass
class TrendMonth:
    month: Month
    revenue: Decimal
    orders: int
    active_customers: int
    new_customers: int
    bar: int = 0  # revenue as a share of the best month, 0 to 100, for the bar chart

    @property
    def average_order_value(self) -> Decimal:
        return (self.revenue / self.orders).quantize(Decimal("0.01")) if self.orders else Decimal(0)


@dataclass
class CohortReport:
    cohorts: list[Cohort]
    horizon: int  # the number of month columns (k = 0 .. horizon - 1)
    trends: list[TrendMonth]
    peak_revenue: Decimal  # the highest monthly revenue, to scale the bars

    def bar(self, trend: TrendMonth) -> int:
        return int(100 * trend.revenue / self.peak_revenue) if self.peak_revenue else 0


def _visible_orders(actor: Any) -> QuerySet[Order]:
    visible = customer_selectors.customer_list(actor=actor).values("pk")
    return Order.objects.filter(REVENUE_Q, customer__in=visible)


def _rows(sql: str, params: Any) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def cohort_report(*, actor: Any, months: int = 24, today: dt.date | None = None) -> CohortReport:
    """The cohorts acquired in the last `months` months with their retention and revenue
    by month since acquisition, and revenue, orders, active and new customers per month:
    two GROUP BY queries, whatever the number of customers."""
    if months not in range(1, 121):
        raise ValidationError({"months": "Show from 1 to 120 months."})
    now = Month.parse(today or timezone.localdate())
    first_month = now.plus(-(months - 1))
    orders = _visible_orders(actor)
    firsts = orders.values("customer_id").annotate(first=Min(TruncMonth("ordered_at"))).order_by()
    monthly = orders.annotate(month=TruncMonth("ordered_at")).values(
        "customer_id", "month", "total"
    )
    first_sql, first_params = firsts.query.sql_with_params()
    monthly_sql, monthly_params = monthly.query.sql_with_params()
    # Each month's orders, split by the month their customer was acquired.
    sql = f"""
        WITH firsts AS ({first_sql}), monthly AS ({monthly_sql})
        SELECT firsts.first, monthly.month, COUNT(DISTINCT monthly.customer_id),
            COUNT(*), SUM(monthly.total)
        FROM monthly JOIN firsts ON firsts.customer_id = monthly.customer_id
        GROUP BY firsts.first, monthly.month
    """  # noqa: S608 (both parts are the ORM's own SQL; values are parameters)
    rows = _rows(sql, (*first_params, *monthly_params))
    by_cohort: dict[Month, dict[int, tuple[int, Decimal]]] = {}
    trends: dict[Month, TrendMonth] = {}
    for first_raw, month_raw, customers, n_orders, revenue in rows:
        cohort, month = Month.parse(first_raw), Month.parse(month_raw)
        revenue = Decimal(str(revenue or 0)).quantize(Decimal("0.01"))
        trend = trends.setdefault(month, TrendMonth(month, Decimal(0), 0, 0, 0))
        trend.revenue += revenue
        trend.orders += n_orders
        trend.active_customers += customers  # a customer has one cohort: no double count
        if cohort == month:
            trend.new_customers += customers
        if cohort >= first_month:
            by_cohort.setdefault(cohort, {})[month.minus(cohort)] = (customers, revenue)
    table: list[Cohort] = []
    for index in range(months):
        cohort_month = first_month.plus(index)
        activity = by_cohort.get(cohort_month)
        if not activity:
            continue
        size = activity.get(0, (0, Decimal(0)))[0]
        reached = now.minus(cohort_month)
        row = Cohort(month=cohort_month, size=size)
        for k in range(months):
            if k > reached:
                row.cells.append(None)
                continue
            customers, revenue = activity.get(k, (0, Decimal(0)))
            per_customer = (revenue / size).quantize(Decimal("0.01")) if size else Decimal(0)
            row.cells.append(
                CohortCell(
                    k=k,
                    customers=customers,
                    revenue=revenue,
                    retention=100 * customers / size if size else 0.0,
                    revenue_per_customer=per_customer,
                )
            )
            row.revenue += revenue
        table.append(row)
    shown = [
        trends.get(m) or TrendMonth(m, Decimal(0), 0, 0, 0)
        for m in (first_month.plus(i) for i in range(months))
    ]
    report = CohortReport(
        cohorts=table,
        horizon=months,
        trends=shown,
        peak_revenue=max((t.revenue for t in shown), default=Decimal(0)),
    )
    for trend in shown:
        trend.bar = report.bar(trend)
    # Month 0 is always 100 %: shade the later months against the best of them instead.
    cells = [c for row in table for c in row.cells if c is not None]
    best = max((c.retention for c in cells if c.k), default=0.0)
    for cell in cells:
        cell.heat = 10 if cell.k == 0 else round(10 * cell.retention / best) if best else 0
    return report


def cohort_customers(*, actor: Any, cohort: Month, k: int | None = None) -> QuerySet[Any]:
    """The actor's customers acquired in `cohort` (who ordered again in its k-th month, when
    given), with their first order and their revenue in that month."""
    if k is not None and not 0 <= k <= 240:
        raise ValidationError({"k": "Give a month number from 0."})
    start, end = cohort.start(), cohort.plus(1).start()
    acquired = (
        Order.objects.filter(REVENUE_Q)
        .values("customer_id")
        .annotate(first=Min("ordered_at"))
        .filter(first__gte=start, first__lt=end)
        .values("customer_id")
    )
    month = cohort.plus(k or 0)
    in_month = Q(
        orders__ordered_at__gte=month.start(), orders__ordered_at__lt=month.plus(1).start()
    ) & ~Q(orders__status__in=NON_REVENUE_STATUSES)
    customers = customer_selectors.customer_list(actor=actor).filter(pk__in=acquired)
    if k is not None:
        ordered = Order.objects.filter(
            REVENUE_Q, ordered_at__gte=month.start(), ordered_at__lt=month.plus(1).start()
        ).values("customer_id")
        customers = customers.filter(pk__in=ordered)
    counted = ~Q(orders__status__in=NON_REVENUE_STATUSES)
    return customers.annotate(
        first_order_at=Min("orders__ordered_at", filter=counted),
        month_revenue=Sum("orders__total", filter=in_month),
        month_orders=Count("orders", filter=in_month),
    )


def cohort_customer_page(
    *,
    actor: Any,
    cohort: Month,
    k: int | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Any]:
    sort_key, descending = parse_sort(sort, COHORT_CUSTOMER_SORTS, "name")
    return keyset_page(
        cohort_customers(actor=actor, cohort=cohort, k=k),
        sort_key=sort_key,
        descending=descending,
        cursor=cursor,
        limit=limit,
    )
