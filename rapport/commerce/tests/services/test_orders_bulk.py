"""The bulk path imports use: batched writes, per-row errors, idempotent by external_id."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from rapport.commerce import services
from rapport.commerce.models import Order, OrderLine
from rapport.commerce.services import LineInput, OrderRow
from rapport.commerce.tests.factories import CustomerFactory, ProductFactory, commerce_user
from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers.models import Interaction
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _rows(customers, n, *, status="paid", price="10.00"):
    when = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    return [
        OrderRow(
            external_id=f"ERP-{i}",
            customer_id=customers[i % len(customers)].pk,
            ordered_at=when + dt.timedelta(minutes=i),
            currency="EUR",
            status=status,
            channel="erp",
            lines=[
                LineInput(sku="TEA-1", name="Tea", quantity=2, unit_price=price),
                LineInput(sku="CUP-1", name="Cup", quantity=1, unit_price="3.50"),
            ],
            tax="1.00",
            row=i + 2,
        )
        for i in range(n)
    ]


def test_bulk_upsert_writes_orders_lines_audit_events_and_timeline_in_constant_queries(
    django_assert_max_num_queries,
) -> None:
    user = commerce_user()
    customers = [CustomerFactory(owner=user) for _ in range(5)]
    rows = _rows(customers, 120)
    with django_assert_max_num_queries(20):
        result = services.orders_bulk_upsert(actor=user, rows=rows)
    assert (result.created, result.updated, result.errors) == (120, 0, [])
    assert Order.objects.count() == 120
    assert OrderLine.objects.count() == 240
    order = Order.objects.get(external_id="ERP-7")
    assert (order.subtotal, order.total, order.number) == (
        Decimal("23.50"),
        Decimal("24.50"),
        "ERP-7",
    )
    assert result.order_ids["ERP-7"] == order.pk
    assert (
        AuditLogEntry.objects.filter(object_type="commerce.order", action="create").count() == 120
    )
    assert OutboxEvent.objects.filter(type="order.created").count() == 120
    assert OutboxEvent.objects.filter(type="interaction.created").count() == 120
    entry = Interaction.objects.get(source_type="commerce.order", source_id=str(order.pk))
    assert (entry.kind, entry.occurred_at) == ("order", order.ordered_at)


def test_running_the_same_rows_twice_leaves_one_order_each_and_writes_nothing() -> None:
    user = commerce_user()
    customers = [CustomerFactory(owner=user)]
    services.orders_bulk_upsert(actor=user, rows=_rows(customers, 30))
    before = (
        AuditLogEntry.objects.count(),
        OutboxEvent.objects.count(),
        Interaction.objects.count(),
    )
    result = services.orders_bulk_upsert(actor=user, rows=_rows(customers, 30))
    assert (result.created, result.updated, result.unchanged) == (0, 0, 30)
    assert Order.objects.count() == 30
    assert OrderLine.objects.count() == 60
    after = (
        AuditLogEntry.objects.count(),
        OutboxEvent.objects.count(),
        Interaction.objects.count(),
    )
    assert before == after


def test_changed_rows_update_their_orders_and_replace_lines() -> None:
    user = commerce_user()
    customers = [CustomerFactory(owner=user)]
    services.orders_bulk_upsert(actor=user, rows=_rows(customers, 10))
    result = services.orders_bulk_upsert(
        actor=user, rows=_rows(customers, 10, status="delivered", price="11.00")
    )
    assert (result.created, result.updated) == (0, 10)
    order = Order.objects.get(external_id="ERP-3")
    assert (order.status, order.total, order.version) == ("delivered", Decimal("26.50"), 2)
    assert OrderLine.objects.count() == 20
    assert OutboxEvent.objects.filter(type="order.status_changed").count() == 10
    assert AuditLogEntry.objects.filter(action="update").count() == 10
    # Each status change is on the customer's timeline, like a single status change.
    entries = Interaction.objects.filter(source_id=str(order.pk)).order_by("id")
    assert [e.summary for e in entries] == [
        "Order ERP-3 placed: 3 items, 24.50 EUR",
        "Order ERP-3 delivered",
    ]


def test_bad_rows_are_reported_with_row_and_field_and_good_rows_go_in() -> None:
    user = commerce_user(Scope.OWN)
    mine = CustomerFactory(owner=user)
    not_mine = CustomerFactory(owner=UserFactory())
    rows = _rows([mine], 4)
    rows[1].currency = "XYZ"
    rows[2].customer_id = not_mine.pk
    rows[3].external_id = rows[0].external_id
    result = services.orders_bulk_upsert(actor=user, rows=rows)
    assert result.created == 1
    by_row = {(e["row"], e["field"]) for e in result.errors}
    assert by_row == {(3, "currency"), (4, "customer"), (5, "external_id")}
    assert Order.objects.count() == 1
    assert Interaction.objects.count() == 1


def test_rows_link_catalogue_products_by_sku() -> None:
    user = commerce_user()
    product = ProductFactory(sku="TEA-1", price=Decimal("7.00"))
    row = _rows([CustomerFactory(owner=user)], 1)[0]
    row.lines = [LineInput(sku="TEA-1", quantity=3)]
    row.tax = "0.00"
    services.orders_bulk_upsert(actor=user, rows=[row])
    line = OrderLine.objects.get()
    assert (line.product_id, line.name, line.line_total) == (
        product.pk,
        product.name,
        Decimal("21.00"),
    )


def test_validate_order_row_gives_dry_run_errors_without_writing() -> None:
    row = _rows([CustomerFactory()], 1)[0]
    row.lines[0].quantity = 0
    with pytest.raises(ValidationError) as err:
        services.validate_order_row(row)
    assert "lines.0.quantity" in err.value.message_dict
    assert not Order.objects.exists()
