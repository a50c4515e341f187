"""Storefront and web events in: validate a batch event by event, drop what was seen
before (idempotency keys), resolve and stitch visitors to customers, upsert the orders
they report in commerce, store the events in bulk and tell the timeline and the outbox.

One transaction per batch and a constant number of queries per batch (plus one UPDATE per
visitor identified in it), so a storefront can send thousands of events a second.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from rapport.commerce.services import LineInput, OrderRow, orders_bulk_upsert
from rapport.core import bulk, outbox
from rapport.core.permissions import require, system_actor
from rapport.customers.models import Channel, Customer, EmailAddress, InteractionKind
from rapport.customers.services import TimelineEntry, timeline_append_many
from rapport.marketing.event_types import (
    BROWSER_TYPES,
    CUSTOM_TYPE,
    ORDER_TYPES,
    QUIET_TYPES,
    STANDARD_TYPES,
    TIMELINE_TYPES,
    is_known_type,
)
from rapport.marketing.models import VisitorIdentity, WebEvent

EVENT_TYPE = "marketing.webevent"
MAX_BATCH = 1000
MAX_PROPERTIES_BYTES = 16_384
MAX_AGE = dt.timedelta(days=400)
MAX_CLOCK_SKEW = dt.timedelta(minutes=10)

_VISITOR = r"^[A-Za-z0-9._:-]{1,64}$"


class _Identity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(default="", max_length=100)
    name: str = Field(default="", max_length=200)
    quantity: Decimal = Field(default=Decimal(1), gt=0, max_digits=12, decimal_places=3)
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)


class _Order(BaseModel):
    model_config = ConfigDict(extra="forbid")
    external_id: str = Field(min_length=1, max_length=100)
    number: str = Field(default="", max_length=50)
    status: str = "pending"
    currency: str = Field(min_length=3, max_length=3)
    total: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    tax: Decimal = Field(default=Decimal(0), ge=0, max_digits=12, decimal_places=2)
    shipping: Decimal = Field(default=Decimal(0), ge=0, max_digits=12, decimal_places=2)
    lines: list[_Line] = Field(default_factory=list, max_length=500)


class EventIn(BaseModel):
    """One event as a sender writes it (the API's `EventIn`)."""

    model_config = ConfigDict(extra="forbid")
    idempotency_key: str = Field(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")
    type: str = Field(min_length=1, max_length=64)
    occurred_at: dt.datetime
    visitor_id: str | None = Field(default=None, pattern=_VISITOR)
    customer: _Identity | None = None
    url: str = Field(default="", max_length=2000)
    product_sku: str = Field(default="", max_length=100)
    properties: dict[str, Any] = Field(default_factory=dict)
    order: _Order | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if not is_known_type(value):
            raise ValueError(
                f"Unknown event type {value!r}: use one of {', '.join(sorted(STANDARD_TYPES))} "
                "or a custom type named custom.<name> (lower-case letters, digits, _ . -)."
            )
        return value

    @field_validator("occurred_at")
    @classmethod
    def _sane_time(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("Give a time zone (e.g. 2026-12-04T10:00:00Z).")
        return value  # its range is checked per batch (`_parse`), against one clock read

    @field_validator("properties")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, separators=(",", ":"), default=str)) > MAX_PROPERTIES_BYTES:
            raise ValueError(f"At most {MAX_PROPERTIES_BYTES} bytes of properties (as JSON).")
        return value


Status = Literal["accepted", "duplicate", "failed"]


@dataclass
class EventOutcome:
    index: int
    idempotency_key: str
    status: Status
    errors: list[dict[str, str]] = field(default_factory=list)
    customer_id: int | None = None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicate: int = 0
    failed: int = 0
    results: list[EventOutcome] = field(default_factory=list)


def _errors(exc: PydanticValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "event", "message": err["msg"]}
        for err in exc.errors()
    ]


def _parse(
    raw: Any, *, browser_only: bool, now: dt.datetime
) -> tuple[EventIn | None, str, list[dict[str, str]]]:
    key = str(raw.get("idempotency_key", ""))[:100] if isinstance(raw, dict) else ""
    try:
        event = EventIn.model_validate(raw)
    except PydanticValidationError as exc:
        return None, key, _errors(exc)
    errors: list[dict[str, str]] = []
    if event.occurred_at > now + MAX_CLOCK_SKEW:
        errors.append({"field": "occurred_at", "message": "This time is in the future."})
    elif event.occurred_at < now - MAX_AGE:
        errors.append(
            {"field": "occurred_at", "message": "Events older than 400 days are not accepted."}
        )
    if browser_only:
        if event.type not in BROWSER_TYPES and not CUSTOM_TYPE.match(event.type):
            errors.append({"field": "type", "message": "A tracker key sends browser events only."})
        if event.customer is not None or event.order is not None:
            errors.append(
                {"field": "customer", "message": "A tracker key cannot identify or order."}
            )
        if not event.visitor_id:
            errors.append({"field": "visitor_id", "message": "A tracker event needs a visitor."})
    if event.type in ORDER_TYPES and event.order is None:
        errors.append({"field": "order", "message": f"A {event.type} event needs its order."})
    if event.type not in ORDER_TYPES and event.order is not None:
        errors.append({"field": "order", "message": "Only order events carry an order."})
    if event.customer is not None and not (event.customer.external_id or event.customer.email):
        errors.append({"field": "customer", "message": "Give external_id or email."})
    return (None if errors else event), event.idempotency_key, errors


def _live(customer_id: int, merged_into_id: int | None) -> int:
    return merged_into_id or customer_id


def _resolve_customers(events: list[EventIn]) -> tuple[dict[str, int], dict[str, int]]:
    """{external_id: customer id} and {email: customer id} for the batch (two queries);
    a merged-away record answers with its survivor."""
    external_ids = {e.customer.external_id for e in events if e.customer and e.customer.external_id}
    emails = {e.customer.email.strip().lower() for e in events if e.customer and e.customer.email}
    by_external: dict[str, int] = {}
    if external_ids:
        for pk, external_id, merged in Customer.objects.filter(
            external_id__in=external_ids, erased_at__isnull=True
        ).values_list("pk", "external_id", "merged_into_id"):
            if external_id:
                by_external[external_id] = _live(pk, merged)
    by_email: dict[str, int] = {}
    if emails:
        for email, owner_pk, survivor in (
            EmailAddress.objects.filter(email__in=emails, customer__erased_at__isnull=True)
            .order_by("-is_primary", "id")
            .values_list("email", "customer_id", "customer__merged_into_id")
        ):
            by_email.setdefault(email, _live(owner_pk, survivor))
    return by_external, by_email


def _customer_of(
    event: EventIn, by_external: dict[str, int], by_email: dict[str, int]
) -> int | None:
    if event.customer is None:
        return None
    if event.customer.external_id and event.customer.external_id in by_external:
        return by_external[event.customer.external_id]
    if event.customer.email:
        return by_email.get(event.customer.email.strip().lower())
    return None


def _order_row(index: int, event: EventIn, customer_id: int) -> OrderRow:
    order = event.order
    assert order is not None
    return OrderRow(
        external_id=order.external_id,
        customer_id=customer_id,
        ordered_at=event.occurred_at,
        currency=order.currency.upper(),
        lines=[
            LineInput(
                quantity=line.quantity, unit_price=line.unit_price, sku=line.sku, name=line.name
            )
            for line in order.lines
        ],
        status=order.status,
        number=order.number,
        tax=order.tax,
        shipping=order.shipping,
        total=order.total,
        row=index,
    )


def _stitch(events: list[tuple[int, EventIn, int | None]], known: dict[str, int]) -> dict[str, int]:
    """Identify the visitors of this batch's identified events: store the link and give
    their earlier anonymous events the customer (one indexed UPDATE per visitor). Returns
    {visitor_id: customer id} of the visitors newly identified or re-identified."""
    stitched: dict[str, int] = {}
    for _, event, customer_id in events:
        if not event.visitor_id or customer_id is None:
            continue
        if known.get(event.visitor_id) != customer_id:
            stitched[event.visitor_id] = customer_id
            known[event.visitor_id] = customer_id
    if not stitched:
        return stitched
    now = timezone.now()
    VisitorIdentity.objects.bulk_create(
        [
            VisitorIdentity(visitor_id=v, customer_id=c, identified_at=now)
            for v, c in stitched.items()
        ],
        update_conflicts=True,
        unique_fields=["visitor_id"],
        update_fields=["customer", "identified_at"],
    )
    for visitor_id, customer_id in stitched.items():
        backfilled = WebEvent.objects.filter(visitor_id=visitor_id, customer__isnull=True).update(
            customer_id=customer_id
        )
        outbox.emit(
            "visitor.identified",
            {"visitor_id": visitor_id, "customer_id": customer_id, "backfilled": backfilled},
            aggregate=Customer(pk=customer_id),
        )
    return stitched


def _event_payload(row: WebEvent) -> dict[str, Any]:
    return {
        "idempotency_key": row.event_key,
        "type": row.type,
        "customer_id": row.customer_id,
        "visitor_id": row.visitor_id,
        "occurred_at": row.occurred_at.isoformat(),
        "url": row.url,
        "product_sku": row.product_sku,
        "properties": row.properties,
    }


@transaction.atomic
def web_events_ingest(
    *, actor: Any, events: Sequence[Any], source: str = "", browser_only: bool = False
) -> IngestResult:
    """Take one batch (at most MAX_BATCH) of raw event dicts; report each as accepted,
    duplicate (its idempotency key was seen before: nothing is written again) or failed
    (with its errors; the others still go in).

    Identified events (customer.external_id or customer.email of a known customer) stitch
    their visitor_id to the customer, earlier anonymous events of that visitor included;
    anonymous events of an identified visitor are the customer's. `order_placed` and
    `order_updated` upsert their order in commerce by its external_id (as the storefront
    states it: the events key's permission to write events is the permission to report
    orders). `browser_only` (the public tracker key): browser event types only, no
    identity, no orders.
    """
    require(actor, "create", EVENT_TYPE)
    if len(events) > MAX_BATCH:
        raise ValidationError({"events": f"At most {MAX_BATCH} events per batch."})
    result = IngestResult()
    outcomes: list[EventOutcome] = []
    parsed: list[tuple[int, EventIn]] = []
    seen_keys: set[str] = set()
    now = timezone.now()
    for index, raw in enumerate(events):
        event, key, errors = _parse(raw, browser_only=browser_only, now=now)
        if event is None:
            outcomes.append(EventOutcome(index, key, "failed", errors))
        elif key in seen_keys:
            outcomes.append(EventOutcome(index, key, "duplicate"))
        else:
            seen_keys.add(key)
            outcomes.append(EventOutcome(index, key, "accepted"))
            parsed.append((index, event))
    if seen_keys:
        stored = set(
            WebEvent.objects.filter(event_key__in=seen_keys).values_list("event_key", flat=True)
        )
        if stored:
            for index, event in parsed:
                if event.idempotency_key in stored:
                    outcomes[index].status = "duplicate"
            parsed = [(i, e) for i, e in parsed if e.idempotency_key not in stored]

    by_external, by_email = _resolve_customers([e for _, e in parsed])
    visitors = {e.visitor_id for _, e in parsed if e.visitor_id}
    known = (
        dict(
            VisitorIdentity.objects.filter(visitor_id__in=visitors).values_list(
                "visitor_id", "customer_id"
            )
        )
        if visitors
        else {}
    )
    identified = [(i, e, _customer_of(e, by_external, by_email)) for i, e in parsed]
    for index, event, customer_id in identified:
        if event.customer is not None and customer_id is None:
            # Accepted anonymously: the sender learns the identity matched nobody.
            outcomes[index].errors.append(
                {"field": "customer", "message": "No customer has this external_id or e-mail."}
            )
    stitched = _stitch(identified, known)

    resolved: list[tuple[int, EventIn, int | None]] = [
        (i, e, c if c is not None else (known.get(e.visitor_id) if e.visitor_id else None))
        for i, e, c in identified
    ]
    orders = [
        _order_row(i, e, c) for i, e, c in resolved if e.type in ORDER_TYPES and c is not None
    ]
    failed: set[int] = set()
    for index, event, customer_id in resolved:
        if event.type in ORDER_TYPES and customer_id is None:
            failed.add(index)
            outcomes[index].errors.append(
                {"field": "customer", "message": "An order needs a known customer."}
            )
    if orders:
        upserted = orders_bulk_upsert(actor=system_actor(), rows=orders)
        for error in upserted.errors:
            index = int(error["row"])
            failed.add(index)
            outcomes[index].errors.append(
                {"field": f"order.{error['field']}".rstrip("."), "message": error["message"]}
            )
    rows = [
        WebEvent(
            event_key=e.idempotency_key,
            type=e.type,
            customer_id=c,
            visitor_id=e.visitor_id or "",
            occurred_at=e.occurred_at,
            received_at=now,
            url=e.url,
            product_sku=e.product_sku or (e.order.external_id if e.order else ""),
            properties=e.properties,
            source=source[:100],
        )
        for i, e, c in resolved
        if i not in failed
    ]
    for index in failed:
        outcomes[index].status = "failed"
    for index, _, customer_id in resolved:
        outcomes[index].customer_id = customer_id
    # Plain INSERTs (COPY on PostgreSQL): bulk_create's per-value compilation was most of
    # a batch's time.
    bulk.insert(rows)
    timeline_append_many(
        actor=actor,
        entries=[
            TimelineEntry(
                customer_id=row.customer_id,
                kind=InteractionKind.WEB_EVENT,
                channel=Channel.WEB,
                summary=_summary(row),
                occurred_at=row.occurred_at,
                source_type=EVENT_TYPE,
                source_id=row.event_key[:64],
                data={"type": row.type, "url": row.url},
            )
            for row in rows
            if row.customer_id is not None
            and (row.type in TIMELINE_TYPES or CUSTOM_TYPE.match(row.type))
        ],
    )
    loud = [row for row in rows if row.type not in QUIET_TYPES]
    built = [
        outbox.build(
            "web_event.received",
            _event_payload(row),
            aggregate=Customer(pk=row.customer_id) if row.customer_id else None,
        )
        for row in loud
    ]
    customer_ids = sorted({r.customer_id for r in rows if r.customer_id} | set(stitched.values()))
    if customer_ids:
        built.append(
            outbox.build(
                "web_events.ingested",
                {"customer_ids": customer_ids, "types": sorted({r.type for r in rows})},
            )
        )
    if built:
        # Built by outbox.build (type checked, consumers listed), inserted like the events;
        # emit_many([]) then schedules the dispatcher once for this transaction.
        bulk.insert(built)
        outbox.emit_many([])
    for outcome in outcomes:
        if outcome.status == "accepted":
            result.accepted += 1
        elif outcome.status == "duplicate":
            result.duplicate += 1
        else:
            result.failed += 1
    result.results = outcomes
    return result


def _summary(row: WebEvent) -> str:
    labels = {
        "signup": "Signed up on the website",
        "checkout_started": "Started a checkout",
        "form_submitted": "Sent a form on the website",
    }
    return labels.get(row.type, f"Web event {row.type}")
