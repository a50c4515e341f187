"""Order services: the timeline entry, audit row and event; idempotent upserts; status rules."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.commerce import services
from rapport.commerce.models import Order
from rapport.commerce.services import LineInput, OrderInput
from rapport.commerce.tests.factories import CustomerFactory, ProductFactory, commerce_user
from rapport.core.errors import Conflict
from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope
from rapport.customers.models import Interaction
from rapport.identity.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _order(user, customer, **fields):
    data = OrderInput(
        currency="EUR",
        lines=[LineInput(sku="TEA-1", name="Sencha", quantity=2, unit_price="12.00")],
        **fields,
    )
    return services.order_create(actor=user, customer=customer, data=data)


def test_order_create_writes_the_timeline_entry_the_audit_row_and_the_event() -> None:
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    order = _order(user, customer, channel="store", shipping="4.90")

    entry = Interaction.objects.get(customer=customer)
    assert entry.kind == "order"
    assert entry.channel == "store"
    assert (entry.source_type, entry.source_id) == ("commerce.order", str(order.pk))
    assert entry.occurred_at == order.ordered_at
    assert "28.90 EUR" in entry.summary
    assert entry.data["total"] == "28.90"

    audit_row = AuditLogEntry.objects.get(object_type="commerce.order", object_id=str(order.pk))
    assert audit_row.action == "create"
    assert audit_row.changes["total"] == [None, "28.90"]
    assert audit_row.changes["lines"] == [None, ["2 x TEA-1 @ 12.00"]]

    event = OutboxEvent.objects.get(type="order.created")
    assert event.aggregate_id == str(order.pk)
    assert event.data["total"] == "28.90"
    assert event.data["lines"][0]["sku"] == "TEA-1"
    assert OutboxEvent.objects.filter(type="interaction.created").count() == 1


def test_order_belongs_to_the_customers_owner_and_team_and_gets_a_number() -> None:
    user = commerce_user()
    rep = UserFactory()
    customer = CustomerFactory(owner=rep)
    order = _order(user, customer)
    assert order.owner_id == rep.pk
    assert order.number == f"R{order.pk:07d}"


def test_an_order_for_a_customer_the_actor_cannot_see_is_refused() -> None:
    user = commerce_user(Scope.OWN)
    someone_elses = CustomerFactory(owner=UserFactory())
    with pytest.raises(PermissionDenied):
        _order(user, someone_elses)
    assert not Order.objects.exists()
    assert not Interaction.objects.exists()


def test_a_user_without_the_create_grant_may_not_record_orders() -> None:
    user = commerce_user(actions=("view",))
    with pytest.raises(PermissionDenied):
        _order(user, CustomerFactory(owner=user))


def test_an_own_scope_user_may_not_assign_the_order_to_someone_else() -> None:
    user = commerce_user(Scope.OWN)
    customer = CustomerFactory(owner=user)
    with pytest.raises(PermissionDenied):
        _order(user, customer, owner_id=UserFactory().pk)


def test_upsert_by_external_id_is_idempotent() -> None:
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    data = OrderInput(
        external_id="SHOP-1001",
        currency="EUR",
        lines=[LineInput(sku="A", name="A", quantity=1, unit_price="5.00")],
    )
    first, created = services.order_upsert_by_external_id(actor=user, customer=customer, data=data)
    counts = (
        AuditLogEntry.objects.count(),
        OutboxEvent.objects.count(),
        Interaction.objects.count(),
    )
    again, created_again = services.order_upsert_by_external_id(
        actor=user, customer=customer, data=data
    )
    assert created and not created_again
    assert first.pk == again.pk
    assert Order.objects.count() == 1
    assert again.lines.count() == 1
    # Nothing changed, so nothing was written.
    assert counts == (
        AuditLogEntry.objects.count(),
        OutboxEvent.objects.count(),
        Interaction.objects.count(),
    )
    assert Order.objects.get().version == 1


def test_upsert_updates_an_existing_order_and_replaces_its_lines() -> None:
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    base = {"external_id": "SHOP-7", "currency": "EUR"}
    services.order_upsert_by_external_id(
        actor=user,
        customer=customer,
        data=OrderInput(**base, lines=[LineInput(sku="A", name="A", unit_price="5.00")]),
    )
    order, created = services.order_upsert_by_external_id(
        actor=user,
        customer=customer,
        data=OrderInput(
            **base,
            status="paid",
            lines=[
                LineInput(sku="A", name="A", quantity=2, unit_price="5.00"),
                LineInput(sku="B", name="B", unit_price="1.50"),
            ],
        ),
    )
    assert not created
    assert order.total == Decimal("11.50")
    assert order.status == "paid"
    assert order.version == 2
    assert sorted(order.lines.values_list("sku", "quantity")) == [("A", 2), ("B", 1)]
    assert OutboxEvent.objects.filter(type="order.status_changed").count() == 1
    update = AuditLogEntry.objects.get(action="update", object_id=str(order.pk))
    assert update.changes["total"] == ["5.00", "11.50"]


def test_upsert_refuses_to_move_an_order_to_another_customer() -> None:
    user = commerce_user()
    a, b = CustomerFactory(owner=user), CustomerFactory(owner=user)
    data = OrderInput(external_id="X-1", currency="EUR", total="10.00")
    services.order_upsert_by_external_id(actor=user, customer=a, data=data)
    with pytest.raises(ValidationError, match="another customer"):
        services.order_upsert_by_external_id(actor=user, customer=b, data=data)


def test_status_changes_follow_the_rules_and_reach_the_timeline() -> None:
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    order = _order(user, customer)
    order = services.order_update_status(actor=user, order=order, status="paid")
    order = services.order_update_status(
        actor=user, order=order, status="cancelled", reason="Customer changed their mind"
    )
    assert order.status == "cancelled"
    with pytest.raises(ValidationError, match="cannot become paid"):
        services.order_update_status(actor=user, order=order, status="paid")
    types = list(OutboxEvent.objects.order_by("id").values_list("type", flat=True))
    assert types.count("order.status_changed") == 2
    assert types.count("order.cancelled") == 1
    summaries = list(
        Interaction.objects.filter(customer=customer)
        .order_by("id")
        .values_list("summary", flat=True)
    )
    assert summaries[-1] == f"Order {order.number} cancelled: Customer changed their mind"


def test_a_stale_version_is_refused() -> None:
    user = commerce_user()
    order = _order(user, CustomerFactory(owner=user))
    services.order_update_status(actor=user, order=order, status="paid", expected_version=1)
    with pytest.raises(Conflict):
        services.order_update_status(
            actor=user, order=order, status="fulfilled", expected_version=1
        )


def test_order_update_replaces_lines_and_recomputes_totals() -> None:
    user = commerce_user()
    product = ProductFactory(price=Decimal("3.33"))
    order = _order(user, CustomerFactory(owner=user))
    order = services.order_update(
        actor=user,
        order=order,
        data=OrderInput(lines=[LineInput(product_id=product.pk, quantity=3)], tax="1.01"),
    )
    assert (order.subtotal, order.tax, order.total) == (
        Decimal("9.99"),
        Decimal("1.01"),
        Decimal("11.00"),
    )
    assert order.lines.get().name == product.name


def test_order_delete_removes_lines_and_keeps_the_timeline() -> None:
    user = commerce_user()
    customer = CustomerFactory(owner=user)
    order = _order(user, customer)
    services.order_delete(actor=user, order=order)
    assert not Order.objects.exists()
    assert Interaction.objects.filter(customer=customer, kind="order").count() == 1
    assert OutboxEvent.objects.filter(type="order.deleted").exists()


def test_removing_every_line_without_a_total_is_refused() -> None:
    user = commerce_user()
    order = _order(user, CustomerFactory(owner=user))
    with pytest.raises(ValidationError, match="at least one line"):
        services.order_update(actor=user, order=order, data=OrderInput(lines=[]))
    order = services.order_update(actor=user, order=order, data=OrderInput(lines=[], total="7.00"))
    assert (order.subtotal, order.total, order.lines.count()) == (
        Decimal("7.00"),
        Decimal("7.00"),
        0,
    )


def test_a_merge_moves_orders_and_shipments_and_an_unmerge_moves_them_back() -> None:
    user = commerce_user()
    loser, survivor = CustomerFactory(owner=user), CustomerFactory(owner=user)
    mine = [_order(user, loser) for _ in range(3)]
    theirs = _order(user, survivor)
    services.shipment_create(actor=user, order=mine[0], data=services.ShipmentInput(carrier="DHL"))
    moved = services.orders_move_to_customer(actor=user, source=loser, target=survivor)
    assert sorted(moved.order_ids) == sorted(o.pk for o in mine)
    assert len(moved.shipment_ids) == 1
    assert Order.objects.filter(customer=survivor).count() == 4
    assert not Order.objects.filter(customer=loser).exists()
    assert (
        AuditLogEntry.objects.filter(
            action="update", changes__customer_id=[loser.pk, survivor.pk]
        ).count()
        == 3
    )
    back = services.orders_move_to_customer(
        actor=user, source=survivor, target=loser, order_ids=moved.order_ids
    )
    assert sorted(back.order_ids) == sorted(moved.order_ids)
    assert Order.objects.get(pk=theirs.pk).customer_id == survivor.pk
    assert Order.objects.filter(customer=loser).count() == 3
    from rapport.commerce.models import Shipment

    assert Shipment.objects.get().customer_id == loser.pk
