"""Churn features against values computed by hand on a small table, and no leakage: rows
after the cut-off change neither the features nor who is in the table."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pytest

from rapport.analytics import churn_features
from rapport.commerce.models import Order
from rapport.commerce.tests.factories import CustomerFactory
from rapport.customers.models import Interaction

UTC = dt.UTC
CUTOFF = dt.datetime(2026, 6, 1, tzinfo=UTC)


def at(y: int, m: int, d: int, h: int = 12) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=UTC)


def order(customer, when, total, status="delivered"):
    return Order.objects.create(
        customer=customer, ordered_at=when, total=Decimal(total), currency="EUR", status=status
    )


def touch(customer, when, kind, direction=""):
    return Interaction.objects.create(
        customer=customer,
        kind=kind,
        channel="email",
        direction=direction,
        occurred_at=when,
        summary=kind,
    )


@pytest.fixture
def table(db):
    a, b, c, d = (CustomerFactory() for _ in range(4))
    order(a, at(2026, 1, 10), "100.00")
    order(a, at(2026, 3, 15, 9), "50.00")
    order(a, at(2026, 3, 15, 17), "30.00")  # same day: one purchase day
    order(a, at(2026, 4, 20), "20.00", status="cancelled")
    order(a, at(2026, 5, 20), "40.00")
    touch(a, at(2026, 5, 25), "ticket", "in")
    touch(a, at(2026, 5, 1), "email", "out")
    touch(a, at(2026, 4, 1), "campaign_open")
    touch(a, at(2026, 5, 20), "order")  # mirrors an order: not a contact
    order(b, at(2025, 9, 1), "75.50")
    order(c, at(2024, 1, 1), "10.00")  # last order > 365 days before: not active
    return {"a": a, "b": b, "c": c, "d": d}


def row(result, customer):
    index = list(result.customer_ids).index(customer.pk)
    return dict(zip(result.names, result.X[index], strict=True))


def test_features_equal_hand_computed_values(table):
    result = churn_features.extract(CUTOFF, label_until=CUTOFF + dt.timedelta(days=180))
    assert sorted(result.customer_ids) == sorted([table["a"].pk, table["b"].pk])
    a = row(result, table["a"])
    day = 86400
    first, last = at(2026, 1, 10), at(2026, 5, 20)
    assert a["orders"] == 4
    assert a["order_days"] == 3
    assert a["revenue"] == pytest.approx(220.0)
    assert a["avg_order_value"] == pytest.approx(55.0)
    assert a["days_since_last_order"] == pytest.approx(11.5)
    assert a["tenure_days"] == pytest.approx((CUTOFF - first).total_seconds() / day)
    gap = (last - first).total_seconds() / day / 2
    assert a["mean_gap_days"] == pytest.approx(gap)
    assert a["recency_to_gap"] == pytest.approx(11.5 / gap)
    # Cut-off - 90 days = 3 March: 15 Mar (x2) and 20 May are recent, 10 Jan before.
    assert (a["orders_last_90"], a["orders_prev_90"], a["order_trend_90"]) == (3, 1, 2)
    assert (a["cancelled"], a["cancelled_180"]) == (1, 1)
    assert (a["tickets_90"], a["tickets_365"], a["inbound_90"], a["outbound_90"]) == (1, 1, 1, 1)
    assert a["email_engagement_90"] == 1
    assert (a["touches_90"], a["touch_trend_90"]) == (3, 3)
    assert a["days_since_last_touch"] == pytest.approx(6.5)

    b = row(result, table["b"])
    assert (b["orders"], b["order_days"], b["revenue"]) == (1, 1, pytest.approx(75.5))
    assert math.isnan(b["mean_gap_days"]) and math.isnan(b["recency_to_gap"])
    assert b["days_since_last_touch"] == churn_features.NO_TOUCH_DAYS
    labels = dict(zip(result.customer_ids, result.churned, strict=True))
    assert labels == {table["a"].pk: 1, table["b"].pk: 1}


def test_rows_after_the_cutoff_change_no_feature(table):
    """Would fail if any aggregate read past the cut-off (a leak of the label)."""
    window_end = CUTOFF + dt.timedelta(days=180)
    before = churn_features.extract(CUTOFF, label_until=window_end)
    for customer in (table["a"], table["b"], table["c"], table["d"]):
        order(customer, CUTOFF, "500.00")  # exactly at the cut-off: already the future
        order(customer, CUTOFF + dt.timedelta(days=30), "60.00", status="cancelled")
        touch(customer, CUTOFF + dt.timedelta(hours=1), "ticket", "in")
        touch(customer, CUTOFF + dt.timedelta(days=10), "email", "out")
    after = churn_features.extract(CUTOFF, label_until=window_end)
    assert list(after.customer_ids) == list(before.customer_ids)
    np.testing.assert_array_equal(after.X, before.X)
    # The label does see them: both bought in the window now.
    assert list(after.churned) == [0, 0]


def test_batches_give_the_same_table_as_one_query(table):
    whole = churn_features.extract(CUTOFF)
    small = churn_features.extract(CUTOFF, batch_size=1)
    assert list(small.customer_ids) == list(whole.customer_ids)
    np.testing.assert_array_equal(small.X, whole.X)


def test_no_orders_at_all_gives_an_empty_table(db):
    CustomerFactory()
    result = churn_features.extract(CUTOFF, label_until=CUTOFF + dt.timedelta(days=180))
    assert len(result) == 0
    assert result.X.shape == (0, len(churn_features.FEATURES))
    assert result.churned is not None and len(result.churned) == 0
