"""Product catalogue writes: `product_update` and `product_delete` check the grant first,
write one audit row and one outbox event, and honour the caller's version."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.commerce import services
from rapport.commerce.models import OrderLine, Product
from rapport.commerce.services import LineInput, OrderInput, ProductInput
from rapport.commerce.tests.factories import CustomerFactory, ProductFactory, commerce_user
from rapport.core.errors import Conflict
from rapport.core.models import AuditAction, AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope

pytestmark = pytest.mark.django_db


def _audit(product: Product, action: str) -> list[AuditLogEntry]:
    return list(
        AuditLogEntry.objects.filter(
            object_type="commerce.product", object_id=str(product.pk), action=action
        )
    )


def test_product_update_changes_only_the_given_fields_and_records_them() -> None:
    user = commerce_user()
    product = ProductFactory(sku="TEA-1", name="Sencha", price=Decimal("12.50"))
    updated = services.product_update(
        actor=user,
        product=product,
        data=ProductInput(name="  Sencha   Premium ", price="14.00"),
        expected_version=product.version,
    )
    assert (updated.sku, updated.name, updated.price) == (
        "TEA-1",
        "Sencha Premium",
        Decimal("14.00"),
    )
    assert updated.version == product.version + 1
    [row] = _audit(product, AuditAction.UPDATE)
    assert set(row.changes) == {"name", "price"}
    event = OutboxEvent.objects.get(type="product.updated")
    assert event.data["changed_fields"] == ["name", "price"]
    assert event.aggregate_id == str(product.pk)


def test_product_update_without_a_change_writes_nothing() -> None:
    user = commerce_user()
    product = ProductFactory(name="Sencha")
    services.product_update(actor=user, product=product, data=ProductInput(name="Sencha"))
    product.refresh_from_db()
    assert product.version == 1
    assert not _audit(product, AuditAction.UPDATE)
    assert not OutboxEvent.objects.filter(type="product.updated").exists()


def test_product_update_refuses_a_taken_sku_a_stale_version_and_a_reader() -> None:
    user = commerce_user()
    ProductFactory(sku="TAKEN")
    product = ProductFactory(sku="MINE")
    with pytest.raises(ValidationError) as taken:
        services.product_update(actor=user, product=product, data=ProductInput(sku="TAKEN"))
    assert "sku" in taken.value.message_dict
    with pytest.raises(Conflict):
        services.product_update(
            actor=user, product=product, data=ProductInput(name="X"), expected_version=7
        )
    reader = commerce_user(Scope.ALL, actions=("view",))
    with pytest.raises(PermissionDenied):
        services.product_update(actor=reader, product=product, data=ProductInput(name="X"))
    product.refresh_from_db()
    assert (product.sku, product.version) == ("MINE", 1)
    assert not _audit(product, AuditAction.UPDATE)


def test_product_delete_keeps_the_order_lines_that_sold_it() -> None:
    user = commerce_user()
    product = ProductFactory(sku="TEA-9", name="Oolong", price=Decimal("8.00"))
    order = services.order_create(
        actor=user,
        customer=CustomerFactory(owner=user),
        data=OrderInput(currency="EUR", lines=[LineInput(product_id=product.pk, quantity=2)]),
    )
    product_id = product.pk
    services.product_delete(actor=user, product=product, expected_version=product.version)
    assert not Product.objects.filter(pk=product_id).exists()
    line = OrderLine.objects.get(order=order)
    assert (line.product_id, line.sku, line.name, line.line_total) == (
        None,
        "TEA-9",
        "Oolong",
        Decimal("16.00"),
    )
    [row] = AuditLogEntry.objects.filter(
        object_type="commerce.product", object_id=str(product_id), action=AuditAction.DELETE
    )
    assert row.changes["sku"] == ["TEA-9", None]  # the record as it was
    assert OutboxEvent.objects.get(type="product.deleted").data["sku"] == "TEA-9"


def test_product_delete_is_refused_without_the_delete_grant() -> None:
    editor = commerce_user(Scope.ALL, actions=("view", "create", "edit"))
    product = ProductFactory()
    with pytest.raises(PermissionDenied):
        services.product_delete(actor=editor, product=product)
    assert Product.objects.filter(pk=product.pk).exists()
    assert not OutboxEvent.objects.filter(type="product.deleted").exists()
