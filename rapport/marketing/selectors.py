"""Marketing's reads, each narrowed to what the actor may see: web events (through the
customers they belong to), segments (record scope), members, live counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from rapport.core.pagination import Page, SortKey, keyset_page, parse_sort
from rapport.core.permissions import Scope, can, scope_queryset
from rapport.customers import selectors as customer_selectors
from rapport.customers.models import Customer
from rapport.marketing import segment_rules
from rapport.marketing.event_types import is_known_type
from rapport.marketing.models import Segment, SegmentMembership, TrackerKey, WebEvent

EVENT_TYPE = "marketing.webevent"
EVENT_SORTS = {"occurred_at": SortKey("occurred_at", "occurred_at")}
SEGMENT_SORTS = {
    "name": SortKey("name", "name"),
    "created": SortKey("created", "created_at"),
    "members": SortKey("members", "member_count"),
}
MEMBER_SORTS = {"id": SortKey("id", "id")}


@dataclass
class EventFilters:
    type: str | None = None
    customer_id: int | None = None
    visitor_id: str | None = None


def web_event_list(*, actor: Any, filters: EventFilters | None = None) -> QuerySet[WebEvent]:
    """The events of customers the actor may see; anonymous events only for those whose
    role sees every web event and every customer."""
    if not can(actor, "view", EVENT_TYPE):
        raise PermissionDenied("You may not see web events.")
    f = filters or EventFilters()
    qs = WebEvent.objects.select_related("customer")
    sees_all = (
        actor.grant_for(EVENT_TYPE).scope == Scope.ALL
        and actor.grant_for("customers.customer").scope == Scope.ALL
    )
    if not sees_all:
        visible = customer_selectors.customer_list(actor=actor).order_by().values("pk")
        qs = qs.filter(customer_id__in=visible)
    if f.type:
        if not is_known_type(f.type):
            raise ValidationError({"type": f"Unknown event type {f.type!r}."})
        qs = qs.filter(type=f.type)
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    if f.visitor_id:
        qs = qs.filter(visitor_id=f.visitor_id)
    return qs


def web_event_page(
    *,
    actor: Any,
    filters: EventFilters | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[WebEvent]:
    sort_key, descending = parse_sort(sort, EVENT_SORTS, "-occurred_at")
    return keyset_page(
        web_event_list(actor=actor, filters=filters),
        sort_key=sort_key,
        descending=descending,
        cursor=cursor,
        limit=limit,
    )


def customer_web_activity(
    *, actor: Any, customer_id: int, limit: int = 10
) -> list[WebEvent] | None:
    """A customer's latest web events for the 360 page (the (customer, occurred_at)
    index); None when the actor may not see web events."""
    if not can(actor, "view", EVENT_TYPE):
        return None
    return list(
        WebEvent.objects.filter(customer_id=customer_id).order_by("-occurred_at", "-id")[:limit]
    )


# --- segments --------------------------------------------------------------------------


@dataclass
class SegmentFilters:
    q: str | None = None
    kind: str | None = None


def segment_list(*, actor: Any, filters: SegmentFilters | None = None) -> QuerySet[Segment]:
    qs = scope_queryset(Segment.objects.all(), actor=actor, action="view")
    f = filters or SegmentFilters()
    if f.q:
        qs = qs.filter(name__icontains=f.q.replace("\x00", "").strip())
    if f.kind:
        qs = qs.filter(kind=f.kind)
    return qs


def segment_page(
    *,
    actor: Any,
    filters: SegmentFilters | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Segment]:
    sort_key, descending = parse_sort(sort, SEGMENT_SORTS, "name")
    return keyset_page(
        segment_list(actor=actor, filters=filters),
        sort_key=sort_key,
        descending=descending,
        cursor=cursor,
        limit=limit,
    )


def segment_detail(*, actor: Any, pk: int) -> Segment:
    return get_object_or_404(segment_list(actor=actor), pk=pk)


def segment_members(*, actor: Any, segment: Segment) -> QuerySet[Customer]:
    """The segment's members the actor may see (record scope on the customers)."""
    members = SegmentMembership.objects.filter(segment=segment).values("customer_id")
    return customer_selectors.customer_list(actor=actor).filter(pk__in=members)


def segment_members_page(
    *, actor: Any, segment: Segment, cursor: str | None = None, limit: int = 50
) -> Page[Customer]:
    return keyset_page(
        segment_members(actor=actor, segment=segment),
        sort_key=MEMBER_SORTS["id"],
        descending=False,
        cursor=cursor,
        limit=limit,
    )


def segment_count(*, actor: Any, rules: Any) -> int:
    """How many customers the actor may see match `rules` (validated: ValidationError
    keyed by the bad rule's path). One COUNT query."""
    if not can(actor, "view", Segment):
        raise PermissionDenied("You may not see segments.")
    cleaned = segment_rules.validate(rules)
    return (
        customer_selectors.customer_list(actor=actor)
        .filter(erased_at__isnull=True)
        .filter(segment_rules.compile_rules(cleaned, actor=actor))
        .count()
    )


def customer_segments(*, actor: Any, customer_id: int) -> list[Segment]:
    """The segments (the actor may see) a customer belongs to, for the 360 page."""
    member_of = SegmentMembership.objects.filter(customer_id=customer_id).values("segment_id")
    return list(segment_list(actor=actor).filter(pk__in=member_of).order_by("name")[:20])


def tracker_keys(*, actor: Any) -> list[TrackerKey]:
    if not getattr(actor, "is_admin", False):
        raise PermissionDenied("Only administrators manage tracker keys.")
    return list(TrackerKey.objects.order_by("name", "id"))


def tracker_key_for(public_key: str) -> TrackerKey | None:
    """The active tracker key (the public ingestion endpoint's lookup)."""
    if not public_key.startswith("pk_") or len(public_key) > 40:
        return None
    return TrackerKey.objects.filter(public_key=public_key, is_active=True).first()
