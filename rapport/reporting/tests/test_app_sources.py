"""Deals (sales) and tickets (service) as report sources: the figures equal a direct count,
a rep's report counts only their own records, and the sales and service dashboards get
their pipeline and backlog tiles."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from rapport.core.permissions import Scope, system_actor
from rapport.identity.tests.factories import UserFactory, user_with
from rapport.reporting import engine, services
from rapport.reporting.engine import ReportDefinition
from rapport.reporting.models import SavedReport
from rapport.sales import services as sales_services
from rapport.sales.models import Deal
from rapport.sales.tests.factories import CustomerFactory, make_pipeline
from rapport.service import services as service_services
from rapport.service.models import Ticket

pytestmark = pytest.mark.django_db


def _run(actor: Any, **definition: Any) -> dict[tuple[str, ...], tuple[Any, ...]]:
    result = engine.run_report(ReportDefinition.from_dict(definition), actor=actor)
    return {row.keys: row.values for row in result.rows}


def test_open_pipeline_by_stage_equals_the_deals_and_follows_record_scope() -> None:
    pipeline = make_pipeline()
    first, second = list(pipeline.stages.order_by("position")[:2])
    rep = user_with(Scope.OWN, object_types=("customers.customer", "sales.deal"))
    other = user_with(Scope.OWN, object_types=("customers.customer", "sales.deal"))
    for owner, stage, amount in [
        (rep, first, "100.00"),
        (rep, second, "250.50"),
        (other, second, "1000.00"),
    ]:
        sales_services.deal_create(
            actor=system_actor(),
            customer=CustomerFactory(owner=owner),
            data=sales_services.DealInput(
                name=f"{owner.pk}-{stage.name}", stage_id=stage.pk, amount=amount, owner_id=owner.pk
            ),
        )
    definition = {
        "source": "deals",
        "filters": [{"field": "status", "op": "eq", "value": "open"}],
        "groups": [{"field": "stage"}],
        "measures": [{"fn": "sum", "field": "amount"}, {"fn": "count"}],
    }
    admin = UserFactory(is_superuser=True)
    assert _run(admin, **definition) == {
        (first.name,): (Decimal("100.00"), 1),
        (second.name,): (Decimal("1250.50"), 2),
    }
    assert _run(rep, **definition) == {
        (first.name,): (Decimal("100.00"), 1),
        (second.name,): (Decimal("250.50"), 1),
    }
    behind = engine.drill_down(
        ReportDefinition.from_dict(definition), actor=rep, keys=[second.name]
    )
    assert list(behind) == list(Deal.objects.filter(owner=rep, stage=second))


def test_open_tickets_by_priority_equal_the_tickets() -> None:
    admin = UserFactory(is_superuser=True)
    for priority in ("urgent", "normal", "normal"):
        service_services.ticket_create(
            actor=admin,
            data=service_services.TicketInput(
                customer_id=CustomerFactory().pk, subject="Where is my order?", priority=priority
            ),
        )
    figures = _run(admin, source="tickets", groups=[{"field": "priority"}])
    counted = {
        (p,): (Ticket.objects.filter(priority=p).count(),)
        for p in Ticket.objects.values_list("priority", flat=True).distinct()
    }
    assert figures == counted == {("urgent",): (1,), ("normal",): (2,)}


def test_the_sales_and_service_dashboards_get_pipeline_and_backlog_tiles() -> None:
    services.dashboards_seed(actor=UserFactory(is_superuser=True))
    names = set(SavedReport.objects.values_list("dashboard", "name"))
    assert ("sales", "Open pipeline by stage") in names
    assert ("sales", "Won deals by month") in names
    assert ("service", "Open tickets by queue and priority") in names
    assert ("service", "Tickets created by week") in names
