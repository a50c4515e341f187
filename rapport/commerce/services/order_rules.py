"""Order validation and shapes shared by the single and the bulk order paths."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from rapport.commerce.models import Order, OrderChannel, OrderLine, OrderStatus, Product
from rapport.commerce.money import ZERO, normalize_currency, parse_amount
from rapport.commerce.services.checks import BATCH_SIZE, _add, _aware, _choice, _text
from rapport.commerce.services.inputs import LineInput, OrderInput
from rapport.core import audit


@dataclass
class _CleanLine:
    position: int
    product_id: int | None
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


def _clean_quantity(value: Any) -> int:
    if isinstance(value, bool):
        raise ValidationError("The quantity must be a whole number.")
    try:
        number = Decimal(str(value).strip())
    except Exception as exc:
        raise ValidationError(f"{value!r} is not a quantity.") from exc
    if not number.is_finite() or number != number.to_integral_value():
        raise ValidationError(f"{value!r} is not a whole number.")
    if number <= 0:
        raise ValidationError(f"The quantity must be at least 1 (got {value}).")
    if number > 1_000_000:
        raise ValidationError(f"The quantity {value} is implausibly large (at most 1,000,000).")
    return int(number)


def _clean_lines(
    lines: Sequence[LineInput],
    currency: str | None,
    products_by_id: dict[int, Product],
    products_by_sku: dict[str, Product],
    errors: dict[str, list[str]],
) -> list[_CleanLine]:
    cleaned: list[_CleanLine] = []
    for i, line in enumerate(lines):
        where = f"lines.{i}"
        product = None
        if line.product_id is not None:
            product = products_by_id.get(line.product_id)
            if product is None:
                _add(errors, f"{where}.product_id", f"No product with id {line.product_id}.")
                continue
        elif line.sku:
            product = products_by_sku.get(line.sku.strip())
        try:
            quantity = _clean_quantity(line.quantity)
        except ValidationError as exc:
            _add(errors, f"{where}.quantity", exc)
            continue
        if line.unit_price is not None and line.unit_price != "":
            try:
                unit_price = parse_amount(line.unit_price)
            except ValidationError as exc:
                _add(errors, f"{where}.unit_price", exc)
                continue
        elif product is not None and (currency is None or product.currency == currency):
            unit_price = product.price
        elif product is not None:
            _add(
                errors,
                f"{where}.unit_price",
                f"The product is priced in {product.currency}, the order in {currency}: "
                "give the unit price.",
            )
            continue
        else:
            _add(errors, f"{where}.unit_price", "Give a unit price (or a catalogue product).")
            continue
        try:
            sku = _text(line.sku or (product.sku if product else ""), 64)
            name = _text(line.name or (product.name if product else "") or sku, 200)
        except ValidationError as exc:
            _add(errors, f"{where}.name", exc)
            continue
        if not name:
            _add(errors, f"{where}.name", "Give the line a name or a SKU.")
            continue
        line_total = (unit_price * quantity).quantize(Decimal("0.01"))
        try:
            parse_amount(line_total)
        except ValidationError as exc:
            _add(errors, f"{where}.quantity", exc)
            continue
        cleaned.append(
            _CleanLine(
                position=i,
                product_id=product.pk if product else None,
                sku=sku,
                name=name,
                quantity=quantity,
                unit_price=unit_price,
                line_total=line_total,
            )
        )
    return cleaned


def _order_values(
    data: OrderInput,
    *,
    current: Order | None,
    products_by_id: dict[int, Product],
    products_by_sku: dict[str, Product],
) -> tuple[dict[str, Any], list[_CleanLine] | None]:
    """The validated order fields (amounts exact, totals computed) and its clean lines.

    Raises ValidationError with one message per field (`lines.2.quantity`, `total`…).
    """
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    creating = current is None

    currency = None
    if data.currency is not None or creating:
        try:
            currency = normalize_currency(
                data.currency if data.currency is not None else settings.DEFAULT_CURRENCY
            )
            values["currency"] = currency
        except ValidationError as exc:
            _add(errors, "currency", exc)
    else:
        currency = current.currency if current else None

    if data.status is not None or creating:
        try:
            values["status"] = _choice(data.status or OrderStatus.PENDING, OrderStatus, "status")
        except ValidationError as exc:
            _add(errors, "status", exc)
    if data.channel is not None or creating:
        try:
            values["channel"] = _choice(
                data.channel or OrderChannel.WEB, OrderChannel, "sales channel"
            )
        except ValidationError as exc:
            _add(errors, "channel", exc)
    if data.number is not None:
        try:
            values["number"] = _text(data.number, 64)
        except ValidationError as exc:
            _add(errors, "number", exc)
    if data.external_id is not None:
        try:
            values["external_id"] = _text(data.external_id, 100) or None
        except ValidationError as exc:
            _add(errors, "external_id", exc)
    if data.ordered_at is not None or creating:
        try:
            values["ordered_at"] = _aware(data.ordered_at or timezone.now(), "ordered_at")
        except ValidationError as exc:
            _add(errors, "ordered_at", exc)

    amounts: dict[str, Decimal] = {}
    for name in ("tax", "shipping"):
        raw = getattr(data, name)
        if raw is None:
            amounts[name] = getattr(current, name) if current else ZERO
            continue
        try:
            amounts[name] = values[name] = parse_amount(raw)
        except ValidationError as exc:
            _add(errors, name, exc)
    given_total = None
    if data.total is not None and data.total != "":
        try:
            given_total = parse_amount(data.total)
        except ValidationError as exc:
            _add(errors, "total", exc)

    lines = None
    if data.lines is not None:
        lines = _clean_lines(data.lines, currency, products_by_id, products_by_sku, errors)
    if errors:
        raise ValidationError(errors)

    tax, shipping = amounts["tax"], amounts["shipping"]
    if lines == [] and given_total is None and not creating:
        raise ValidationError({"lines": "An order needs at least one line or a total."})
    has_lines = bool(lines) if lines is not None else bool(current and current.lines.exists())
    if has_lines:
        subtotal = (
            sum((ln.line_total for ln in lines), ZERO)
            if lines is not None
            else (current.subtotal if current else ZERO)
        )
        total = subtotal + tax + shipping
        if given_total is not None and given_total != total:
            raise ValidationError(
                {
                    "total": f"The total {given_total} does not match the lines ({subtotal}) "
                    f"+ tax ({tax}) + shipping ({shipping}) = {total}."
                }
            )
    elif given_total is not None:
        total = given_total
        subtotal = total - tax - shipping
        if subtotal < 0:
            raise ValidationError(
                {"total": f"The total {total} is less than tax ({tax}) + shipping ({shipping})."}
            )
    elif creating or data.lines is not None or data.tax is not None or data.shipping is not None:
        if creating:
            raise ValidationError({"lines": "An order needs at least one line or a total."})
        subtotal = current.subtotal if current else ZERO
        total = subtotal + tax + shipping
    else:
        subtotal, total = current.subtotal, current.total  # type: ignore[union-attr]
    try:
        parse_amount(total)
    except ValidationError as exc:
        raise ValidationError({"total": exc.messages}) from exc
    values.update(subtotal=subtotal, total=total)
    return values, lines


def _products_for(lines: Iterable[LineInput]) -> tuple[dict[int, Product], dict[str, Product]]:
    lines = list(lines)
    ids = {ln.product_id for ln in lines if ln.product_id is not None}
    skus = {ln.sku.strip() for ln in lines if ln.product_id is None and ln.sku}
    by_id: dict[int, Product] = {}
    by_sku: dict[str, Product] = {}
    if ids:
        by_id = {p.pk: p for p in Product.objects.filter(pk__in=ids)}
    if skus:
        by_sku = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    return by_id, by_sku


def _write_lines(order: Order, lines: list[_CleanLine]) -> list[OrderLine]:
    rows = [
        OrderLine(
            order=order,
            position=ln.position,
            product_id=ln.product_id,
            sku=ln.sku,
            name=ln.name,
            quantity=ln.quantity,
            unit_price=ln.unit_price,
            line_total=ln.line_total,
        )
        for ln in lines
    ]
    return OrderLine.objects.bulk_create(rows, batch_size=BATCH_SIZE)


def _audited_order(order: Order, lines: Iterable[Any]) -> dict[str, Any]:
    snap = audit.snapshot(order)
    snap["lines"] = [f"{ln.quantity} x {ln.sku or ln.name} @ {ln.unit_price}" for ln in lines]
    return snap


def _with_lines(order: Order, lines: list[OrderLine]) -> Order:
    """Attach known lines as if prefetched, so payloads and pages read no more rows."""
    # What Django's prefetch_related stores: a queryset whose result cache is filled.
    cached = OrderLine.objects.filter(order=order)
    cached._result_cache = list(lines)
    cached._prefetch_done = True  # type: ignore[attr-defined]
    order._prefetched_objects_cache = {"lines": cached}  # type: ignore[attr-defined]
    return order


def _order_label(order: Order) -> str:
    return order.number or f"#{order.pk}"


def _order_summary(order: Order, lines: Sequence[Any]) -> str:
    count = sum(ln.quantity for ln in lines)
    items = f"{count} item{'s' if count != 1 else ''}" if lines else "no lines"
    return f"Order {_order_label(order)} placed: {items}, {order.total:,.2f} {order.currency}"


def _timeline_data(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.pk,
        "number": order.number,
        "status": order.status,
        "total": str(order.total),
        "currency": order.currency,
    }
