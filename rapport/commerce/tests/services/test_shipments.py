"""Shipments: each status change is a tracking event, an outbox event and a timeline entry."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.commerce import services
from rapport.commerce.models import Order, Shipment, ShipmentEvent
from rapport.commerce.services import LineInput, OrderInput, ShipmentInput
from rapport.commerce.tests.factories import CustomerFactory, commerce_user
from rapport.core.errors import Conflict
from rapport.core.models import AuditAction, AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers.models import Interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    order = services.order_create(
        actor=user,
        customer=customer,
        data=OrderInput(currency="EUR", lines=[LineInput(sku="A", name="A", unit_price="9.00")]),
    )
    services.order_update_status(actor=user, order=order, status="paid")
    return Order.objects.get(pk=order.pk)


def _actor(order):
    from rapport.identity.models import User

    return User.objects.get(pk=order.owner_id)


def test_shipment_create_records_the_first_event_and_the_timeline(order) -> None:
    user = _actor(order)
    shipment = services.shipment_create(
        actor=user,
        order=order,
        data=ShipmentInput(
            carrier="DHL",
            tracking_number="JD0123",
            status="in_transit",
            expected_delivery=dt.date(2030, 1, 5),
            location="Leipzig hub",
        ),
    )
    assert shipment.customer_id == order.customer_id
    assert shipment.shipped_at is not None
    event = ShipmentEvent.objects.get(shipment=shipment)
    assert (event.status, event.location) == ("in_transit", "Leipzig hub")
    entry = Interaction.objects.get(kind="shipment")
    assert entry.source_id == str(shipment.pk)
    assert "in transit (DHL JD0123) — Leipzig hub, expected 05 Jan 2030" in entry.summary
    assert OutboxEvent.objects.filter(type="shipment.created").count() == 1
    # The order follows its parcel.
    assert Order.objects.get(pk=order.pk).status == "shipped"


def test_each_status_change_adds_an_event_an_outbox_event_and_a_timeline_entry(order) -> None:
    user = _actor(order)
    shipment = services.shipment_create(
        actor=user, order=order, data=ShipmentInput(carrier="UPS", tracking_number="1Z")
    )
    timeline_before = Interaction.objects.filter(kind="shipment").count()
    for status, where in [
        ("in_transit", "Cologne"),
        ("in_transit", "Frankfurt"),  # a second scan, same status
        ("out_for_delivery", "Munich depot"),
        ("delivered", "Front door"),
    ]:
        shipment = services.shipment_update_status(
            actor=user, shipment=shipment, status=status, location=where
        )
    assert ShipmentEvent.objects.filter(shipment=shipment).count() == 5
    assert list(
        ShipmentEvent.objects.filter(shipment=shipment)
        .order_by("occurred_at", "id")
        .values_list("location", flat=True)
    ) == ["", "Cologne", "Frankfurt", "Munich depot", "Front door"]
    # Three changes of status (the repeated scan is not one).
    assert OutboxEvent.objects.filter(type="shipment.status_changed").count() == 3
    assert OutboxEvent.objects.filter(type="shipment.delivered").count() == 1
    assert Interaction.objects.filter(kind="shipment").count() == timeline_before + 3
    latest = Interaction.objects.filter(kind="shipment").order_by("-id").first()
    assert latest.data["status"] == "delivered"
    assert shipment.delivered_at is not None
    assert Order.objects.get(pk=order.pk).status == "delivered"


def test_unknown_status_is_refused_and_writes_nothing(order) -> None:
    user = _actor(order)
    shipment = services.shipment_create(actor=user, order=order, data=ShipmentInput(carrier="GLS"))
    with pytest.raises(ValidationError, match="not a shipment status"):
        services.shipment_update_status(actor=user, shipment=shipment, status="lost_in_space")
    assert ShipmentEvent.objects.filter(shipment=shipment).count() == 1


def test_a_user_who_cannot_see_the_order_may_not_ship_it(order) -> None:
    stranger = commerce_user(Scope.OWN)
    with pytest.raises(PermissionDenied):
        services.shipment_create(actor=stranger, order=order, data=ShipmentInput(carrier="DHL"))


def test_a_user_without_edit_may_not_record_tracking(order) -> None:
    shipment = services.shipment_create(
        actor=_actor(order), order=order, data=ShipmentInput(carrier="DHL")
    )
    viewer = commerce_user(Scope.ALL, actions=("view",))
    with pytest.raises(PermissionDenied):
        services.shipment_update_status(actor=viewer, shipment=shipment, status="delivered")


# --- Corrections and removal: shipment_update, shipment_delete ---


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
