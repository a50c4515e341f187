"""Correcting and removing a shipment: `shipment_update` fixes carrier and tracking
details (never the status, which keeps its history elsewhere); `shipment_delete` removes
it with an audit row and an outbox event."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.commerce import services
from rapport.commerce.models import Order, Shipment, ShipmentEvent
from rapport.commerce.services import LineInput, OrderInput, ShipmentInput
from rapport.commerce.tests.factories import CustomerFactory, commerce_user
from rapport.core.errors import Conflict
from rapport.core.models import AuditAction, AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return commerce_user()


@pytest.fixture
def shipment(user):
    order = services.order_create(
        actor=user,
        customer=CustomerFactory(owner=user),
        data=OrderInput(currency="EUR", lines=[LineInput(sku="A", name="A", unit_price="5.00")]),
    )
    return services.shipment_create(
        actor=user,
        order=order,
        data=ShipmentInput(carrier="DHL", tracking_number="JD01", status="in_transit"),
    )


def test_shipment_update_corrects_tracking_and_records_the_change(user, shipment) -> None:
    updated = services.shipment_update(
        actor=user,
        shipment=shipment,
        data=ShipmentInput(
            tracking_number="JD02", tracking_url="https://track.example/JD02", status="in_transit"
        ),
        expected_version=shipment.version,
    )
    assert (updated.carrier, updated.tracking_number, updated.tracking_url) == (
        "DHL",
        "JD02",
        "https://track.example/JD02",
    )
    assert updated.version == shipment.version + 1
    row = AuditLogEntry.objects.get(
        object_type="commerce.shipment", object_id=str(shipment.pk), action=AuditAction.UPDATE
    )
    assert set(row.changes) == {"tracking_number", "tracking_url"}
    event = OutboxEvent.objects.get(type="shipment.updated")
    assert event.data["changed_fields"] == ["tracking_number", "tracking_url"]
    # A correction is not a carrier's scan: the tracking history is untouched.
    assert ShipmentEvent.objects.filter(shipment=shipment).count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (ShipmentInput(status="delivered"), "status"),
        (ShipmentInput(carrier="   "), "carrier"),
        (ShipmentInput(tracking_url="javascript:alert(1)"), "tracking_url"),
    ],
)
def test_shipment_update_refuses_invalid_corrections(user, shipment, data, field) -> None:
    with pytest.raises(ValidationError) as refused:
        services.shipment_update(actor=user, shipment=shipment, data=data)
    assert field in refused.value.message_dict
    shipment.refresh_from_db()
    assert (shipment.status, shipment.carrier, shipment.version) == ("in_transit", "DHL", 1)
    assert not OutboxEvent.objects.filter(type="shipment.updated").exists()


def test_shipment_update_refuses_a_stale_version(user, shipment) -> None:
    with pytest.raises(Conflict):
        services.shipment_update(
            actor=user, shipment=shipment, data=ShipmentInput(carrier="UPS"), expected_version=9
        )
    shipment.refresh_from_db()
    assert shipment.carrier == "DHL"


def test_shipment_delete_records_the_shipment_and_leaves_the_order(user, shipment) -> None:
    order_id, pk = shipment.order_id, shipment.pk
    services.shipment_delete(actor=user, shipment=shipment, expected_version=shipment.version)
    assert not Shipment.objects.filter(pk=pk).exists()
    assert not ShipmentEvent.objects.filter(shipment_id=pk).exists()
    row = AuditLogEntry.objects.get(
        object_type="commerce.shipment", object_id=str(pk), action=AuditAction.DELETE
    )
    assert row.changes["tracking_number"] == ["JD01", None]
    event = OutboxEvent.objects.get(type="shipment.deleted")
    assert (event.data["id"], event.data["order_id"]) == (pk, order_id)
    assert Order.objects.filter(pk=order_id).exists()


def test_shipment_delete_is_refused_outside_the_actors_scope(shipment) -> None:
    stranger = commerce_user(Scope.OWN)
    with pytest.raises(PermissionDenied):
        services.shipment_delete(actor=stranger, shipment=shipment)
    assert Shipment.objects.filter(pk=shipment.pk).exists()
    assert not OutboxEvent.objects.filter(type="shipment.deleted").exists()
