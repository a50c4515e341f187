"""Segment rules: validated JSON (nested AND/OR groups of conditions) compiled to one
`Q` over customers, with EXISTS / scalar subqueries for behaviour, orders and consent, so
a segment is counted and materialised by the database alone, never in Python.

A group is ``{"op": "and" | "or", "rules": [node, …]}``; a condition is one of

- ``{"kind": "field", "field": "<segment field or cf_<key>>", "value": "…" | ["…"]}``:
  any customer segment field in `core.registry` (profile, tags, custom fields, and what
  analytics adds: CLV, RFM segment, churn risk);
- ``{"kind": "consent", "channel": "email", "purpose": "marketing"}``: consent in force
  (the latest ledger row; a channel's own row wins over an "any channel" one);
- ``{"kind": "event", "type": "product_view", "product_sku": "X", "days": 7,
  "min_count": 1}``: storefront events in the last `days` days;
- ``{"kind": "order", "measure": "count" | "total" | "last_order_days" | "product",
  "op": "gte" | "lte" | "eq", "value": …, "days": 30}``: orders (cancelled and returned
  ones never count), in the last `days` days when given;

each with an optional ``"negate": true`` ("did not buy"). Errors are keyed by the path of
the node they concern (``rules.1.days``) so the rule builder shows them beside the rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact, GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone

from rapport.commerce.models import NON_REVENUE_STATUSES, Order, OrderLine
from rapport.core import registry
from rapport.customers import selectors as customer_selectors
from rapport.customers.models import ConsentChannel, ConsentPurpose, ConsentRecord, Customer
from rapport.marketing.event_types import is_known_type
from rapport.marketing.models import WebEvent

CUSTOMER_TYPE = "customers.customer"
MAX_DEPTH = 4
MAX_CONDITIONS = 50
MAX_DAYS = 3650
OPS = ("gte", "lte", "eq")
ORDER_MEASURES = ("count", "total", "last_order_days", "product")
KINDS = ("field", "consent", "event", "order")
# What the rule builder offers (pages may not import the customers' models themselves).
CONSENT_CHANNELS = tuple(ConsentChannel.choices)
CONSENT_PURPOSES = tuple(ConsentPurpose.choices)
ORDER_MEASURE_CHOICES = (
    ("count", "Number of orders"),
    ("total", "Total spent"),
    ("last_order_days", "Days since last order"),
    ("product", "Bought product (SKU)"),
)
OP_CHOICES = (("gte", "at least"), ("lte", "at most"), ("eq", "exactly"))

Errors = dict[str, list[str]]


def empty_rules() -> dict[str, Any]:
    return {"op": "and", "rules": []}


# --- validation -----------------------------------------------------------------------


def validate(rules: Any) -> dict[str, Any]:
    """The rules, checked and normalised; ValidationError keyed by each bad node's path."""
    errors: Errors = {}
    counter = [0]
    cleaned = _clean_group(rules, "rules", 0, errors, counter)
    if counter[0] > MAX_CONDITIONS:
        errors.setdefault("rules", []).append(f"At most {MAX_CONDITIONS} conditions.")
    if errors:
        raise ValidationError(errors)
    return cleaned


def _add(errors: Errors, path: str, message: str) -> None:
    errors.setdefault(path, []).append(message)


def _clean_group(node: Any, path: str, depth: int, errors: Errors, counter: list[int]) -> Any:
    if not isinstance(node, dict) or "rules" not in node:
        _add(errors, path, "A group needs an operator (and/or) and a list of rules.")
        return empty_rules()
    op = node.get("op", "and")
    if op not in ("and", "or"):
        _add(errors, f"{path}.op", "Use and or or.")
    if depth >= MAX_DEPTH:
        _add(errors, path, f"Groups nest at most {MAX_DEPTH} deep.")
        return empty_rules()
    children = node.get("rules")
    if not isinstance(children, list):
        _add(errors, f"{path}.rules", "Give a list of rules.")
        return empty_rules()
    cleaned = []
    for i, child in enumerate(children):
        child_path = f"{path}.{i}"
        if isinstance(child, dict) and "rules" in child:
            cleaned.append(_clean_group(child, child_path, depth + 1, errors, counter))
        else:
            counter[0] += 1
            cleaned.append(_clean_condition(child, child_path, errors))
    return {"op": op, "rules": cleaned}


def _int_in(
    node: dict[str, Any],
    key: str,
    path: str,
    errors: Errors,
    low: int,
    high: int,
    required: bool = False,
) -> int | None:
    raw: Any = node.get(key)
    if raw in (None, ""):
        if required:
            _add(errors, f"{path}.{key}", "Required.")
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        _add(errors, f"{path}.{key}", "Give a whole number.")
        return None
    if not low <= value <= high:
        _add(errors, f"{path}.{key}", f"Give a number from {low} to {high}.")
        return None
    return value


def _clean_condition(node: Any, path: str, errors: Errors) -> dict[str, Any]:
    if not isinstance(node, dict):
        _add(errors, path, "A condition is an object with a kind.")
        return {}
    kind = node.get("kind")
    negate = bool(node.get("negate", False))
    if kind == "field":
        name = str(node.get("field") or "")
        fields = registry.segment_fields(CUSTOMER_TYPE)
        if name not in fields and not name.startswith("cf_"):
            _add(errors, f"{path}.field", f"Unknown field {name!r}.")
        value: Any = node.get("value")
        # A builder's text box may list several values ("vip, gold" for tags).
        values = value if isinstance(value, list) else str(value or "").split(",")
        values = [str(v).strip() for v in values if v is not None and str(v).strip()]
        if not values:
            _add(errors, f"{path}.value", "Give a value.")
        elif name in fields or name.startswith("cf_"):
            try:  # the field's own parsing (dates, ids, custom field types) says what is wrong
                customer_selectors.apply_filters(
                    Customer.objects.none(), {name: values}, actor=_Nobody()
                )
            except ValidationError as exc:
                for message in exc.messages:
                    _add(errors, f"{path}.value", message)
        return {"kind": "field", "field": name, "value": values, "negate": negate}
    if kind == "consent":
        channel, purpose = node.get("channel", "email"), node.get("purpose", "marketing")
        if channel not in ConsentChannel.values:
            _add(errors, f"{path}.channel", f"Use one of {', '.join(ConsentChannel.values)}.")
        if purpose not in ConsentPurpose.values:
            _add(errors, f"{path}.purpose", f"Use one of {', '.join(ConsentPurpose.values)}.")
        return {"kind": "consent", "channel": channel, "purpose": purpose, "negate": negate}
    if kind == "event":
        event_type = str(node.get("type") or "")
        if not is_known_type(event_type):
            _add(errors, f"{path}.type", f"Unknown event type {event_type!r}.")
        sku = str(node.get("product_sku") or "").strip()[:100]
        days = _int_in(node, "days", path, errors, 1, MAX_DAYS)
        min_count = _int_in(node, "min_count", path, errors, 1, 10_000) or 1
        return {
            "kind": "event",
            "type": event_type,
            "product_sku": sku,
            "days": days,
            "min_count": min_count,
            "negate": negate,
        }
    if kind == "order":
        measure = node.get("measure", "count")
        if measure not in ORDER_MEASURES:
            _add(errors, f"{path}.measure", f"Use one of {', '.join(ORDER_MEASURES)}.")
        op = node.get("op", "gte")
        if op not in OPS:
            _add(errors, f"{path}.op", "Use gte, lte or eq.")
        days = _int_in(node, "days", path, errors, 1, MAX_DAYS)
        raw = node.get("value")
        value = None
        if measure == "product":
            value = str(raw or "").strip()[:100]
            if not value:
                _add(errors, f"{path}.value", "Give the product's SKU.")
        elif measure == "total":
            try:
                value = str(Decimal(str(raw)))
                if Decimal(value) < 0:
                    raise InvalidOperation
            except (InvalidOperation, ValueError):
                _add(errors, f"{path}.value", "Give an amount (e.g. 100 or 99.50).")
        else:
            value = _int_in(node, "value", path, errors, 0, 1_000_000, required=True)
        return {
            "kind": "order",
            "measure": measure,
            "op": op,
            "value": value,
            "days": days,
            "negate": negate,
        }
    _add(errors, f"{path}.kind", f"Use one of {', '.join(KINDS)}.")
    return {}


class _Nobody:
    """Validation parses values only (on an empty queryset); fields reading the actor
    ("owner: me") need someone to read."""

    pk = 0
    is_authenticated = True


# --- compilation ----------------------------------------------------------------------


def compile_rules(rules: dict[str, Any], *, actor: Any, now: dt.datetime | None = None) -> Q:
    """One Q over customers for validated `rules` (an empty group matches everyone)."""
    return _group(rules, actor, now or timezone.now())


def _group(node: dict[str, Any], actor: Any, now: dt.datetime) -> Q:
    parts = [
        _group(child, actor, now) if "rules" in child else _condition(child, actor, now)
        for child in node["rules"]
    ]
    if not parts:
        return Q()
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined | part) if node["op"] == "or" else (combined & part)
    return combined


def _condition(node: dict[str, Any], actor: Any, now: dt.datetime) -> Q:
    compile_one: Callable[[dict[str, Any], Any, dt.datetime], Q] = _COMPILERS[node["kind"]]
    q = compile_one(node, actor, now)
    return ~q if node.get("negate") else q


def _field(node: dict[str, Any], actor: Any, now: dt.datetime) -> Q:
    # The field's own filter, as a semi-join: fields compile to querysets (joins for tags,
    # e-mails, custom fields), so an OR of two of them stays one correct query.
    matching = customer_selectors.apply_filters(
        Customer.objects.all(), {node["field"]: node["value"]}, actor=actor
    )
    return Q(pk__in=matching.order_by().values("pk"))


def _latest_consent(channel: str, purpose: str) -> Subquery:
    return Subquery(
        ConsentRecord.objects.filter(customer=OuterRef("pk"), channel=channel, purpose=purpose)
        .order_by("-occurred_at", "-id")
        .values("status")[:1]
    )


def _consent(node: dict[str, Any], actor: Any, now: dt.datetime) -> Q:
    status = Coalesce(
        _latest_consent(node["channel"], node["purpose"]),
        _latest_consent("any", node["purpose"]),
        Value(""),
    )
    return Q(Exact(status, "granted"))


def _events(node: dict[str, Any], now: dt.datetime) -> QuerySet[WebEvent]:
    events = WebEvent.objects.filter(customer=OuterRef("pk"), type=node["type"])
    if node.get("product_sku"):
        events = events.filter(product_sku=node["product_sku"])
    if node.get("days"):
        events = events.filter(occurred_at__gte=now - dt.timedelta(days=node["days"]))
    return events


def _event(node: dict[str, Any], actor: Any, now: dt.datetime) -> Q:
    events = _events(node, now)
    if node.get("min_count", 1) <= 1:
        return Q(Exists(events))
    counted = Subquery(
        events.order_by().values("customer").annotate(n=Count("pk")).values("n")[:1],
        output_field=IntegerField(),
    )
    return Q(GreaterThanOrEqual(Coalesce(counted, 0), node["min_count"]))


def _compare(expression: Any, op: str, value: Any) -> Q:
    lookup = {"gte": GreaterThanOrEqual, "lte": LessThanOrEqual, "eq": Exact}[op]
    return Q(lookup(expression, value))


def _order(node: dict[str, Any], actor: Any, now: dt.datetime) -> Q:
    orders = Order.objects.filter(customer=OuterRef("pk")).exclude(status__in=NON_REVENUE_STATUSES)
    if node["measure"] == "last_order_days":
        # "Last order at most N days ago" / "at least N days ago" (never ordered: neither).
        since = now - dt.timedelta(days=node["value"])
        recent = Q(Exists(orders.filter(ordered_at__gte=since)))
        if node["op"] == "lte":
            return recent
        if node["op"] == "gte":
            return Q(Exists(orders)) & ~recent
        day = Q(Exists(orders.filter(ordered_at__gte=since - dt.timedelta(days=1))))
        return day & ~recent
    if node.get("days"):
        orders = orders.filter(ordered_at__gte=now - dt.timedelta(days=node["days"]))
    if node["measure"] == "product":
        lines = OrderLine.objects.filter(order__customer=OuterRef("pk"), sku=node["value"]).exclude(
            order__status__in=NON_REVENUE_STATUSES
        )
        if node.get("days"):
            lines = lines.filter(ordered_at_gte(now, node["days"]))
        return Q(Exists(lines))
    grouped = orders.order_by().values("customer")
    if node["measure"] == "count":
        if node["op"] == "gte" and node["value"] == 1:
            return Q(Exists(orders))
        if node["op"] in ("eq", "lte") and node["value"] == 0:
            return ~Q(Exists(orders))
        counted = Subquery(
            grouped.annotate(n=Count("pk")).values("n")[:1], output_field=IntegerField()
        )
        return _compare(Coalesce(counted, 0), node["op"], node["value"])
    money: DecimalField[Any, Any] = DecimalField(max_digits=14, decimal_places=2)
    summed = Subquery(grouped.annotate(t=Sum("total")).values("t")[:1], output_field=money)
    return _compare(
        Coalesce(summed, Value(Decimal(0)), output_field=money), node["op"], Decimal(node["value"])
    )


def ordered_at_gte(now: dt.datetime, days: int) -> Q:
    return Q(order__ordered_at__gte=now - dt.timedelta(days=days))


_COMPILERS: dict[str, Callable[[dict[str, Any], Any, dt.datetime], Q]] = {
    "field": _field,
    "consent": _consent,
    "event": _event,
    "order": _order,
}
