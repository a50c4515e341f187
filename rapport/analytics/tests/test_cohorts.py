"""Cohorts and monthly trends against figures computed by hand, record scope, drill-down."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from rapport.analytics import cohorts
from rapport.analytics.cohorts import Month
from rapport.commerce.models import Order
from rapport.commerce.tests.factories import CustomerFactory
from rapport.core.permissions import Scope
from rapport.identity.tests.factories import TeamFactory, user_with

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 15)
ORDERS = {
    "A": [("2026-01-10", 100), ("2026-02-05", 50), ("2026-04-01", 30)],
    "B": [("2026-01-20", 200), ("2026-01-25", 20), ("2026-03-03", 10),
          ("2026-03-20", 999, "cancelled")],
    "C": [("2026-02-14", 80), ("2026-03-01", 40)],
    "D": [("2025-11-01", 70), ("2026-02-02", 60)],  # acquired before the window
    "E": [("2026-06-01", 25)],
    "F": [("2026-03-05", 500, "cancelled")],  # never bought: in no cohort
}  # fmt: skip


@pytest.fixture
def shop() -> dict[str, Any]:
    team = TeamFactory()
    rep = user_with(Scope.OWN, teams=[team])
    boss = user_with(Scope.ALL)
    customers = {}
    for name, orders in ORDERS.items():
        owner = rep if name == "A" else None
        customers[name] = customer = CustomerFactory(display_name=f"Customer {name}", owner=owner)
        for day, total, *status in orders:
            Order.objects.create(
                customer=customer,
                currency="EUR",
                total=Decimal(total),
                status=status[0] if status else "delivered",
                ordered_at=dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.UTC),
            )
    return {"rep": rep, "boss": boss, **customers}


def _cells(cohort: cohorts.Cohort) -> list[tuple[int, str, float] | None]:
    return [
        None if c is None else (c.customers, str(c.revenue), round(c.retention, 1))
        for c in cohort.cells
    ]


def test_cohorts_retention_and_revenue_match_hand_computed_figures(shop) -> None:
    report = cohorts.cohort_report(actor=shop["boss"], months=6, today=TODAY)

    assert [(c.month.key, c.size) for c in report.cohorts] == [
        ("2026-01", 2),
        ("2026-02", 1),
        ("2026-06", 1),
    ]
    january, february, june = report.cohorts
    assert _cells(january) == [
        (2, "320.00", 100.0),
        (1, "50.00", 50.0),
        (1, "10.00", 50.0),
        (1, "30.00", 50.0),
        (0, "0", 0.0),
        (0, "0", 0.0),
    ]
    assert january.revenue == Decimal("410.00")
    assert january.cells[0].revenue_per_customer == Decimal("160.00")
    # February's sixth month (July) has not come yet.
    assert _cells(february) == [
        (1, "80.00", 100.0),
        (1, "40.00", 100.0),
        (0, "0", 0.0),
        (0, "0", 0.0),
        (0, "0", 0.0),
        None,
    ]
    assert _cells(june)[0] == (1, "25.00", 100.0) and june.cells[1] is None


def test_monthly_trends_match_hand_computed_figures(shop) -> None:
    report = cohorts.cohort_report(actor=shop["boss"], months=6, today=TODAY)
    got = [
        (t.month.key, str(t.revenue), t.orders, t.active_customers, t.new_customers,
         str(t.average_order_value))
        for t in report.trends
    ]  # fmt: skip
    assert got == [
        ("2026-01", "320.00", 3, 2, 2, "106.67"),
        ("2026-02", "190.00", 3, 3, 1, "63.33"),
        ("2026-03", "50.00", 2, 2, 0, "25.00"),
        ("2026-04", "30.00", 1, 1, 0, "30.00"),
        ("2026-05", "0", 0, 0, 0, "0"),
        ("2026-06", "25.00", 1, 1, 1, "25.00"),
    ]
    assert report.peak_revenue == Decimal("320.00")
    assert report.bar(report.trends[1]) == 59


def test_a_rep_sees_the_cohorts_of_their_own_customers(shop) -> None:
    report = cohorts.cohort_report(actor=shop["rep"], months=6, today=TODAY)
    assert [(c.month.key, c.size) for c in report.cohorts] == [("2026-01", 1)]
    assert str(report.trends[0].revenue) == "100.00"


def test_cohort_customers_drill_down(shop) -> None:
    january = Month(2026, 1)

    def names(actor: Any, k: int | None) -> set[str]:
        found = cohorts.cohort_customers(actor=actor, cohort=january, k=k)
        return {c.display_name for c in found}

    assert names(shop["boss"], None) == {"Customer A", "Customer B"}
    assert names(shop["boss"], 1) == {"Customer A"}
    assert names(shop["boss"], 2) == {"Customer B"}
    assert names(shop["boss"], 4) == set()
    assert names(shop["rep"], 2) == set()
    row = cohorts.cohort_customers(actor=shop["boss"], cohort=january, k=0).get(
        display_name="Customer B"
    )
    assert row.month_revenue == Decimal("220.00") and row.month_orders == 2


def test_pages_link_each_cell_to_its_customers(shop, settings) -> None:
    client = Client()
    client.force_login(shop["boss"])
    html = client.get("/analytics/cohorts/?months=36").content.decode()
    assert "/analytics/cohorts/customers/?cohort=2026-01&amp;k=1" in html
    listing = client.get("/analytics/cohorts/customers/?cohort=2026-01&k=1").content.decode()
    assert "Customer A" in listing and "Customer B" not in listing
    bad = client.get("/analytics/cohorts/customers/?cohort=2026-13").content.decode()
    assert "YYYY-MM" in bad
    assert client.get("/analytics/cohorts/?months=999").status_code == 200


def test_month_parsing() -> None:
    assert Month.parse("2026-03-01 00:00:00") == Month(2026, 3)
    assert Month.parse(dt.datetime(2025, 12, 1)) == Month(2025, 12)
    assert Month(2025, 12).plus(1) == Month(2026, 1)
    assert Month(2026, 2).minus(Month(2025, 11)) == 3
    with pytest.raises(Exception, match="YYYY-MM"):
        Month.parse("March")


def test_cohort_list_makes_the_same_queries_for_few_rows_and_many(
    shop, django_assert_num_queries
) -> None:
    client = Client()
    client.force_login(shop["boss"])
    url = "/analytics/cohorts/customers/?cohort=2026-01"
    client.get(url)
    with django_assert_num_queries(5):
        client.get(url)
    for n in range(20):
        customer = CustomerFactory(display_name=f"Extra {n}")
        Order.objects.create(
            customer=customer, currency="EUR", total=Decimal(5), status="delivered",
            ordered_at=dt.datetime(2026, 1, 3, 12, tzinfo=dt.UTC),
        )  # fmt: skip
    with django_assert_num_queries(5):
        assert b"Extra 19" in client.get(url).content


def test_demo_loader_scores_the_demo_orders(shop) -> None:
    from rapport.core import registry

    loader = next(d for d in registry.demo_loaders() if d.key == "analytics_rfm")
    assert "RFM scores for 5 customers" in loader.load()
