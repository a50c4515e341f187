"""The merge rule for orders (`merge_mover`): a merged-away customer's orders move
to the survivor with their shipments, and back on unmerge."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from rapport.commerce import services
from rapport.commerce.models import Order, Shipment
from rapport.commerce.services import LineInput, OrderInput, ShipmentInput
from rapport.commerce.tests.factories import CustomerFactory
from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_merge_mover_moves_orders_with_their_shipments_and_undoes_by_ids() -> None:
    admin = UserFactory(is_superuser=True)
    source, target = CustomerFactory(), CustomerFactory()
    kept = services.order_create(
        actor=admin,
        customer=target,
        data=OrderInput(currency="EUR", lines=[LineInput(sku="K", name="K", unit_price="1.00")]),
    )
    moved = [
        services.order_create(
            actor=admin,
            customer=source,
            data=OrderInput(
                currency="EUR", lines=[LineInput(sku=f"S{i}", name="S", unit_price="2.00")]
            ),
        )
        for i in range(2)
    ]
    shipment = services.shipment_create(
        actor=admin, order=moved[0], data=ShipmentInput(carrier="DHL", tracking_number="T1")
    )
    updates_before = OutboxEvent.objects.filter(type="order.updated").count()

    ids = services.merge_mover(actor=admin, source=source, target=target)

    assert sorted(ids) == sorted(o.pk for o in moved)
    assert set(Order.objects.filter(customer=target).values_list("pk", flat=True)) == {
        kept.pk,
        *ids,
    }
    assert Shipment.objects.get(pk=shipment.pk).customer_id == target.pk
    for order_id in ids:
        rows = AuditLogEntry.objects.filter(object_type="commerce.order", object_id=str(order_id))
        row = rows.latest("id")
        assert row.changes == {"customer_id": [source.pk, target.pk]}
    assert OutboxEvent.objects.filter(type="order.updated").count() == updates_before + 2

    # Unmerge: the rule is called with the customers swapped and the ids it moved; the
    # survivor's own order stays where it was.
    back = services.merge_mover(actor=admin, source=target, target=source, ids=ids)
    assert sorted(back) == sorted(ids)
    assert Order.objects.get(pk=kept.pk).customer_id == target.pk
    assert set(Order.objects.filter(customer=source).values_list("pk", flat=True)) == set(ids)
    assert Shipment.objects.get(pk=shipment.pk).customer_id == source.pk


def test_merge_mover_refuses_to_merge_a_customer_into_itself() -> None:
    admin = UserFactory(is_superuser=True)
    customer = CustomerFactory()
    with pytest.raises(ValidationError):
        services.merge_mover(actor=admin, source=customer, target=customer)
