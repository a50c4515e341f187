"""The report engine's figures equal hand-written SQL over the same tables, on SQLite and
PostgreSQL (date buckets are each database's own), within the actor's record scope."""

# The expected figures come from SQL written here from constants (no user input).
# ruff: noqa: S608
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from rapport.commerce.models import Order
from rapport.identity.tests.factories import UserFactory
from rapport.reporting import engine
from rapport.reporting.engine import ReportDefinition

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"


def bucket_sql(column: str, bucket: str) -> str:
    """The first day of `column`'s bucket as 'YYYY-MM-DD' (the site's time zone is UTC)."""
    if POSTGRES:
        return f"to_char(date_trunc('{bucket}', {column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
    if bucket == "month":
        return f"strftime('%Y-%m-01', {column})"
    if bucket == "year":
        return f"strftime('%Y-01-01', {column})"
    if bucket == "week":  # back to Monday
        return f"date({column}, '-6 days', 'weekday 1')"
    if bucket == "quarter":
        month = f"((CAST(strftime('%m', {column}) AS INTEGER) - 1) / 3) * 3 + 1"
        return f"strftime('%Y', {column}) || '-' || substr('0' || ({month}), -2) || '-01'"
    return f"date({column})"


def sql(query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return [tuple(row) for row in cursor.fetchall()]


def figures(result: engine.ReportResult) -> dict[tuple[str, ...], tuple[Any, ...]]:
    return {row.keys: row.values for row in result.rows}


def run(user: Any, **definition: Any) -> engine.ReportResult:
    return engine.run_report(ReportDefinition.from_dict(definition), actor=user)


def test_customers_by_country_equal_sql(world) -> None:
    result = run(world.admin, source="customers", groups=[{"field": "country"}])
    expected = sql(
        "SELECT country, COUNT(*) FROM customers_customer WHERE merged_into_id IS NULL "
        "GROUP BY country"
    )
    assert figures(result) == {(c,): (n,) for c, n in expected}
    # The biggest group first, and blank countries are one "(none)" group.
    assert result.rows[0].values[0] == max(n for _, n in expected)
    assert ("(none)",) in [r.labels for r in result.rows]


@pytest.mark.parametrize("bucket", ["day", "week", "month", "quarter", "year"])
def test_order_revenue_by_date_bucket_equal_sql(world, bucket) -> None:
    result = run(
        world.admin,
        source="orders",
        filters=[{"field": "status", "op": "ne", "value": "cancelled"}],
        groups=[{"field": "ordered_at", "bucket": bucket}],
        measures=[
            {"fn": "count"},
            {"fn": "sum", "field": "total"},
            {"fn": "avg", "field": "total"},
        ],
    )
    b = bucket_sql("ordered_at", bucket)
    expected = sql(
        f"SELECT {b}, COUNT(*), SUM(total), AVG(total) FROM commerce_order "
        f"WHERE status <> %s GROUP BY {b} ORDER BY 1",
        ("cancelled",),
    )
    assert [r.keys[0] for r in result.rows] == [row[0] for row in expected]  # oldest first
    for row, (_, count, total, average) in zip(result.rows, expected, strict=True):
        assert row.values[0] == count
        assert Decimal(str(row.values[1])) == Decimal(str(total)).quantize(Decimal("0.01"))
        assert row.values[2] == pytest.approx(float(average))
    assert len(result.rows) > 1


def test_interactions_by_month_and_kind_equal_sql(world) -> None:
    result = run(
        world.admin,
        source="interactions",
        groups=[{"field": "occurred_at", "bucket": "month"}, {"field": "kind"}],
    )
    b = bucket_sql("occurred_at", "month")
    expected = sql(f"SELECT {b}, kind, COUNT(*) FROM customers_interaction GROUP BY {b}, kind")
    assert figures(result) == {(m, k): (n,) for m, k, n in expected}
    assert result.rows[0].labels[0].endswith("2025")  # "Nov 2025"


def test_customers_by_stage_and_created_quarter_with_filters_equal_sql(world) -> None:
    result = run(
        world.admin,
        source="customers",
        filters=[
            {"field": "country", "op": "in", "value": ["NL", "DE"]},
            {"field": "created_at", "op": "on_or_after", "value": "2026-01-01"},
            {"field": "source", "op": "not_blank"},
        ],
        groups=[{"field": "lifecycle_stage"}, {"field": "created_at", "bucket": "quarter"}],
        measures=[{"fn": "count"}, {"fn": "avg", "field": "quality_score"}],
    )
    b = bucket_sql("created_at", "quarter")
    expected = sql(
        f"SELECT lifecycle_stage, {b}, COUNT(*), AVG(quality_score) FROM customers_customer "
        "WHERE merged_into_id IS NULL AND country IN ('NL', 'DE') AND created_at >= %s "
        f"AND source <> '' GROUP BY lifecycle_stage, {b}",
        ("2026-01-01",),
    )
    assert figures(result) == {(s, q): (n, pytest.approx(float(a))) for s, q, n, a in expected}
    assert "Customer" in {r.labels[0] for r in result.rows}  # the choice's label


def test_no_grouping_gives_the_totals(world) -> None:
    result = run(world.admin, source="orders", measures=[{"fn": "sum", "field": "total"}])
    ((total,),) = sql("SELECT SUM(total) FROM commerce_order")
    assert result.rows[0].values[0] == pytest.approx(float(total))


def test_a_report_is_one_query(world, django_assert_num_queries) -> None:
    definition = ReportDefinition.from_dict(
        {"source": "orders", "groups": [{"field": "ordered_at", "bucket": "month"}]}
    )
    engine.run_report(definition, actor=world.admin)  # warm the grant cache
    with django_assert_num_queries(1):
        engine.run_report(definition, actor=world.admin)


@pytest.mark.parametrize(
    ("who", "where"),
    [
        ("rep", "owner_id = {rep}"),
        ("manager", "(owner_id = {manager} OR team_id = {north})"),
        ("boss", "1 = 1"),
    ],
)
def test_a_report_counts_only_what_the_actor_may_see(world, who, where) -> None:
    user = getattr(world, who)
    north = world.rep.teams.get().pk
    condition = where.format(rep=world.rep.pk, manager=world.manager.pk, north=north)
    for source, table, extra in [
        ("customers", "customers_customer", " AND merged_into_id IS NULL"),
        ("orders", "commerce_order", ""),
    ]:
        result = run(user, source=source, groups=[{"field": "owner"}])
        expected = sql(f"SELECT COUNT(*) FROM {table} WHERE {condition}{extra}")[0][0]
        assert sum(r.values[0] for r in result.rows) == expected, source
    interactions = run(user, source="interactions", groups=[{"field": "kind"}])
    on_customer = condition.replace("owner_id", "c.owner_id").replace("team_id", "c.team_id")
    expected = sql(
        "SELECT COUNT(*) FROM customers_interaction i JOIN customers_customer c "
        f"ON c.id = i.customer_id WHERE {on_customer}"
    )[0][0]
    assert sum(r.values[0] for r in interactions.rows) == expected
    if who == "rep":
        assert 0 < expected < sql("SELECT COUNT(*) FROM customers_interaction")[0][0]


def test_a_user_without_the_grant_gets_no_report(world) -> None:
    nobody = UserFactory()
    with pytest.raises(PermissionDenied):
        run(nobody, source="orders")


def test_every_figure_drills_down_to_its_records(world) -> None:
    for definition in [
        {"source": "customers", "groups": [{"field": "country"}, {"field": "team"}]},
        {
            "source": "orders",
            "filters": [{"field": "total", "op": "gte", "value": "30"}],
            "groups": [{"field": "ordered_at", "bucket": "week"}, {"field": "status"}],
        },
        {"source": "interactions", "groups": [{"field": "occurred_at", "bucket": "quarter"}]},
    ]:
        parsed = ReportDefinition.from_dict(definition)
        for user in (world.admin, world.rep):
            result = engine.run_report(parsed, actor=user)
            for row in result.rows:
                records = engine.drill_down(parsed, actor=user, keys=row.keys)
                assert records.count() == row.values[0], (definition, row)
            first = result.rows[0]
            coarse = engine.drill_down(parsed, actor=user, keys=first.keys[:1]).count()
            assert coarse == sum(r.values[0] for r in result.rows if r.keys[0] == first.keys[0])


def test_groups_past_the_cap_are_cut_and_said(world, monkeypatch) -> None:
    monkeypatch.setattr(engine, "GROUP_CAP", 4)
    result = run(world.admin, source="orders", groups=[{"field": "ordered_at", "bucket": "day"}])
    assert result.truncated and len(result.rows) == 4
    assert not run(world.admin, source="orders", groups=[{"field": "status"}]).truncated


@pytest.mark.parametrize(
    ("definition", "key", "says"),
    [
        ({"source": "ledgers"}, "source", "Unknown source 'ledgers'"),
        ({"source": "orders", "groups": [{"field": "password"}]}, "groups.0.field", "'password'"),
        (
            {"source": "orders", "filters": [{"field": "status", "op": "like", "value": "x"}]},
            "filters.0.op",
            "Status: unknown operator 'like'",
        ),
        (
            {"source": "orders", "filters": [{"field": "status", "op": "eq", "value": "lost"}]},
            "filters.0.value",
            "unknown value 'lost'",
        ),
        (
            {
                "source": "orders",
                "filters": [{"field": "ordered_at", "op": "before", "value": "May"}],
            },
            "filters.0.value",
            "Ordered: 'May' is not a date",
        ),
        (
            {"source": "orders", "filters": [{"field": "total", "op": "gte", "value": "1; DROP"}]},
            "filters.0.value",
            "is not a number",
        ),
        (
            {"source": "orders", "groups": [{"field": "ordered_at"}]},
            "groups.0.bucket",
            "date bucket",
        ),
        (
            {"source": "orders", "groups": [{"field": "status", "bucket": "month"}]},
            "groups.0.bucket",
            "not a date",
        ),
        (
            {"source": "orders", "measures": [{"fn": "sum", "field": "customer__id"}]},
            "measures.0.field",
            "'customer__id'",
        ),
        ({"source": "orders", "measures": [{"fn": "median"}]}, "measures.0.fn", "'median'"),
        ({"source": "orders", "measures": []}, "measures", "at least one"),
        ({"source": "orders", "chart": "radar"}, "chart", "'radar'"),
        ({"source": "orders", "groups": [{"field": "status"}] * 3}, "groups", "At most 2"),
    ],
)
def test_bad_definitions_name_the_field_at_fault(definition, key, says) -> None:
    with pytest.raises(ValidationError) as exc:
        ReportDefinition.from_dict(definition)
    assert says in " ".join(exc.value.message_dict[key])


def test_a_definition_round_trips_through_json() -> None:
    data = {
        "source": "orders",
        "filters": [{"field": "status", "op": "in", "value": ["paid", "delivered"]}],
        "groups": [{"field": "ordered_at", "bucket": "month"}],
        "measures": [{"fn": "sum", "field": "total"}],
        "chart": "line",
    }
    assert ReportDefinition.from_dict(data).to_dict() == {
        **data,
        "groups": [{"field": "ordered_at", "bucket": "month"}],
        "measures": [{"fn": "sum", "field": "total"}],
    }


def test_date_buckets_follow_the_site_time_zone(world, settings) -> None:
    """A site east of UTC: an order at 23:30 UTC counts on the next local day, and each
    day's figure still drills down to exactly its orders."""
    settings.TIME_ZONE = "Pacific/Auckland"
    definition = ReportDefinition.from_dict(
        {"source": "orders", "groups": [{"field": "ordered_at", "bucket": "day"}]}
    )
    with timezone.override("Pacific/Auckland"):
        result = engine.run_report(definition, actor=world.admin)
        local_days: dict[str, int] = {}
        for ordered_at in Order.objects.values_list("ordered_at", flat=True):
            day = timezone.localtime(ordered_at).date().isoformat()
            local_days[day] = local_days.get(day, 0) + 1
        assert figures(result) == {(d,): (n,) for d, n in local_days.items()}
        for row in result.rows[:5]:
            assert (
                engine.drill_down(definition, actor=world.admin, keys=row.keys).count()
                == (row.values[0])
            )
