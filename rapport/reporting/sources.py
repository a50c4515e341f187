"""The report sources of the apps that were there before reporting: customers, orders and
the timeline's interactions. Apps built later register their own in their `ready()`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from rapport.commerce import selectors as commerce_selectors
from rapport.commerce.models import OrderChannel, OrderStatus
from rapport.core import registry
from rapport.core.permissions import CUSTOMER_TYPE, scope_filter
from rapport.core.registry import ReportField
from rapport.customers import selectors as customer_selectors
from rapport.customers.models import (
    Channel,
    CustomerKind,
    Direction,
    Interaction,
    InteractionKind,
    LifecycleStage,
)


def _choices(choices: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(value), str(label)) for value, label in choices.choices)


def customers(*, actor: Any) -> QuerySet[Any]:
    return customer_selectors.customer_list(actor=actor)


def orders(*, actor: Any) -> QuerySet[Any]:
    return commerce_selectors.order_list(actor=actor)


def interactions(*, actor: Any) -> QuerySet[Interaction]:
    """The timeline entries of the customers the actor may see: an entry has no owner of
    its own. With every customer in scope there is no join to make (a merge moves the
    merged-away customer's entries to the survivor, so none hang on a hidden record)."""
    condition = scope_filter(actor, CUSTOMER_TYPE)
    if condition is None:
        return Interaction.objects.none()
    entries = Interaction.objects.all()
    if not condition:
        return entries
    return entries.filter(customer__in=customer_selectors.customer_list(actor=actor).values("pk"))


def _interaction_url(entry: Any) -> str:
    return reverse("customers:detail", args=[entry.customer_id])


def register() -> None:
    country = ReportField("country", "Country", "country", "category")
    customer_country = ReportField(
        "customer_country", "Customer country", "customer__country", "category"
    )
    registry.add_report_source(
        registry.ReportSource(
            name="customers",
            label="Customers",
            object_type=CUSTOMER_TYPE,
            queryset=customers,
            dimensions=(
                ReportField("kind", "Kind", "kind", "category", _choices(CustomerKind)),
                ReportField(
                    "lifecycle_stage",
                    "Lifecycle stage",
                    "lifecycle_stage",
                    "category",
                    _choices(LifecycleStage),
                ),
                country,
                ReportField("city", "City", "city", "category"),
                ReportField("source", "Source", "source", "category"),
                ReportField("industry", "Industry", "industry", "category"),
                ReportField("language", "Language", "language", "category"),
                ReportField("team", "Team", "team__name", "category"),
                ReportField("owner", "Owner", "owner__email", "category"),
                ReportField("created_at", "Created", "created_at", "date"),
                ReportField("quality_score", "Quality score", "quality_score", "number"),
            ),
            numbers=(ReportField("quality_score", "Quality score", "quality_score", "number"),),
            record_url=lambda c: c.get_absolute_url(),
            record_title=lambda c: c.display_name,
            columns=("kind", "lifecycle_stage", "country", "created_at"),
            order=10,
        )
    )
    registry.add_report_source(
        registry.ReportSource(
            name="orders",
            label="Orders",
            object_type="commerce.order",
            queryset=orders,
            dimensions=(
                ReportField("status", "Status", "status", "category", _choices(OrderStatus)),
                ReportField("channel", "Channel", "channel", "category", _choices(OrderChannel)),
                ReportField("currency", "Currency", "currency", "category"),
                customer_country,
                ReportField("team", "Team", "team__name", "category"),
                ReportField("owner", "Owner", "owner__email", "category"),
                ReportField("ordered_at", "Ordered", "ordered_at", "date"),
                ReportField("total", "Total", "total", "number"),
            ),
            numbers=(
                ReportField("total", "Total", "total", "number"),
                ReportField("subtotal", "Subtotal", "subtotal", "number"),
                ReportField("tax", "Tax", "tax", "number"),
                ReportField("shipping", "Shipping", "shipping", "number"),
            ),
            record_url=lambda o: o.get_absolute_url(),
            record_title=lambda o: o.number or f"Order {o.pk}",
            columns=("status", "ordered_at", "total", "currency"),
            order=20,
        )
    )
    registry.add_report_source(
        registry.ReportSource(
            name="interactions",
            label="Interactions",
            object_type=CUSTOMER_TYPE,
            queryset=interactions,
            dimensions=(
                ReportField("kind", "Kind", "kind", "category", _choices(InteractionKind)),
                ReportField("channel", "Channel", "channel", "category", _choices(Channel)),
                ReportField("direction", "Direction", "direction", "category", _choices(Direction)),
                customer_country,
                ReportField("occurred_at", "Occurred", "occurred_at", "date"),
            ),
            record_url=_interaction_url,
            record_title=lambda e: e.summary,
            columns=("kind", "channel", "occurred_at"),
            order=30,
        )
    )
