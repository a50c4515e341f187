"""Writes to commerce: products, orders and shipments. Each function is the one way to do
its business action: it checks access before writing, validates (money exactly), writes in
one transaction, and records the audit row, the outbox event and the customer's timeline
entry. `orders_bulk_upsert` is the batched path for imports and integrations."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from rapport.commerce.models import (
    Order,
    OrderChannel,
    OrderLine,
    OrderStatus,
    Product,
    Shipment,
    ShipmentEvent,
    ShipmentStatus,
)
from rapport.commerce.money import ZERO, normalize_currency, parse_amount
from rapport.commerce.schemas import order_payload, product_payload, shipment_payload
from rapport.core import audit, outbox
from rapport.core.models import AuditAction
from rapport.core.permissions import Scope, acting_user, can, require, require_assignees_exist
from rapport.core.versioning import bump_version, lock_for_change
from rapport.customers import selectors as customer_selectors
from rapport.customers import services as customer_services
from rapport.customers.models import Channel, Customer, Interaction, InteractionKind
from rapport.customers.normalize import clean_text
from rapport.customers.schemas import interaction_payload

ORDER_TYPE = "commerce.order"
SHIPMENT_TYPE = "commerce.shipment"
BATCH_SIZE = 500

# How an order's sales channel reads on the customer's timeline.
TIMELINE_CHANNEL: dict[str, str] = {
    OrderChannel.WEB: Channel.WEB,
    OrderChannel.MARKETPLACE: Channel.WEB,
    OrderChannel.STORE: Channel.STORE,
    OrderChannel.PHONE: Channel.PHONE,
    OrderChannel.EMAIL: Channel.EMAIL,
    OrderChannel.SALES: Channel.IN_PERSON,
}

# What a user may move an order to by hand. Upserts from the system of record (shop, ERP)
# are not held to this: that system is the authority on its orders.
ORDER_TRANSITIONS: dict[str, set[str]] = {
    OrderStatus.PENDING: {"paid", "fulfilled", "shipped", "delivered", "cancelled"},
    OrderStatus.PAID: {"fulfilled", "shipped", "delivered", "cancelled", "returned"},
    OrderStatus.FULFILLED: {"shipped", "delivered", "cancelled", "returned"},
    OrderStatus.SHIPPED: {"delivered", "returned"},
    OrderStatus.DELIVERED: {"returned"},
    OrderStatus.CANCELLED: set(),
    OrderStatus.RETURNED: set(),
}


# --- Inputs -------------------------------------------------------------------------------


@dataclass
class ProductInput:
    """Writable product fields; None on update means "leave as it is"."""

    sku: str | None = None
    name: str | None = None
    description: str | None = None
    category: str | None = None
    price: Any = None
    currency: str | None = None
    active: bool | None = None


@dataclass
class LineInput:
    """One order line. `unit_price` defaults to the product's price (same currency only);
    `sku`/`name` default to the product's (found by `product_id` or by `sku`)."""

    quantity: Any = 1
    unit_price: Any = None
    sku: str = ""
    name: str = ""
    product_id: int | None = None


@dataclass
class OrderInput:
    """Writable order fields. On create, None takes the default; on update, None leaves the
    field as it is, and `lines` (when given) replaces every line.

    `total` is optional: it is computed as lines + tax + shipping, and when given it must
    match to the cent. An order without lines (header-only imports) keeps the given total.
    """

    lines: list[LineInput] | None = None
    currency: str | None = None
    status: str | None = None
    channel: str | None = None
    ordered_at: dt.datetime | None = None
    number: str | None = None
    external_id: str | None = None
    tax: Any = None
    shipping: Any = None
    total: Any = None
    owner_id: int | None = None
    team_id: int | None = None


@dataclass
class ShipmentInput:
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    status: str | None = None
    shipped_at: dt.datetime | None = None
    expected_delivery: dt.date | None = None
    location: str = ""
    owner_id: int | None = None
    team_id: int | None = None


# --- Shared checks ------------------------------------------------------------------------


def _add(errors: dict[str, list[str]], name: str, exc: ValidationError | str) -> None:
    messages = exc.messages if isinstance(exc, ValidationError) else [exc]
    errors.setdefault(name, []).extend(messages)


def _choice(value: str, choices: Any, label: str) -> str:
    if value not in choices.values:
        raise ValidationError(
            f"{value!r} is not a {label}; use one of: {', '.join(choices.values)}."
        )
    return value


def _text(value: str | None, max_length: int) -> str:
    return clean_text(value, max_length=max_length)


def _aware(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{name} must be a date and time.")
    if timezone.is_naive(value):
        return timezone.make_aware(value, dt.UTC)
    return value


def check_assignment(
    *, actor: Any, object_type: str, owner_id: int | None, team_id: int | None, current: Any
) -> None:
    """Who may give a record to whom (the customers rule, on this object type's grant):
    `all` scope anyone to anyone; `team` scope within their teams; `own` keeps it."""
    grant = actor.grant_for(object_type)
    if grant.scope == Scope.ALL:
        # The narrower scopes only allow assignees that exist (themselves, their teams).
        require_assignees_exist(owner_id=owner_id, team_id=team_id)
        return
    current_owner = current.owner_id if current is not None else None
    current_team = current.team_id if current is not None else None
    if grant.scope == Scope.TEAM:
        if team_id is not None and team_id != current_team and team_id not in actor.team_ids():
            raise PermissionDenied("You may only assign records to your own teams.")
        if owner_id is not None and owner_id not in (current_owner, actor.pk):
            shares = (
                get_user_model().objects.filter(pk=owner_id, teams__in=actor.team_ids()).exists()
            )
            if not shares:
                raise PermissionDenied("You may only assign records to people in your teams.")
        return
    if (owner_id is not None and owner_id not in (current_owner, actor.pk)) or (
        team_id is not None and team_id != current_team
    ):
        raise PermissionDenied("Your role does not allow assigning records to others.")


def _require_visible_customer(actor: Any, customer: Customer) -> None:
    """An order or shipment is only written for a customer the actor can see."""
    if not customer_selectors.customer_list(actor=actor).filter(pk=customer.pk).exists():
        raise PermissionDenied("You may not see this customer, so you may not add orders to it.")


# --- Products -----------------------------------------------------------------------------


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


def _raise(message: str) -> Any:
    raise ValidationError(message)


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


# --- Order validation (shared by the single and the bulk paths) ---------------------------


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


def _default_team(actor: Any) -> int | None:
    team_ids = sorted(actor.team_ids()) if hasattr(actor, "team_ids") else []
    return team_ids[0] if team_ids else None


# --- Orders -------------------------------------------------------------------------------


@transaction.atomic
def order_create(*, actor: Any, customer: Customer, data: OrderInput) -> Order:
    """Record an order with its lines for `customer`.

    Refused when the actor may not create orders or may not see the customer. The order
    belongs to the customer's owner and team unless `data` assigns it (within the actor's
    rights). Writes the audit row, `order.created` and a timeline entry (kind `order`).
    """
    require(actor, "create", Order)
    _require_visible_customer(actor, customer)
    by_id, by_sku = _products_for(data.lines or [])
    values, lines = _order_values(data, current=None, products_by_id=by_id, products_by_sku=by_sku)
    if (
        values.get("external_id")
        and Order.objects.filter(external_id=values["external_id"]).exists()
    ):
        raise ValidationError(
            {"external_id": f"Another order already has external_id {values['external_id']!r}."}
        )
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor,
            object_type=ORDER_TYPE,
            owner_id=data.owner_id,
            team_id=data.team_id,
            current=None,
        )
    owner_id = data.owner_id if data.owner_id is not None else (customer.owner_id or actor.pk)
    team_id = data.team_id if data.team_id is not None else customer.team_id
    order = Order(
        **values,
        customer=customer,
        owner_id=owner_id,
        team_id=team_id if team_id is not None else _default_team(actor),
        status_changed_at=timezone.now(),
    )
    order.save(force_insert=True)
    if not order.number:
        order.number = f"R{order.pk:07d}"
        order.save(update_fields=["number"])
    saved_lines = _write_lines(order, lines or [])
    _with_lines(order, saved_lines)
    audit.record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=order,
        changes={
            k: [None, v]
            for k, v in _audited_order(order, saved_lines).items()
            if v not in (None, "", [])
        },
    )
    outbox.emit("order.created", order_payload(order), aggregate=order)
    customer_services.interaction_record(
        actor=actor,
        customer=customer,
        kind=InteractionKind.ORDER,
        summary=_order_summary(order, saved_lines),
        channel=TIMELINE_CHANNEL.get(order.channel, Channel.SYSTEM),
        occurred_at=order.ordered_at,
        source=order,
        data=_timeline_data(order),
    )
    return order


def _record_status_change(
    *, actor: Any, order: Order, previous: str, timeline: bool, reason: str = ""
) -> None:
    payload = {**order_payload(order), "previous_status": previous}
    outbox.emit("order.status_changed", payload, aggregate=order)
    if order.status == OrderStatus.CANCELLED:
        outbox.emit("order.cancelled", payload, aggregate=order)
    if timeline:
        label = OrderStatus(order.status).label.lower()
        summary = f"Order {_order_label(order)} {label}"
        if reason:
            summary += f": {reason}"
        customer_services.interaction_record(
            actor=actor,
            customer=order.customer,
            kind=InteractionKind.ORDER,
            summary=summary,
            channel=TIMELINE_CHANNEL.get(order.channel, Channel.SYSTEM),
            source=order,
            data={**_timeline_data(order), "previous_status": previous},
        )


def _apply_order_update(
    *, actor: Any, order: Order, data: OrderInput, timeline_on_status: bool = True
) -> tuple[Order, dict[str, Any]]:
    """Validate and write `data` on a locked order; returns it and the audited changes."""
    by_id, by_sku = _products_for(data.lines or [])
    values, lines = _order_values(data, current=order, products_by_id=by_id, products_by_sku=by_sku)
    if values.get("external_id") and (
        Order.objects.filter(external_id=values["external_id"]).exclude(pk=order.pk).exists()
    ):
        raise ValidationError(
            {"external_id": f"Another order already has external_id {values['external_id']!r}."}
        )
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor,
            object_type=ORDER_TYPE,
            owner_id=data.owner_id,
            team_id=data.team_id,
            current=order,
        )
        if data.owner_id is not None:
            values["owner_id"] = data.owner_id
        if data.team_id is not None:
            values["team_id"] = data.team_id
    old_lines = list(order.lines.all())
    before = _audited_order(order, old_lines)
    previous_status = order.status
    for name, value in values.items():
        setattr(order, name, value)
    preview: Sequence[Any] = lines if lines is not None else old_lines
    changes = audit.diff(before, _audited_order(order, preview))
    if not changes:
        return _with_lines(order, old_lines), {}
    if order.status != previous_status:
        order.status_changed_at = timezone.now()
    bump_version(order)
    order.save()
    order.refresh_from_db()
    if lines is not None:
        order.lines.all().delete()
        saved = _write_lines(order, lines)
    else:
        saved = old_lines
    _with_lines(order, saved)
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=order, changes=changes)
    outbox.emit(
        "order.updated",
        {**order_payload(order), "changed_fields": sorted(changes)},
        aggregate=order,
    )
    if order.status != previous_status:
        _record_status_change(
            actor=actor, order=order, previous=previous_status, timeline=timeline_on_status
        )
    return order, changes


@transaction.atomic
def order_update(
    *, actor: Any, order: Order, data: OrderInput, expected_version: int | None = None
) -> Order:
    """Change the fields `data` sets (lines, when given, replace all lines; totals are
    recomputed). Status changes here follow the same rules as `order_update_status`."""
    require(actor, "edit", order)
    order = lock_for_change(order, expected_version=expected_version)
    if data.status is not None and data.status != order.status:
        _check_transition(order.status, data.status)
    order, _ = _apply_order_update(actor=actor, order=order, data=data)
    return order


def order_next_statuses(current: str) -> list[str]:
    """The statuses an order in `current` may move to, in lifecycle order (paid before
    shipped before cancelled), so a form offers the likely next step first."""
    allowed = ORDER_TRANSITIONS.get(current, set())
    return [value for value in OrderStatus.values if value in allowed]


def _check_transition(current: str, target: str) -> None:
    if target not in OrderStatus.values:
        raise ValidationError(
            {"status": f"{target!r} is not a status; use one of: {', '.join(OrderStatus.values)}."}
        )
    if target not in ORDER_TRANSITIONS.get(current, set()):
        allowed = ", ".join(order_next_statuses(current)) or "none"
        raise ValidationError(
            {"status": f"A {current} order cannot become {target} (allowed: {allowed})."}
        )


@transaction.atomic
def order_update_status(
    *,
    actor: Any,
    order: Order,
    status: str,
    reason: str = "",
    expected_version: int | None = None,
) -> Order:
    """Move an order to `status` (paid, shipped, cancelled…), following ORDER_TRANSITIONS.

    Writes the audit row, `order.updated` + `order.status_changed` (+ `order.cancelled`)
    and a timeline entry on the customer.
    """
    require(actor, "edit", order)
    order = lock_for_change(order, expected_version=expected_version)
    if status == order.status:
        return order
    _check_transition(order.status, status)
    previous = order.status
    before = audit.snapshot(order)
    order.status = status
    order.status_changed_at = timezone.now()
    bump_version(order)
    order.save(update_fields=["status", "status_changed_at", "version", "updated_at"])
    order = Order.objects.select_related("customer").prefetch_related("lines").get(pk=order.pk)
    changes = audit.diff(before, audit.snapshot(order))
    if reason:
        changes["reason"] = [None, reason[:500]]
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=order, changes=changes)
    outbox.emit(
        "order.updated", {**order_payload(order), "changed_fields": ["status"]}, aggregate=order
    )
    _record_status_change(actor=actor, order=order, previous=previous, timeline=True, reason=reason)
    return order


@transaction.atomic
def order_upsert_by_external_id(
    *, actor: Any, customer: Customer, data: OrderInput
) -> tuple[Order, bool]:
    """Create the order `data.external_id` names, or bring the existing one up to date.

    Idempotent: sending the same order twice leaves one order, and a repeat with nothing
    changed writes nothing (no audit row, no event, no timeline entry). Returns
    (order, created). The existing order must belong to the same customer. Status changes
    from the source system are taken as they are (it is the authority on its orders).
    """
    external_id = _text(data.external_id, 100) if data.external_id else ""
    if not external_id:
        raise ValidationError({"external_id": "An upsert needs the order's external_id."})
    existing = Order.objects.select_for_update().filter(external_id=external_id).first()
    if existing is None:
        try:
            with transaction.atomic():
                return order_create(actor=actor, customer=customer, data=data), True
        except IntegrityError:
            # Someone created it between our read and our insert: update theirs instead.
            existing = Order.objects.select_for_update().get(external_id=external_id)
    require(actor, "edit", existing)
    if existing.customer_id != customer.pk:
        raise ValidationError(
            {
                "customer": f"Order {external_id!r} belongs to another customer "
                f"(#{existing.customer_id})."
            }
        )
    order, _ = _apply_order_update(actor=actor, order=existing, data=data)
    return order, False


@transaction.atomic
def order_delete(*, actor: Any, order: Order, expected_version: int | None = None) -> None:
    """Delete an order with its lines and shipments (an import mistake, a test order).

    Its timeline entries stay: they are the record that it happened."""
    require(actor, "delete", order)
    order = lock_for_change(order, expected_version=expected_version)
    lines = list(order.lines.all())
    payload = order_payload(_with_lines(order, lines))
    audit.record_deleted(actor=actor, obj=order, before=_audited_order(order, lines))
    outbox.emit("order.deleted", payload, aggregate=order)
    order.delete()


# --- Shipments ----------------------------------------------------------------------------


def _shipment_summary(shipment: Shipment, order: Order, location: str = "") -> str:
    label = ShipmentStatus(shipment.status).label.lower()
    text = f"Shipment of order {_order_label(order)} {label}"
    if shipment.carrier:
        text += f" ({shipment.carrier}"
        text += f" {shipment.tracking_number})" if shipment.tracking_number else ")"
    if location:
        text += f" — {location}"
    if shipment.status not in ("delivered", "returned") and shipment.expected_delivery:
        text += f", expected {shipment.expected_delivery:%d %b %Y}"
    return text


def _shipment_timeline(actor: Any, shipment: Shipment, order: Order, location: str) -> None:
    customer_services.interaction_record(
        actor=actor,
        customer=shipment.customer,
        kind=InteractionKind.SHIPMENT,
        summary=_shipment_summary(shipment, order, location),
        channel=Channel.SYSTEM,
        source=shipment,
        data={
            "shipment_id": shipment.pk,
            "order_id": order.pk,
            "status": shipment.status,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "expected_delivery": (
                shipment.expected_delivery.isoformat() if shipment.expected_delivery else None
            ),
            "location": location,
        },
    )


def _stamp_dates(shipment: Shipment, when: dt.datetime) -> None:
    if shipment.status in ("in_transit", "out_for_delivery", "delivered"):
        shipment.shipped_at = shipment.shipped_at or when
    if shipment.status == ShipmentStatus.DELIVERED:
        shipment.delivered_at = shipment.delivered_at or when


def _sync_order_status(actor: Any, order: Order) -> None:
    """An order follows its shipments: shipped once one leaves, delivered when all arrive.

    The shipment's own timeline entry tells the story, so no second entry is written."""
    statuses = list(order.shipments.values_list("status", flat=True))
    target = None
    if statuses and all(s == ShipmentStatus.DELIVERED for s in statuses):
        target = OrderStatus.DELIVERED
    elif any(s in ("in_transit", "out_for_delivery", "delivered") for s in statuses):
        target = OrderStatus.SHIPPED
    if target is None or target == order.status:
        return
    if target not in ORDER_TRANSITIONS.get(order.status, set()):
        return
    previous = order.status
    order.status = target
    order.status_changed_at = timezone.now()
    bump_version(order)
    order.save(update_fields=["status", "status_changed_at", "version", "updated_at"])
    order.refresh_from_db()
    audit.record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=order,
        changes={"status": [previous, target]},
    )
    outbox.emit(
        "order.updated", {**order_payload(order), "changed_fields": ["status"]}, aggregate=order
    )
    _record_status_change(actor=actor, order=order, previous=previous, timeline=False)


@transaction.atomic
def shipment_create(*, actor: Any, order: Order, data: ShipmentInput) -> Shipment:
    """Ship (part of) an order: carrier, tracking number, expected delivery.

    Refused unless the actor may create shipments and may see the order. Writes the first
    tracking event, the audit row, `shipment.created` and a timeline entry (kind
    `shipment`), and moves the order to shipped when the parcel is already on its way.
    """
    require(actor, "create", Shipment)
    if not can(actor, "view", order):
        raise PermissionDenied("You may not see this order, so you may not ship it.")
    order = Order.objects.select_related("customer").get(pk=order.pk)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    try:
        values["carrier"] = _text(data.carrier, 100) or _raise("Name the carrier.")
    except ValidationError as exc:
        _add(errors, "carrier", exc)
    for name, limit in (("tracking_number", 100), ("tracking_url", 500)):
        try:
            values[name] = _text(getattr(data, name), limit)
        except ValidationError as exc:
            _add(errors, name, exc)
    if values.get("tracking_url") and not values["tracking_url"].startswith(
        ("https://", "http://")
    ):
        _add(errors, "tracking_url", "The tracking link must start with https:// or http://.")
    try:
        values["status"] = _choice(
            data.status or ShipmentStatus.PENDING, ShipmentStatus, "shipment status"
        )
    except ValidationError as exc:
        _add(errors, "status", exc)
    try:
        location = _text(data.location, 200)
    except ValidationError as exc:
        _add(errors, "location", exc)
        location = ""
    if errors:
        raise ValidationError(errors)
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor,
            object_type=SHIPMENT_TYPE,
            owner_id=data.owner_id,
            team_id=data.team_id,
            current=order,
        )
    now = timezone.now()
    shipment = Shipment(
        **values,
        order=order,
        customer=order.customer,
        shipped_at=_aware(data.shipped_at, "shipped_at") if data.shipped_at else None,
        expected_delivery=data.expected_delivery,
        owner_id=data.owner_id if data.owner_id is not None else order.owner_id,
        team_id=data.team_id if data.team_id is not None else order.team_id,
    )
    _stamp_dates(shipment, now)
    shipment.save(force_insert=True)
    ShipmentEvent.objects.create(
        shipment=shipment,
        status=shipment.status,
        occurred_at=shipment.shipped_at or now,
        location=location,
        description="Shipment created",
    )
    audit.record_created(actor=actor, obj=shipment)
    outbox.emit("shipment.created", shipment_payload(shipment), aggregate=shipment)
    _shipment_timeline(actor, shipment, order, location)
    _sync_order_status(actor, order)
    return shipment


@transaction.atomic
def shipment_update_status(
    *,
    actor: Any,
    shipment: Shipment,
    status: str,
    occurred_at: dt.datetime | None = None,
    location: str = "",
    description: str = "",
    expected_delivery: dt.date | None = None,
    expected_version: int | None = None,
) -> Shipment:
    """Record a tracking update. Every call adds a ShipmentEvent (a carrier's scan); a
    change of status also writes the audit row, `shipment.status_changed` (and
    `shipment.delivered`), a timeline entry (kind `shipment`) and syncs the order status.
    A repeated scan with the same status is kept as an event only."""
    require(actor, "edit", shipment)
    shipment = lock_for_change(shipment, expected_version=expected_version)
    errors: dict[str, list[str]] = {}
    try:
        _choice(status, ShipmentStatus, "shipment status")
    except ValidationError as exc:
        _add(errors, "status", exc)
    try:
        location = _text(location, 200)
    except ValidationError as exc:
        _add(errors, "location", exc)
    try:
        description = _text(description, 500)
    except ValidationError as exc:
        _add(errors, "description", exc)
    if errors:
        raise ValidationError(errors)
    when = _aware(occurred_at, "occurred_at") if occurred_at else timezone.now()
    ShipmentEvent.objects.create(
        shipment=shipment,
        status=status,
        occurred_at=when,
        location=location,
        description=description,
    )
    changed = status != shipment.status or (
        expected_delivery is not None and expected_delivery != shipment.expected_delivery
    )
    if not changed:
        return shipment
    before = audit.snapshot(shipment)
    previous = shipment.status
    shipment.status = status
    if expected_delivery is not None:
        shipment.expected_delivery = expected_delivery
    _stamp_dates(shipment, when)
    bump_version(shipment)
    shipment.save()
    shipment = Shipment.objects.select_related("order", "customer").get(pk=shipment.pk)
    changes = audit.diff(before, audit.snapshot(shipment))
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=shipment, changes=changes)
    payload = {**shipment_payload(shipment), "previous_status": previous, "location": location}
    outbox.emit(
        "shipment.updated", {**payload, "changed_fields": sorted(changes)}, aggregate=shipment
    )
    if status != previous:
        outbox.emit("shipment.status_changed", payload, aggregate=shipment)
        if status == ShipmentStatus.DELIVERED:
            outbox.emit("shipment.delivered", payload, aggregate=shipment)
        _shipment_timeline(actor, shipment, shipment.order, location)
        _sync_order_status(actor, shipment.order)
    return shipment


@transaction.atomic
def shipment_update(
    *, actor: Any, shipment: Shipment, data: ShipmentInput, expected_version: int | None = None
) -> Shipment:
    """Correct the carrier, tracking number/link or expected delivery (status changes go
    through `shipment_update_status`, which keeps the tracking history)."""
    require(actor, "edit", shipment)
    shipment = lock_for_change(shipment, expected_version=expected_version)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name, limit in (("carrier", 100), ("tracking_number", 100), ("tracking_url", 500)):
        raw = getattr(data, name)
        if raw is None:
            continue
        try:
            values[name] = _text(raw, limit)
        except ValidationError as exc:
            _add(errors, name, exc)
    if "carrier" in values and not values["carrier"]:
        _add(errors, "carrier", "Name the carrier.")
    if values.get("tracking_url") and not values["tracking_url"].startswith(
        ("https://", "http://")
    ):
        _add(errors, "tracking_url", "The tracking link must start with https:// or http://.")
    if data.status is not None and data.status != shipment.status:
        _add(errors, "status", "Change the status with the status endpoint (it keeps history).")
    if errors:
        raise ValidationError(errors)
    if data.expected_delivery is not None:
        values["expected_delivery"] = data.expected_delivery
    if data.owner_id is not None or data.team_id is not None:
        check_assignment(
            actor=actor,
            object_type=SHIPMENT_TYPE,
            owner_id=data.owner_id,
            team_id=data.team_id,
            current=shipment,
        )
        if data.owner_id is not None:
            values["owner_id"] = data.owner_id
        if data.team_id is not None:
            values["team_id"] = data.team_id
    before = audit.snapshot(shipment)
    for name, value in values.items():
        setattr(shipment, name, value)
    changes = audit.diff(before, audit.snapshot(shipment))
    if not changes:
        return shipment
    bump_version(shipment)
    shipment.save()
    shipment.refresh_from_db()
    audit.record(actor=actor, action=AuditAction.UPDATE, obj=shipment, changes=changes)
    outbox.emit(
        "shipment.updated",
        {**shipment_payload(shipment), "changed_fields": sorted(changes)},
        aggregate=shipment,
    )
    return shipment


@transaction.atomic
def shipment_delete(*, actor: Any, shipment: Shipment, expected_version: int | None = None) -> None:
    require(actor, "delete", shipment)
    shipment = lock_for_change(shipment, expected_version=expected_version)
    payload = shipment_payload(shipment)
    audit.record_deleted(actor=actor, obj=shipment, before=audit.snapshot(shipment))
    outbox.emit("shipment.deleted", payload, aggregate=shipment)
    shipment.delete()


# --- Bulk upsert (imports, integrations) --------------------------------------------------


@dataclass
class OrderRow:
    """One order for `orders_bulk_upsert`, already parsed by the caller.

    `customer_id` is resolved (e.g. from customer_external_id) by the caller; `row` is the
    caller's row number, echoed back in errors. Amounts may be Decimal, int or str (never
    float); `lines` may be empty for header-only orders (then `total` is required).
    """

    external_id: str
    customer_id: int
    ordered_at: dt.datetime
    currency: str
    lines: list[LineInput] = field(default_factory=list)
    status: str = OrderStatus.PENDING
    channel: str = OrderChannel.WEB
    number: str = ""
    tax: Any = ZERO
    shipping: Any = ZERO
    total: Any = None
    row: int | None = None


@dataclass
class BulkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    order_ids: dict[str, int] = field(default_factory=dict)  # external_id -> order id


def validate_order_row(
    row: OrderRow,
    products_by_id: dict[int, Product] | None = None,
    products_by_sku: dict[str, Product] | None = None,
) -> tuple[dict[str, Any], list[_CleanLine]]:
    """Check one row with the same rules as `order_create` (for an import's dry run).

    Returns the clean values and lines, or raises ValidationError keyed by field.
    Product look-ups hit the database unless the caller passes them (batched)."""
    data = OrderInput(
        lines=row.lines,
        currency=row.currency,
        status=row.status,
        channel=row.channel,
        ordered_at=row.ordered_at,
        number=row.number,
        external_id=row.external_id,
        tax=row.tax,
        shipping=row.shipping,
        total=row.total,
    )
    if products_by_id is None or products_by_sku is None:
        products_by_id, products_by_sku = _products_for(row.lines)
    if not (row.external_id or "").strip():
        raise ValidationError({"external_id": "Every order row needs an external_id."})
    values, lines = _order_values(
        data, current=None, products_by_id=products_by_id, products_by_sku=products_by_sku
    )
    return values, lines or []


def _row_errors(index: int, row: OrderRow, exc: ValidationError | PermissionDenied) -> list[dict]:
    number = row.row if row.row is not None else index
    if isinstance(exc, PermissionDenied):
        return [{"row": number, "field": "customer", "message": str(exc)}]
    if hasattr(exc, "error_dict"):
        return [
            {"row": number, "field": name, "message": str(message)}
            for name, messages in exc.message_dict.items()
            for message in messages
        ]
    return [{"row": number, "field": "", "message": str(m)} for m in exc.messages]


@transaction.atomic
def orders_bulk_upsert(
    *, actor: Any, rows: Sequence[OrderRow], batch_size: int = BATCH_SIZE
) -> BulkResult:
    """Create or update many orders by external_id in one transaction, with a constant
    number of queries per batch of `batch_size` rows.

    Contract (for import and integrations):
    - `rows` are OrderRow objects, one per order (lines grouped by the caller), parsed but
      checked again here with the `order_create` rules (`validate_order_row`).
    - Access: the actor needs `create` on commerce.order for new orders and `edit` on each
      existing one, and must see each row's customer. A row failing any check is skipped
      and reported in `BulkResult.errors` as {"row", "field", "message"} (`row` is
      `OrderRow.row` or the index); every other row is written. Nothing is half-written:
      a row's order, lines, audit row, events and timeline entry go in together.
    - Idempotent: an external_id seen before updates that order (its lines are replaced);
      a row identical to the stored order is counted `unchanged` and writes nothing. The
      same external_id twice in one call is an error on the second row.
    - New orders belong to their customer's owner and team; updates keep owner and team.
      An existing order may not move to another customer.
    - Per order: one audit row (`create`/`update`), one `order.created`/`order.updated`
      event (and `order.status_changed` when the status changes), and one timeline entry
      (kind `order`) with its `interaction.created` event for each new order and each
      status change. Status changes are taken as the source system states them (no
      transition rules).
    - Run it inside a background task for large files; call it per chunk (e.g. 1,000
      rows) so each chunk commits on its own.
    """
    result = BulkResult()
    if not rows:
        return result
    may_create = can(actor, "create", Order)
    for chunk_start, chunk in _enumerate_chunks(rows, batch_size):
        _bulk_upsert_batch(actor, chunk, chunk_start, may_create, result)
    return result


def _enumerate_chunks(
    rows: Sequence[OrderRow], size: int
) -> Iterable[tuple[int, Sequence[OrderRow]]]:
    for start in range(0, len(rows), size):
        yield start, rows[start : start + size]


def _bulk_upsert_batch(
    actor: Any, rows: Sequence[OrderRow], offset: int, may_create: bool, result: BulkResult
) -> None:
    all_lines = [ln for row in rows for ln in row.lines]
    by_id, by_sku = _products_for(all_lines)
    customer_ids = {row.customer_id for row in rows}
    visible_customers = {
        c.pk: c
        for c in customer_selectors.customer_list(actor=actor)
        .filter(pk__in=customer_ids)
        .only("id", "owner_id", "team_id", "display_name")
    }
    external_ids = [row.external_id.strip() for row in rows if row.external_id]
    existing = {
        o.external_id: o
        for o in Order.objects.select_for_update().filter(external_id__in=external_ids)
    }
    existing_lines: dict[int, list[OrderLine]] = defaultdict(list)
    for line in OrderLine.objects.filter(order__in=[o.pk for o in existing.values()]):
        existing_lines[line.order_id].append(line)

    seen: set[str] = set()
    to_create: list[tuple[Order, list[_CleanLine]]] = []
    to_update: list[tuple[Order, list[_CleanLine], dict[str, Any], str]] = []
    for i, row in enumerate(rows):
        index = offset + i
        try:
            values, lines = validate_order_row(row, by_id, by_sku)
            ext = values["external_id"]
            if ext in seen:
                raise ValidationError(
                    {"external_id": f"Order {ext!r} appears twice in this batch."}
                )
            seen.add(ext)
            customer = visible_customers.get(row.customer_id)
            if customer is None:
                raise ValidationError(
                    {"customer": f"No customer #{row.customer_id} that you may see."}
                )
            current = existing.get(ext)
            if current is None:
                if not may_create:
                    raise PermissionDenied("You may not create orders.")
                order = Order(
                    **values,
                    customer_id=customer.pk,
                    owner_id=customer.owner_id or actor.pk,
                    team_id=customer.team_id,
                    status_changed_at=timezone.now(),
                )
                if not order.number:
                    order.number = ext
                to_create.append((order, lines))
                continue
            if not can(actor, "edit", current):
                raise PermissionDenied("You may not edit this order.")
            if current.customer_id != customer.pk:
                raise ValidationError({"customer": f"Order {ext!r} belongs to another customer."})
            before = _audited_order(current, existing_lines[current.pk])
            previous_status = current.status
            if not values.get("number"):
                values["number"] = current.number
            for name, value in values.items():
                setattr(current, name, value)
            changes = audit.diff(before, _audited_order(current, lines))
            if not changes:
                result.unchanged += 1
                result.order_ids[ext] = current.pk
                continue
            if current.status != previous_status:
                current.status_changed_at = timezone.now()
            to_update.append((current, lines, changes, previous_status))
        except (ValidationError, PermissionDenied) as exc:
            result.errors.extend(_row_errors(index, row, exc))

    audit_rows = []
    events = []
    status_entries: list[Interaction] = []
    now = timezone.now()

    if to_create:
        created = Order.objects.bulk_create([o for o, _ in to_create], batch_size=BATCH_SIZE)
        line_rows = []
        for order, lines in zip(created, (ln for _, ln in to_create), strict=True):
            for ln in lines:
                line_rows.append(
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
                )
        saved_lines = OrderLine.objects.bulk_create(line_rows, batch_size=BATCH_SIZE)
        lines_by_order: dict[int, list[OrderLine]] = defaultdict(list)
        for line in saved_lines:
            lines_by_order[line.order_id].append(line)
        interactions = []
        for order in created:
            order.version = 1
            order.created_at = order.updated_at = now
            _with_lines(order, lines_by_order[order.pk])
            snapshot = _audited_order(order, lines_by_order[order.pk])
            audit_rows.append(
                audit.entry(
                    actor=actor,
                    action=AuditAction.CREATE,
                    object_type=ORDER_TYPE,
                    object_id=order.pk,
                    object_repr=str(order),
                    changes={k: [None, v] for k, v in snapshot.items() if v not in (None, "", [])},
                )
            )
            events.append(outbox.build("order.created", order_payload(order), aggregate=order))
            interactions.append(
                Interaction(
                    customer_id=order.customer_id,
                    kind=InteractionKind.ORDER,
                    channel=TIMELINE_CHANNEL.get(order.channel, Channel.SYSTEM),
                    occurred_at=order.ordered_at,
                    actor=acting_user(actor),
                    summary=_order_summary(order, lines_by_order[order.pk])[:500],
                    source_type=ORDER_TYPE,
                    source_id=str(order.pk),
                    data=_timeline_data(order),
                )
            )
            result.order_ids[order.external_id or ""] = order.pk
        saved_interactions = Interaction.objects.bulk_create(interactions, batch_size=BATCH_SIZE)
        for interaction in saved_interactions:
            events.append(
                outbox.build(
                    "interaction.created",
                    interaction_payload(interaction),
                    aggregate=_customer_stub(interaction.customer_id),
                )
            )
        result.created += len(created)

    if to_update:
        orders = [o for o, _, _, _ in to_update]
        for order in orders:
            order.version = order.version + 1
            order.updated_at = now
        Order.objects.bulk_update(
            orders,
            [
                "number",
                "status",
                "channel",
                "currency",
                "subtotal",
                "tax",
                "shipping",
                "total",
                "ordered_at",
                "status_changed_at",
                "version",
                "updated_at",
            ],
            batch_size=BATCH_SIZE,
        )
        OrderLine.objects.filter(order__in=[o.pk for o in orders]).delete()
        new_lines = []
        for order, lines, _, _ in to_update:
            for ln in lines:
                new_lines.append(
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
                )
        saved = OrderLine.objects.bulk_create(new_lines, batch_size=BATCH_SIZE)
        updated_lines: dict[int, list[OrderLine]] = defaultdict(list)
        for line in saved:
            updated_lines[line.order_id].append(line)
        for order, _, changes, previous_status in to_update:
            _with_lines(order, updated_lines[order.pk])
            audit_rows.append(
                audit.entry(
                    actor=actor,
                    action=AuditAction.UPDATE,
                    object_type=ORDER_TYPE,
                    object_id=order.pk,
                    object_repr=str(order),
                    changes=changes,
                )
            )
            payload = order_payload(order)
            events.append(
                outbox.build(
                    "order.updated",
                    {**payload, "changed_fields": sorted(changes)},
                    aggregate=order,
                )
            )
            if order.status != previous_status:
                events.append(
                    outbox.build(
                        "order.status_changed",
                        {**payload, "previous_status": previous_status},
                        aggregate=order,
                    )
                )
                status_entries.append(
                    Interaction(
                        customer_id=order.customer_id,
                        kind=InteractionKind.ORDER,
                        channel=TIMELINE_CHANNEL.get(order.channel, Channel.SYSTEM),
                        occurred_at=now,
                        actor=acting_user(actor),
                        summary=f"Order {_order_label(order)} "
                        f"{OrderStatus(order.status).label.lower()}",
                        source_type=ORDER_TYPE,
                        source_id=str(order.pk),
                        data={**_timeline_data(order), "previous_status": previous_status},
                    )
                )
            result.order_ids[order.external_id or ""] = order.pk
        result.updated += len(orders)

    if status_entries:
        for interaction in Interaction.objects.bulk_create(status_entries, batch_size=BATCH_SIZE):
            events.append(
                outbox.build(
                    "interaction.created",
                    interaction_payload(interaction),
                    aggregate=_customer_stub(interaction.customer_id),
                )
            )
    if audit_rows:
        type(audit_rows[0]).objects.bulk_create(audit_rows, batch_size=BATCH_SIZE)
    if events:
        outbox.emit_many(events)


def _customer_stub(pk: int) -> Customer:
    """A customer carrying only its id (an event's aggregate needs no more)."""
    return Customer(pk=pk)


__all__ = [
    "BulkResult",
    "LineInput",
    "MovedOrders",
    "OrderInput",
    "OrderRow",
    "ProductInput",
    "ShipmentInput",
    "check_assignment",
    "order_create",
    "order_delete",
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


# --- Customer merges ----------------------------------------------------------------------


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
