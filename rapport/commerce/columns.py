"""The columns of an orders file, shared by the import and the export (one row per order
line; consecutive rows with one order external id form one order)."""

from __future__ import annotations

ORDER_FIELDS: dict[str, str] = {
    "external_id": "Order external ID",
    "customer_external_id": "Customer external ID",
    "ordered_at": "Ordered at",
    "total": "Total",
    "currency": "Currency",
    "status": "Status",
    "channel": "Channel",
    "sku": "SKU",
    "quantity": "Quantity",
    "unit_price": "Unit price",
}
ORDER_REQUIRED = ("external_id", "customer_external_id", "ordered_at", "total", "currency")
