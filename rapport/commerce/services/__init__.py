"""Writes to commerce: products, orders and shipments, one module per business area. Each
function is the one way to do its business action: it checks access before writing,
validates (money exactly), writes in one transaction, and records the audit row, the outbox
event and the customer's timeline entry. `orders_bulk_upsert` is the batched path for
imports and integrations. Callers import from here; the modules are layered (inputs and
shared checks at the bottom, actions on top) so none imports another in a cycle."""

from rapport.commerce.services.checks import (
    BATCH_SIZE,
    ORDER_TRANSITIONS,
    ORDER_TYPE,
    SHIPMENT_TYPE,
    TIMELINE_CHANNEL,
    check_assignment,
)
from rapport.commerce.services.inputs import LineInput, OrderInput, ProductInput, ShipmentInput
from rapport.commerce.services.merging import MovedOrders, merge_mover, orders_move_to_customer
from rapport.commerce.services.orders import (
    order_create,
    order_delete,
    order_next_statuses,
    order_update,
    order_update_status,
    order_upsert_by_external_id,
)
from rapport.commerce.services.orders_bulk import (
    BulkResult,
    OrderRow,
    orders_bulk_upsert,
    validate_order_row,
)
from rapport.commerce.services.products import product_create, product_delete, product_update
from rapport.commerce.services.shipments import (
    shipment_create,
    shipment_delete,
    shipment_update,
    shipment_update_status,
)

__all__ = [
    "BATCH_SIZE",
    "ORDER_TRANSITIONS",
    "ORDER_TYPE",
    "SHIPMENT_TYPE",
    "TIMELINE_CHANNEL",
    "BulkResult",
    "LineInput",
    "MovedOrders",
    "OrderInput",
    "OrderRow",
    "ProductInput",
    "ShipmentInput",
    "check_assignment",
    "merge_mover",
    "order_create",
    "order_delete",
    "order_next_statuses",
    "order_update",
    "order_update_status",
    "order_upsert_by_external_id",
    "orders_bulk_upsert",
    "orders_move_to_customer",
    "product_create",
    "product_delete",
    "product_update",
    "shipment_create",
    "shipment_delete",
    "shipment_update",
    "shipment_update_status",
    "validate_order_row",
]
