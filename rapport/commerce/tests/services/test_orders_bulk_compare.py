"""`orders_bulk_upsert(write=False)`: the import's dry run counts by the same rule and
writes nothing (decision 0780)."""

from __future__ import annotations

import pytest

from rapport.commerce import services
from rapport.commerce.models import Order, OrderLine
from rapport.commerce.tests.factories import CustomerFactory, commerce_user
from rapport.commerce.tests.services.test_orders_bulk import _rows
from rapport.core.models import AuditLogEntry, OutboxEvent

pytestmark = pytest.mark.django_db


def test_compare_only_counts_like_the_write_and_writes_nothing(
    django_assert_max_num_queries,
) -> None:
    user = commerce_user()
    customers = [CustomerFactory(owner=user) for _ in range(3)]
    services.orders_bulk_upsert(actor=user, rows=_rows(customers, 6))
    counts = (
        Order.objects.count(),
        OrderLine.objects.count(),
        AuditLogEntry.objects.count(),
        OutboxEvent.objects.count(),
    )
    rows = _rows(customers, 8)  # 6 stored and unchanged, 2 new
    rows[0].status = "shipped"  # one changed
    with django_assert_max_num_queries(10):
        compared = services.orders_bulk_upsert(actor=user, rows=rows, write=False)
    assert (compared.created, compared.updated, compared.unchanged) == (2, 1, 5)
    assert compared.errors == []
    after = (
        Order.objects.count(),
        OrderLine.objects.count(),
        AuditLogEntry.objects.count(),
        OutboxEvent.objects.count(),
    )
    assert after == counts
    assert Order.objects.get(external_id="ERP-0").status == "paid"
    written = services.orders_bulk_upsert(actor=user, rows=rows)
    assert (written.created, written.updated, written.unchanged) == (2, 1, 5)
