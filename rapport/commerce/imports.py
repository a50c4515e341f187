"""Orders as an import target: the columns an orders file may have and the batch writer
the import calls (through `core.registry`, so dataquality never imports commerce)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rapport.commerce import exports
from rapport.commerce.columns import ORDER_FIELDS, ORDER_REQUIRED
from rapport.commerce.services import BulkResult, LineInput, OrderRow, orders_bulk_upsert
from rapport.core import registry


def _order_row(record: Mapping[str, Any]) -> OrderRow:
    """An imported order (one per external id, its lines grouped) as `orders_bulk_upsert`'s
    row; status and channel only when the file gave them (else the model's defaults)."""
    extra = {name: record[name] for name in ("status", "channel") if record.get(name)}
    return OrderRow(
        external_id=record["external_id"],
        customer_id=record["customer_id"],
        ordered_at=record["ordered_at"],
        currency=record["currency"],
        total=record["total"],
        row=record["row"],
        lines=[
            LineInput(
                quantity=line["quantity"],
                sku=line["sku"],
                **({"unit_price": line["unit_price"]} if line["unit_price"] is not None else {}),
            )
            for line in record["lines"]
        ],
        **extra,
    )


def write_batch(
    *, actor: Any, records: Sequence[Mapping[str, Any]], write: bool = True
) -> BulkResult:
    """Write one batch of imported orders (the import's `ImportTarget.write_batch`); with
    `write=False` only compare, for the dry run (decision 0780)."""
    return orders_bulk_upsert(actor=actor, rows=[_order_row(r) for r in records], write=write)


def register() -> None:
    registry.add_import_target(
        registry.ImportTarget(
            object_type="orders",
            label="Orders",
            noun="order",
            fields=ORDER_FIELDS,
            required=ORDER_REQUIRED,
            write_batch=write_batch,
            export_rows=exports.export_rows,
            export_object_type="commerce.order",
            order=20,
        )
    )
