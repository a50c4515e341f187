"""Marketing's e-CRM endpoints: event ingestion (API key), the tracker's public collector
(tracker key, allowed origins, CORS), segments CRUD, their members and a live count.

Thin: parse, call one service or selector, answer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from typing import Any, Literal

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Router, Schema

from rapport.core.api import ProblemError
from rapport.core.api_crud import CrudResource, add_crud_routes, schema_from_dataclass
from rapport.core.api_fields import Id, Int64
from rapport.core.permissions import system_actor
from rapport.marketing import selectors, services
from rapport.marketing.models import Segment

router = Router(tags=["marketing"])


# --- Events ---------------------------------------------------------------------------------


class EventBatchIn(Schema):
    events: list[dict[str, Any]] = Field(
        ...,
        min_length=1,
        max_length=services.MAX_BATCH,
        description="1 to 1,000 events; each is checked on its own (see EventIn).",
    )


class EventErrorOut(Schema):
    field: str
    message: str


class EventResultOut(Schema):
    index: int
    idempotency_key: str
    status: Literal["accepted", "duplicate", "failed"]
    customer_id: int | None
    errors: list[EventErrorOut]


class EventBatchOut(Schema):
    accepted: int
    duplicate: int
    failed: int
    results: list[EventResultOut]


def _batch_out(result: services.IngestResult) -> dict[str, Any]:
    return {
        "accepted": result.accepted,
        "duplicate": result.duplicate,
        "failed": result.failed,
        "results": [dataclasses.asdict(r) for r in result.results],
    }


def _retry_conflict() -> ProblemError:
    return ProblemError(
        409,
        "Concurrent batch",
        "Another request is storing some of these idempotency keys right now; send the "
        "batch again: what it stored will come back as duplicate.",
        type="concurrent-batch",
    )


@router.post(
    "/events",
    response=EventBatchOut,
    summary="Send storefront events (batched, idempotent per event)",
    openapi_extra={"requestBody": {"description": "See docs/api.md#events for EventIn."}},
)
def events_ingest(request: HttpRequest, payload: EventBatchIn) -> dict[str, Any]:
    key = getattr(request.user, "api_key", None)
    try:
        result = services.web_events_ingest(
            actor=request.user,
            events=payload.events,
            source=f"api:{key.prefix}" if key is not None else "session",
        )
    except IntegrityError as exc:
        raise _retry_conflict() from exc
    return _batch_out(result)


class WebEventOut(Schema):
    id: int
    idempotency_key: str = Field(alias="event_key")
    type: str
    customer_id: int | None
    visitor_id: str
    occurred_at: dt.datetime
    received_at: dt.datetime
    url: str
    product_sku: str
    properties: dict[str, Any]


class WebEventPage(Schema):
    items: list[WebEventOut]
    next_cursor: str | None


@router.get("/events", response=WebEventPage, summary="List web events (newest first)")
def events_list(
    request: HttpRequest,
    type: str | None = None,
    customer_id: Id | None = None,
    visitor_id: str | None = None,
    cursor: str | None = None,
    limit: Int64 = 50,
) -> dict[str, Any]:
    page = selectors.web_event_page(
        actor=request.user,
        filters=selectors.EventFilters(type=type, customer_id=customer_id, visitor_id=visitor_id),
        cursor=cursor,
        limit=max(1, min(limit, 200)),
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


# --- The tracker's public collector -----------------------------------------------------------


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "86400"
    response["Vary"] = "Origin"
    return response


def _tracker_refusal(status: int, message: str) -> HttpResponse:
    return JsonResponse({"status": status, "detail": message}, status=status)


def _over_tracker_limit(key_id: int, per_minute: int) -> bool:
    window = f"rapport:rl:tracker:{key_id}:{int(time.time() // 60)}"
    cache.add(window, 0, timeout=65)
    try:
        return int(cache.incr(window)) > per_minute
    except ValueError:
        cache.set(window, 1, timeout=65)
        return False


@router.api_operation(["OPTIONS"], "/collect", auth=None, include_in_schema=False)
def collect_preflight(request: HttpRequest, k: str = "") -> HttpResponse:
    tracker = selectors.tracker_key_for(k)
    origin = request.headers.get("Origin", "")
    if tracker is None or origin not in tracker.allowed_origins:
        return HttpResponse(status=403)
    return _cors(HttpResponse(status=204), origin)


@router.post(
    "/collect",
    auth=None,
    summary="The tracker's collector (public tracker key, allowed origins only)",
)
def collect(request: HttpRequest, k: str = "") -> HttpResponse:
    """Browser events from tracker.js. The body is JSON sent as text/plain (what
    navigator.sendBeacon can send without a CORS preflight): {"events": [...]}. Only the
    tracker key's allowed origins, within its rate limit, browser event types only."""
    tracker = selectors.tracker_key_for(k)
    origin = request.headers.get("Origin", "")
    if tracker is None:
        return _tracker_refusal(401, "Unknown or inactive tracker key.")
    if origin not in tracker.allowed_origins:
        return _tracker_refusal(403, "This origin is not allowed for this tracker key.")
    if _over_tracker_limit(tracker.pk, tracker.rate_per_minute):
        return _cors(_tracker_refusal(429, "Too many requests."), origin)
    if len(request.body) > 256_000:
        return _cors(_tracker_refusal(413, "Send smaller batches."), origin)
    try:
        body = json.loads(request.body or b"{}")
        events = body["events"]
        if not isinstance(events, list) or not 1 <= len(events) <= 100:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return _cors(_tracker_refusal(400, 'Send {"events": [1 to 100 events]}.'), origin)
    try:
        result = services.web_events_ingest(
            actor=system_actor(), events=events, source=f"tracker:{tracker.pk}", browser_only=True
        )
    except IntegrityError:
        return _cors(_tracker_refusal(409, "Retry."), origin)
    except ValidationError as exc:
        return _cors(_tracker_refusal(400, "; ".join(exc.messages)), origin)
    answer = {"accepted": result.accepted, "duplicate": result.duplicate, "failed": result.failed}
    return _cors(JsonResponse(answer), origin)


# --- Segments --------------------------------------------------------------------------------


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    kind: str
    rules: dict[str, Any]
    member_count: int
    built_at: dt.datetime | None
    owner_id: int | None
    team_id: int | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


SEGMENT_TYPES: dict[str, Any] = {
    "kind": Literal["dynamic", "static"],
    "rules": dict[str, Any],
    "owner_id": Id,
    "team_id": Id,
}
SegmentIn = schema_from_dataclass(
    services.SegmentInput, name="SegmentIn", types=SEGMENT_TYPES, required=("name",)
)
SegmentPatch = schema_from_dataclass(
    services.SegmentInput, name="SegmentPatch", types=SEGMENT_TYPES, partial=True
)


# Declared before the CRUD routes: /segments/{segment_id} would take "count" first.
class CountIn(Schema):
    rules: dict[str, Any]


class CountOut(Schema):
    count: int


@router.post(
    "/segments/count",
    response=CountOut,
    summary="Count the customers you may see that rules match (a preview; nothing saved)",
)
def segment_count(request: HttpRequest, payload: CountIn) -> dict[str, int]:
    return {"count": selectors.segment_count(actor=request.user, rules=payload.rules)}


def _segments(*, actor: Any, filters: selectors.SegmentFilters) -> Any:
    return selectors.segment_list(actor=actor, filters=filters)


add_crud_routes(
    router,
    CrudResource(
        name="segments",
        model=Segment,
        schema_out=SegmentOut,
        schema_in=SegmentIn,
        schema_patch=SegmentPatch,
        filters=schema_from_dataclass(selectors.SegmentFilters, name="SegmentFilterParams"),
        select_list=_segments,
        select_get=selectors.segment_detail,
        sorts=selectors.SEGMENT_SORTS,
        default_sort="name",
        create=services.segment_create,
        update=services.segment_update,
        delete=services.segment_delete,
    ),
)


class MemberOut(Schema):
    id: int
    display_name: str
    primary_email: str
    external_id: str | None


class MemberPage(Schema):
    items: list[MemberOut]
    next_cursor: str | None


@router.get(
    "/segments/{segment_id}/members",
    response=MemberPage,
    summary="List a segment's members you may see (cursor)",
)
def segment_members(
    request: HttpRequest, segment_id: Id, cursor: str | None = None, limit: Int64 = 50
) -> dict[str, Any]:
    segment = selectors.segment_detail(actor=request.user, pk=segment_id)
    page = selectors.segment_members_page(
        actor=request.user, segment=segment, cursor=cursor, limit=max(1, min(limit, 200))
    )
    return {"items": page.items, "next_cursor": page.next_cursor}
