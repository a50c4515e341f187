"""Create, update and delete products (the catalogue orders refer to)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from rapport.commerce.models import Product
from rapport.commerce.money import normalize_currency, parse_amount
from rapport.commerce.schemas import product_payload
from rapport.commerce.services.checks import _add, _raise, _text
from rapport.commerce.services.inputs import ProductInput
from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.core.permissions import require
from rapport.core.versioning import bump_version, lock_for_change


def _product_values(data: ProductInput, *, creating: bool) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    steps: dict[str, Any] = {
        "sku": lambda v: _text(v, 64) or _raise("Give the product a SKU."),
        "name": lambda v: _text(v, 200) or _raise("Give the product a name."),
        "description": lambda v: str(v).strip()[:10_000],
        "category": lambda v: _text(v, 100),
        "price": parse_amount,
        "currency": normalize_currency,
    }
    for name, step in steps.items():
        raw = getattr(data, name)
        if raw is None:
            if creating and name in ("sku", "name", "price"):
                _add(errors, name, "This field is required.")
            continue
        try:
            values[name] = step(raw)
        except ValidationError as exc:
            _add(errors, name, exc)
    if creating and "currency" not in values and "currency" not in errors:
        values["currency"] = settings.DEFAULT_CURRENCY
    if data.active is not None:
        values["active"] = bool(data.active)
    if errors:
        raise ValidationError(errors)
    return values


def _check_unique_sku(sku: str | None, exclude_pk: int | None) -> None:
    if sku is None:
        return
    clash = Product.objects.filter(sku=sku)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"sku": f"Another product already has SKU {sku!r}."})


@transaction.atomic
def product_create(*, actor: Any, data: ProductInput) -> Product:
    """Add a product to the catalogue."""
    require(actor, "create", Product)
    values = _product_values(data, creating=True)
    _check_unique_sku(values["sku"], None)
    product = Product.objects.create(**values)
    audit.record_created(actor=actor, obj=product)
    outbox.emit("product.created", product_payload(product), aggregate=product)
    return product


@transaction.atomic
def product_update(
    *, actor: Any, product: Product, data: ProductInput, expected_version: int | None = None
) -> Product:
    """Change the fields `data` sets; a stale `expected_version` is refused (Conflict)."""
    require(actor, "edit", Product)
    product = lock_for_change(product, expected_version=expected_version)
    values = _product_values(data, creating=False)
    _check_unique_sku(values.get("sku"), product.pk)
    before = audit.snapshot(product)
    for name, value in values.items():
        setattr(product, name, value)
    changes = audit.diff(before, audit.snapshot(product))
    if not changes:
        return product
    bump_version(product)
    product.save()
    product.refresh_from_db()
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=product, changes=changes)
    outbox.emit(
        "product.updated",
        {**product_payload(product), "changed_fields": sorted(changes)},
        aggregate=product,
    )
    return product


@transaction.atomic
def product_delete(*, actor: Any, product: Product, expected_version: int | None = None) -> None:
    """Remove a product; order lines keep their SKU, name and price (the link is cleared)."""
    require(actor, "delete", Product)
    product = lock_for_change(product, expected_version=expected_version)
    payload = product_payload(product)
    audit.record_deleted(actor=actor, obj=product, before=audit.snapshot(product))
    outbox.emit("product.deleted", payload, aggregate=product)
    product.delete()
