"""Commerce's part of merging two customers: move orders and shipments (and back on undo)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from rapport.commerce.models import Order, Shipment
from rapport.commerce.schemas import order_payload
from rapport.commerce.services.checks import BATCH_SIZE, ORDER_TYPE
from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.customers.models import Customer


@dataclass
class MovedOrders:
    """What `orders_move_to_customer` moved, so an unmerge can move exactly these back."""

    order_ids: list[int]
    shipment_ids: list[int]


@transaction.atomic
def orders_move_to_customer(
    *,
    actor: Any,
    source: Customer,
    target: Customer,
    order_ids: Sequence[int] | None = None,
) -> MovedOrders:
    """Re-point the orders (and their shipments) of `source` to `target`: the commerce part
    of merging two customers, and (with `order_ids` from the merge) of undoing it.

    The caller (the merge service) has already checked that the actor may merge these
    customers; every order moves whatever the actor's order scope, since a merge must not
    leave orders behind on a customer that no longer exists. Orders keep their owner and
    team. Writes one audit row and one `order.updated` event per order; the timeline
    entries stay on the customer they were written for (the merge moves the timeline).
    """
    if source.pk == target.pk:
        raise ValidationError({"target": "A customer cannot be merged into itself."})
    orders = Order.objects.select_for_update().filter(customer_id=source.pk)
    if order_ids is not None:
        orders = orders.filter(pk__in=list(order_ids))
    moved = list(orders.prefetch_related("lines"))
    if not moved:
        return MovedOrders(order_ids=[], shipment_ids=[])
    ids = [o.pk for o in moved]
    shipment_ids = list(
        Shipment.objects.filter(order_id__in=ids, customer_id=source.pk).values_list(
            "pk", flat=True
        )
    )
    Order.objects.filter(pk__in=ids).update(customer_id=target.pk, version=F("version") + 1)
    Shipment.objects.filter(pk__in=shipment_ids).update(
        customer_id=target.pk, version=F("version") + 1
    )
    audit_rows = []
    events = []
    for order in moved:
        order.customer_id = target.pk
        order.version += 1
        audit_rows.append(
            audit.entry(
                actor=actor,
                action=AuditAction.UPDATE,
                object_type=ORDER_TYPE,
                object_id=order.pk,
                object_repr=str(order),
                changes={"customer_id": [source.pk, target.pk]},
            )
        )
        events.append(
            outbox.build(
                "order.updated",
                {**order_payload(order), "changed_fields": ["customer_id"]},
                aggregate=order,
            )
        )
    type(audit_rows[0]).objects.bulk_create(audit_rows, batch_size=BATCH_SIZE)
    outbox.emit_many(events)
    return MovedOrders(order_ids=ids, shipment_ids=shipment_ids)


def merge_mover(
    *, actor: Any, source: Customer, target: Customer, ids: Sequence[int] | None = None
) -> list[int]:
    """The merge rule for orders (see rapport.core.registry.MergeRule): the order ids moved."""
    return orders_move_to_customer(
        actor=actor, source=source, target=target, order_ids=ids
    ).order_ids
