"""Deals as a report source: the report builder, the sales dashboard's pipeline tiles and
their drill-downs count deals through the record-scoped `deal_list`."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from rapport.core import registry
from rapport.core.registry import ReportField
from rapport.sales import selectors
from rapport.sales.models import Deal, DealStatus


def deals(*, actor: Any) -> QuerySet[Deal]:
    return selectors.deal_list(actor=actor)


def register() -> None:
    statuses = tuple((str(value), str(label)) for value, label in DealStatus.choices)
    registry.add_report_source(
        registry.ReportSource(
            name="deals",
            label="Deals",
            object_type="sales.deal",
            queryset=deals,
            dimensions=(
                ReportField("status", "Status", "status", "category", statuses),
                ReportField("pipeline", "Pipeline", "pipeline__name", "category"),
                ReportField("stage", "Stage", "stage__name", "category"),
                ReportField("currency", "Currency", "currency", "category"),
                ReportField("owner", "Owner", "owner__email", "category"),
                ReportField("team", "Team", "team__name", "category"),
                ReportField(
                    "customer_country", "Customer country", "customer__country", "category"
                ),
                ReportField("lost_reason", "Lost reason", "lost_reason", "category"),
                ReportField("expected_close_date", "Expected close", "expected_close_date", "date"),
                ReportField("closed_at", "Closed", "closed_at", "date"),
                ReportField("created_at", "Created", "created_at", "date"),
                ReportField("amount", "Amount", "amount", "number"),
            ),
            numbers=(
                ReportField("amount", "Amount", "amount", "number"),
                ReportField("probability", "Win probability (%)", "probability", "number"),
            ),
            record_url=lambda deal: deal.get_absolute_url(),
            record_title=lambda deal: deal.name,
            columns=("status", "stage", "amount", "expected_close_date"),
            order=40,
        )
    )
