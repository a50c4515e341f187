"""Reads of lifetime value: the latest fit, one customer's value, and customer equity
(the sum of discounted CLVs) by lifecycle stage, acquisition cohort, owner and fit,
always over the customers the actor may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet, Subquery, Sum
from django.db.models.functions import TruncMonth

from rapport.analytics.models.clv import ClvFit, ClvFitStatus, ClvSettings, CustomerClv
from rapport.customers import selectors as customer_selectors

HISTORY_FITS = 24


def latest_fit() -> ClvFit | None:
    """The newest successful fit: what pages, segments and the 360° panel show."""
    return ClvFit.objects.filter(status=ClvFitStatus.SUCCEEDED).order_by("-started_at").first()


def last_attempt() -> ClvFit | None:
    """The newest fit whatever its outcome (a failed one says why on the page)."""
    return ClvFit.objects.order_by("-started_at").first()


def settings_row() -> ClvSettings | None:
    return ClvSettings.objects.order_by("pk").first()


def latest_customer_value(*, customer_id: int) -> CustomerClv | None:
    """The customer's row in the latest successful fit, with the fit, in one query."""
    latest = (
        ClvFit.objects.filter(status=ClvFitStatus.SUCCEEDED).order_by("-started_at").values("pk")
    )[:1]
    return (
        CustomerClv.objects.filter(customer_id=customer_id, fit_id=Subquery(latest))
        .select_related("fit")
        .first()
    )


def _visible_values(*, actor: Any, fit: ClvFit) -> QuerySet[CustomerClv]:
    visible = customer_selectors.customer_list(actor=actor)
    return CustomerClv.objects.filter(fit=fit, customer__in=visible.values("pk"))


@dataclass(frozen=True)
class EquityRow:
    key: str  # the group's value, as the customer list filter takes it
    label: str
    customers: int
    equity: Decimal
    share: float  # of the largest row, for the bar


@dataclass(frozen=True)
class Equity:
    fit: ClvFit
    total: Decimal
    customers: int
    by_stage: list[EquityRow]
    by_cohort: list[EquityRow]
    by_owner: list[EquityRow]
    over_time: list[EquityRow]


def _rows(raw: list[tuple[str, str, int, Decimal | None]]) -> list[EquityRow]:
    top = max((float(r[3] or 0) for r in raw), default=0.0) or 1.0
    return [
        EquityRow(
            key=key,
            label=label,
            customers=n,
            equity=Decimal(value or 0).quantize(Decimal("0.01")),
            share=max(0.0, float(value or 0) / top),
        )
        for key, label, n, value in raw
    ]


def equity(*, actor: Any, fit: ClvFit) -> Equity:
    """Customer equity of `fit` over the customers the actor may see, grouped four ways
    in the database (six queries whatever the number of customers)."""
    from rapport.customers.models import LifecycleStage

    values = _visible_values(actor=actor, fit=fit)
    totals = values.aggregate(n=Count("pk"), total=Sum("clv"))
    stage_labels = dict(LifecycleStage.choices)
    by_stage = [
        (
            r["customer__lifecycle_stage"],
            stage_labels.get(r["customer__lifecycle_stage"], "-"),
            r["n"],
            r["total"],
        )
        for r in values.values("customer__lifecycle_stage")
        .annotate(n=Count("pk"), total=Sum("clv"))
        .order_by("-total")
    ]
    by_cohort = []
    for r in (
        values.annotate(month=TruncMonth("first_purchase"))
        .values("month")
        .annotate(n=Count("pk"), total=Sum("clv"))
        .order_by("month")
    ):
        month: dt.date = r["month"]
        by_cohort.append((month.strftime("%Y-%m"), month.strftime("%b %Y"), r["n"], r["total"]))
    by_owner = []
    for r in (
        values.values("customer__owner_id", "customer__owner__full_name", "customer__owner__email")
        .annotate(n=Count("pk"), total=Sum("clv"))
        .order_by("-total")
    ):
        owner_id = r["customer__owner_id"]
        name = r["customer__owner__full_name"] or r["customer__owner__email"] or ""
        by_owner.append(
            (str(owner_id) if owner_id else "none", name or "No owner", r["n"], r["total"])
        )
    history = list(
        ClvFit.objects.filter(status=ClvFitStatus.SUCCEEDED).order_by("-started_at")[:HISTORY_FITS]
    )
    visible = customer_selectors.customer_list(actor=actor).values("pk")
    sums = {
        r["fit_id"]: r
        for r in CustomerClv.objects.filter(fit__in=history, customer__in=visible)
        .values("fit_id")
        .annotate(n=Count("pk"), total=Sum("clv"))
    }
    over_time = [
        (
            str(f.pk),
            f"{f.calibration_end:%d %b %Y}",
            sums.get(f.pk, {}).get("n", 0),
            sums.get(f.pk, {}).get("total"),
        )
        for f in reversed(history)
    ]
    return Equity(
        fit=fit,
        total=Decimal(totals["total"] or 0).quantize(Decimal("0.01")),
        customers=totals["n"] or 0,
        by_stage=_rows(by_stage),
        by_cohort=_rows(by_cohort),
        by_owner=_rows(by_owner),
        over_time=_rows(over_time),
    )
