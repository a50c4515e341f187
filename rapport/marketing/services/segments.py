"""Segments: create, change, delete, (re)build, and keep dynamic membership current from
the events that change it.

Membership is set-based SQL: a build is one INSERT … SELECT of the compiled rules and one
DELETE of those who no longer match; the event-driven refresh evaluates only the
customers the outbox named (one query per dynamic segment per batch of customers) and
emits `segment.entered` / `segment.left` for each change, which journeys trigger on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from rapport.core import audit, outbox, registry
from rapport.core.models import AuditAction
from rapport.core.permissions import require, require_assignees_exist, system_actor
from rapport.core.versioning import bump_version, lock_for_change
from rapport.customers.models import Customer
from rapport.marketing import segment_rules
from rapport.marketing.models import (
    Segment,
    SegmentDirtyCustomer,
    SegmentKind,
    SegmentMembership,
)

REFRESH_BATCH = 1000
AUDITED = ["name", "description", "kind", "rules", "owner_id", "team_id"]


@dataclass
class SegmentInput:
    name: str | None = None
    description: str | None = None
    kind: str | None = None
    rules: dict[str, Any] | None = None
    owner_id: int | None = None
    team_id: int | None = None


def segment_payload(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.pk,
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind,
        "rules": segment.rules,
        "member_count": segment.member_count,
        "built_at": segment.built_at.isoformat() if segment.built_at else None,
        "owner_id": segment.owner_id,
        "team_id": segment.team_id,
        "version": segment.version,
    }


def live_customers() -> QuerySet[Customer]:
    """Who can be in a segment: live records (not merged away, not erased)."""
    return Customer.objects.filter(merged_into__isnull=True, erased_at__isnull=True)


def _rules_actor(segment: Segment) -> Any:
    # Rules are evaluated for everyone; the actor only answers fields such as "owner: me".
    return segment.owner if segment.owner_id else system_actor()


def segment_matching(segment: Segment) -> QuerySet[Customer]:
    """Every customer the segment's rules match (no record scope: membership is global;
    who may see the members is decided when they are listed)."""
    return live_customers().filter(
        segment_rules.compile_rules(segment.rules, actor=_rules_actor(segment))
    )


def _clean(data: SegmentInput, segment: Segment | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    if data.name is not None or segment is None:
        name = (data.name or "").strip()
        if not name:
            errors["name"] = ["Give the segment a name."]
        elif len(name) > 150:
            errors["name"] = ["At most 150 characters."]
        values["name"] = name
    if data.description is not None:
        values["description"] = data.description.strip()[:500]
    if data.kind is not None:
        if data.kind not in SegmentKind.values:
            errors["kind"] = ["Use dynamic or static."]
        values["kind"] = data.kind
    if data.rules is not None or segment is None:
        try:
            values["rules"] = segment_rules.validate(
                data.rules if data.rules is not None else segment_rules.empty_rules()
            )
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return values


@transaction.atomic
def segment_create(*, actor: Any, data: SegmentInput) -> Segment:
    """A new segment, built at once (its members materialised by INSERT … SELECT)."""
    require(actor, "create", Segment)
    values = _clean(data, None)
    require_assignees_exist(owner_id=data.owner_id, team_id=data.team_id)
    owner_id = data.owner_id if data.owner_id is not None else getattr(actor, "pk", None)
    segment = Segment.objects.create(**values, owner_id=owner_id, team_id=data.team_id)
    _build(segment)
    audit.record_created(actor=actor, obj=segment)
    outbox.emit("segment.created", segment_payload(segment), aggregate=segment)
    return segment


@transaction.atomic
def segment_update(
    *, actor: Any, segment: Segment, data: SegmentInput, expected_version: int | None = None
) -> Segment:
    """Change a segment; new rules (or a new kind) rebuild its membership."""
    require(actor, "edit", segment)
    segment = lock_for_change(segment, expected_version=expected_version)
    values = _clean(data, segment)
    if data.owner_id is not None or data.team_id is not None:
        require_assignees_exist(owner_id=data.owner_id, team_id=data.team_id)
        if data.owner_id is not None:
            values["owner_id"] = data.owner_id
        if data.team_id is not None:
            values["team_id"] = data.team_id
    before = audit.snapshot(segment, AUDITED)
    for name, value in values.items():
        setattr(segment, name, value)
    changes = audit.diff(before, audit.snapshot(segment, AUDITED))
    if changes:
        bump_version(segment)
        segment.save()
        segment.refresh_from_db(fields=["version"])
        if {"rules", "kind"} & set(changes):
            _build(segment)
        audit.record(actor=actor, action=AuditAction.UPDATE, obj=segment, changes=changes)
        outbox.emit("segment.updated", segment_payload(segment), aggregate=segment)
    return segment


@transaction.atomic
def segment_delete(*, actor: Any, segment: Segment, expected_version: int | None = None) -> None:
    require(actor, "delete", segment)
    segment = lock_for_change(segment, expected_version=expected_version)
    payload = segment_payload(segment)
    SegmentMembership.objects.filter(segment=segment).delete()
    audit.record_deleted(actor=actor, obj=segment, before=audit.snapshot(segment, AUDITED))
    outbox.emit("segment.deleted", payload, aggregate=segment)
    segment.delete()


@transaction.atomic
def segment_rebuild(*, actor: Any, segment: Segment) -> Segment:
    """Evaluate the rules over every customer again: a static segment takes a new snapshot;
    a dynamic one catches up with what no event announces (a "last 7 days" window moving
    on). No per-customer events: journeys react to the event-driven changes."""
    require(actor, "edit", segment)
    segment = lock_for_change(segment, expected_version=None)
    _build(segment)
    outbox.emit("segment.updated", segment_payload(segment), aggregate=segment)
    return segment


def _build(segment: Segment) -> None:
    """Materialise membership in two statements: INSERT … SELECT the new members, DELETE
    those who no longer match. Never a customer in Python."""
    table = SegmentMembership._meta.db_table
    # An aliased column: SQLite names a derived table's columns by their expression text.
    matching = segment_matching(segment).order_by().values(member_id=F("pk"))
    sql, params = matching.query.sql_with_params()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (segment_id, customer_id, entered_at) "  # noqa: S608
            f"SELECT %s, m.member_id, %s FROM ({sql}) m WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} x WHERE x.segment_id = %s AND x.customer_id = m.member_id)",
            [segment.pk, now, *params, segment.pk],
        )
    SegmentMembership.objects.filter(segment=segment).exclude(
        customer_id__in=segment_matching(segment).order_by().values("pk")
    ).delete()
    segment.member_count = SegmentMembership.objects.filter(segment=segment).count()
    segment.built_at = timezone.now()
    segment.save(update_fields=["member_count", "built_at"])


# --- event-driven membership -------------------------------------------------------------


def customer_ids_of_event(
    event_type: str, data: dict[str, Any], aggregate: tuple[str, str]
) -> set[int]:
    """The customers a domain event may have moved in or out of a segment."""
    if event_type.startswith("segment."):
        return set()  # our own events: reacting to them would loop
    ids: set[int] = set()
    aggregate_type, aggregate_id = aggregate
    if aggregate_type == "customers.customer" and aggregate_id.isdigit():
        ids.add(int(aggregate_id))
    for key in ("customer_id",):
        value = data.get(key)
        if isinstance(value, int):
            ids.add(value)
    for value in data.get("customer_ids", []) if event_type == "web_events.ingested" else []:
        if isinstance(value, int):
            ids.add(value)
    return ids


def segments_queue_customers(*, customer_ids: Iterable[int]) -> int:
    """Queue customers for the dynamic segments' refresh (the outbox consumer's one
    write); the refresh task runs after commit. Returns how many were given."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    SegmentDirtyCustomer.objects.bulk_create(
        [SegmentDirtyCustomer(customer_id=i) for i in ids],
        ignore_conflicts=True,
        batch_size=REFRESH_BATCH,
    )
    transaction.on_commit(_enqueue_refresh)
    return len(ids)


def _enqueue_refresh() -> None:
    registry.enqueue("marketing.refresh_dynamic_segments")


def segments_refresh_dirty(*, limit: int = REFRESH_BATCH) -> int:
    """Take up to `limit` queued customers and re-evaluate them against every dynamic
    segment: one query per segment for the whole batch, then the entries and exits
    written and announced. Returns how many customers were evaluated."""
    with transaction.atomic():
        ids = list(
            SegmentDirtyCustomer.objects.order_by("queued_at", "customer_id").values_list(
                "customer_id", flat=True
            )[:limit]
        )
        if not ids:
            return 0
        SegmentDirtyCustomer.objects.filter(customer_id__in=ids).delete()
        for segment in Segment.objects.filter(kind=SegmentKind.DYNAMIC).order_by("id"):
            _refresh_segment(segment, ids)
    return len(ids)


def _refresh_segment(segment: Segment, ids: list[int]) -> None:
    matching = set(segment_matching(segment).filter(pk__in=ids).values_list("pk", flat=True))
    current = set(
        SegmentMembership.objects.filter(segment=segment, customer_id__in=ids).values_list(
            "customer_id", flat=True
        )
    )
    entered, left = sorted(matching - current), sorted(current - matching)
    if not entered and not left:
        return
    now = timezone.now()
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment=segment, customer_id=c, entered_at=now) for c in entered],
        ignore_conflicts=True,
    )
    if left:
        SegmentMembership.objects.filter(segment=segment, customer_id__in=left).delete()
    Segment.objects.filter(pk=segment.pk).update(
        member_count=F("member_count") + len(entered) - len(left)
    )
    info = {"segment_id": segment.pk, "segment_name": segment.name}
    outbox.emit_many(
        [
            outbox.build("segment.entered", {**info, "customer_id": c}, aggregate=Customer(pk=c))
            for c in entered
        ]
        + [
            outbox.build("segment.left", {**info, "customer_id": c}, aggregate=Customer(pk=c))
            for c in left
        ]
    )


def dynamic_segments_with_windows() -> list[Segment]:
    """Dynamic segments whose rules look at a time window ("in the last 7 days"): the
    daily rebuild moves their windows on, which no event announces."""
    return [s for s in Segment.objects.filter(kind=SegmentKind.DYNAMIC) if _has_window(s.rules)]


def _has_window(node: dict[str, Any]) -> bool:
    if "rules" in node:
        return any(_has_window(child) for child in node["rules"])
    return bool(node.get("days")) or node.get("measure") == "last_order_days"


def live_filter(actor: Any, rules: dict[str, Any]) -> Q:
    """The compiled rules for a preview by `actor` (validated first)."""
    return segment_rules.compile_rules(segment_rules.validate(rules), actor=actor)
