"""Lifetime value as customer segment fields: marketing's segments and the customer list
filter on CLV and P(alive) of the latest fit, and the equity page's figures link to the
customers behind them through the same fields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from rapport.analytics import clv_selectors
from rapport.analytics.models.clv import ClvFit, ClvFitStatus, CustomerClv
from rapport.core import registry

CUSTOMER_TYPE = "customers.customer"


def _number(
    name: str, value: str, *, low: float | None = None, high: float | None = None
) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError({name: f"{value!r} is not a number."}) from None
    out_of_range = (low is not None and number < low) or (high is not None and number > high)
    if not number.is_finite() or out_of_range:
        span = f" between {low:g} and {high:g}" if low is not None and high is not None else ""
        raise ValidationError({name: f"{value!r} is not a number{span}."})
    return number


def _in_latest(queryset: QuerySet[Any], **lookup: Any) -> QuerySet[Any]:
    fit = clv_selectors.latest_fit()
    if fit is None:
        return queryset.none()
    return queryset.filter(
        pk__in=CustomerClv.objects.filter(fit=fit, **lookup).values("customer_id")
    )


def _bound(
    name: str, lookup: str, *, low: float | None = None, high: float | None = None
) -> Callable[..., Any]:
    def apply(queryset: QuerySet[Any], values: list[str], *, actor: Any) -> QuerySet[Any]:
        return _in_latest(queryset, **{lookup: _number(name, values[0], low=low, high=high)})

    return apply


def _cohort(queryset: QuerySet[Any], values: list[str], *, actor: Any) -> QuerySet[Any]:
    try:
        month = dt.datetime.strptime(values[0].strip(), "%Y-%m").date()
    except ValueError:
        message = f"{values[0]!r} is not a month such as 2026-03."
        raise ValidationError({"clv_cohort": message}) from None
    following = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return _in_latest(queryset, first_purchase__gte=month, first_purchase__lt=following)


def _fit(queryset: QuerySet[Any], values: list[str], *, actor: Any) -> QuerySet[Any]:
    try:
        fit_id = int(values[0])
    except ValueError:
        raise ValidationError({"clv_fit": f"{values[0]!r} is not a fit number."}) from None
    if not ClvFit.objects.filter(pk=fit_id, status=ClvFitStatus.SUCCEEDED).exists():
        raise ValidationError({"clv_fit": f"There is no lifetime value fit {fit_id}."})
    return queryset.filter(pk__in=CustomerClv.objects.filter(fit_id=fit_id).values("customer_id"))


FIELDS: list[tuple[str, str, str, tuple[str, ...], Callable[..., Any], str]] = [
    ("clv_min", "Lifetime value at least", "number", ("gte",), _bound("clv_min", "clv__gte"), ""),
    ("clv_below", "Lifetime value below", "number", ("lt",), _bound("clv_below", "clv__lt"), ""),
    (
        "p_alive_min",
        "Probability active at least (0-1)",
        "number",
        ("gte",),
        _bound("p_alive_min", "p_alive__gte", low=0, high=1),
        "",
    ),
    (
        "p_alive_below",
        "Probability active below (0-1)",
        "number",
        ("lt",),
        _bound("p_alive_below", "p_alive__lt", low=0, high=1),
        "",
    ),
    ("clv_cohort", "First purchase month (YYYY-MM)", "text", ("eq",), _cohort, ""),
    ("clv_fit", "Valued in lifetime value fit", "id", ("eq",), _fit, ""),
]


def register() -> None:
    for name, label, kind, operators, apply, lookup in FIELDS:
        registry.add_segment_field(
            registry.SegmentField(
                object_type=CUSTOMER_TYPE,
                name=name,
                label=label,
                type=kind,
                operators=operators,
                apply=apply,
                lookup=lookup,
            )
        )
