"""RFM scores on a hand-built table of orders, against hand-computed quintiles and segments."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from rapport.analytics import rfm
from rapport.analytics.models import RfmScore
from rapport.commerce.models import Order
from rapport.commerce.tests.factories import CustomerFactory
from rapport.core.models import OutboxEvent

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 6, 30)

# name: [(days before AS_OF, total), ...]. Ten customers, so each quintile holds two.
PURCHASES = {
    "A": [(1, 50), (1, 50), (5, 100), (9, 100), (13, 100), (17, 100)],  # 6 orders, 5 days
    "B": [(2, 100), (6, 100), (10, 100), (14, 100)],
    "C": [(10, 100), (20, 100), (30, 100)],
    "D": [(20, 100), (30, 100), (40, 50)],
    "E": [(30, 100), (60, 100)],
    "F": [(40, 75), (80, 75)],
    "G": [(100, 100)],
    "H": [(200, 50)],
    "I": [(300, 40)],
    "J": [(400, 30)],
}

# By hand. R: oldest last purchase first, J I | H G | F E | D C | B A.
# F (purchase days): G H I J have 1 (tiles 1,1,2,2: ties share the first, 1); E F 2 -> 3;
# C D 3 -> 4; B 4 -> 5; A 5 -> 5. M: J I | H G | F E | D C | B A. FM = round((F+M)/2).
EXPECTED = {
    #     R  F  M  FM recency days orders monetary segment
    "A": (5, 5, 5, 5, 1, 5, 6, "500", "champions"),
    "B": (5, 5, 5, 5, 2, 4, 4, "400", "champions"),
    "C": (4, 4, 4, 4, 10, 3, 3, "300", "champions"),
    "D": (4, 4, 4, 4, 20, 3, 3, "250", "champions"),
    "E": (3, 3, 3, 3, 30, 2, 2, "200", "need_attention"),
    "F": (3, 3, 3, 3, 40, 2, 2, "150", "need_attention"),
    "G": (2, 1, 2, 2, 100, 1, 1, "100", "hibernating"),
    "H": (2, 1, 2, 2, 200, 1, 1, "50", "hibernating"),
    "I": (1, 1, 1, 1, 300, 1, 1, "40", "lost"),
    "J": (1, 1, 1, 1, 400, 1, 1, "30", "lost"),
}


def _at(days_before: int) -> dt.datetime:
    return dt.datetime.combine(AS_OF - dt.timedelta(days=days_before), dt.time(12), dt.UTC)


def _order(customer, when: dt.datetime, total: int, status: str = "delivered") -> Order:
    return Order.objects.create(
        customer=customer, currency="EUR", total=Decimal(total), ordered_at=when, status=status
    )


@pytest.fixture
def shop():
    customers = {}
    for name, purchases in PURCHASES.items():
        customers[name] = customer = CustomerFactory(display_name=name)
        for days_before, total in purchases:
            _order(customer, _at(days_before), total)
    # Not counted: A's cancelled and returned orders, an order after the as-of date.
    _order(customers["A"], _at(3), 1000, status="cancelled")
    _order(customers["J"], _at(3), 1000, status="returned")
    _order(customers["I"], _at(-2), 1000)
    customers["only_cancelled"] = CustomerFactory(display_name="K")
    _order(customers["only_cancelled"], _at(5), 80, status="cancelled")
    customers["no_orders"] = CustomerFactory(display_name="L")
    return customers


def test_scores_and_segments_match_the_hand_computed_ones(shop) -> None:
    run = rfm.score_all(as_of=AS_OF)

    assert run.scored == 10
    assert run.segments == {"champions": 4, "need_attention": 2, "hibernating": 2, "lost": 2}
    rows = {s.customer.display_name: s for s in RfmScore.objects.select_related("customer")}
    assert set(rows) == set(EXPECTED)  # K (only cancelled) and L (no orders) have no row
    for name, (r, f, m, fm, recency, days, orders, monetary, segment) in EXPECTED.items():
        score = rows[name]
        got = (score.r_score, score.f_score, score.m_score, score.fm_score)
        assert got == (r, f, m, fm), name
        assert (score.recency_days, score.frequency, score.orders) == (recency, days, orders), name
        assert score.monetary == Decimal(monetary), name
        assert score.segment == segment, name
        assert score.as_of == AS_OF
    assert rows["A"].last_order_at == _at(1)
    assert rows["A"].first_order_at == _at(17)
    event = OutboxEvent.objects.get(type="rfm.recomputed")
    assert event.data["customers"] == 10


def test_a_second_run_replaces_the_rows(shop) -> None:
    rfm.score_all(as_of=AS_OF)
    later = AS_OF + dt.timedelta(days=30)
    run = rfm.score_all(as_of=later)

    assert RfmScore.objects.count() == 10
    assert set(RfmScore.objects.values_list("as_of", flat=True)) == {later}
    # I's order two days after AS_OF now counts: the most recent buyer, with 2 days.
    i_score = RfmScore.objects.get(customer=shop["I"])
    assert (i_score.recency_days, i_score.frequency, i_score.r_score) == (28, 2, 5)
    assert run.scored == 10


def test_no_orders_at_all_scores_nobody() -> None:
    CustomerFactory()
    run = rfm.score_all(as_of=AS_OF)
    assert run.scored == 0 and RfmScore.objects.count() == 0


@pytest.mark.parametrize(
    ("r", "fm", "segment"),
    [
        (5, 5, "champions"), (4, 4, "champions"), (5, 3, "loyal"), (3, 5, "loyal"),
        (5, 2, "potential_loyalist"), (5, 1, "new"), (4, 1, "promising"),
        (3, 3, "need_attention"), (3, 1, "about_to_sleep"), (2, 4, "at_risk"),
        (1, 3, "at_risk"), (1, 5, "cant_lose"), (2, 2, "hibernating"), (1, 2, "hibernating"),
        (1, 1, "lost"),
    ],
)  # fmt: skip
def test_segment_grid(r: int, fm: int, segment: str) -> None:
    assert rfm.segment_for(r, fm) == segment


def test_the_sql_grid_is_the_python_grid() -> None:
    sql = f"SELECT {rfm._segment_case()} FROM (SELECT %s AS r, %s AS fm) AS cell"  # noqa: S608
    with connection.cursor() as cursor:
        for r in range(1, 6):
            for fm in range(1, 6):
                cursor.execute(sql, (r, fm))
                assert cursor.fetchone()[0] == rfm.segment_for(r, fm), (r, fm)


def _ntile(position: int, n: int) -> int:
    """NTILE(5) as the SQL standard defines it: the first n mod 5 tiles get one more row."""
    q, r = divmod(n, 5)
    sizes = [q + 1] * r + [q] * (5 - r)
    total = 0
    for tile, size in enumerate(sizes, start=1):
        total += size
        if position <= total:
            return tile
    raise AssertionError


def test_the_tile_of_a_position_is_ntiles() -> None:
    sql = f"SELECT {rfm._tile('p')} FROM (SELECT %s AS n, %s AS p) AS cell"  # noqa: S608
    with connection.cursor() as cursor:
        for n in range(1, 18):
            for position in range(1, n + 1):
                cursor.execute(sql, (n, position))
                assert cursor.fetchone()[0] == _ntile(position, n), (n, position)
