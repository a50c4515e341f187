"""Segment services: create/update/delete with audit and events, set-based builds, and
dynamic membership kept current by the events that change it (outbox consumer → queue →
refresh), with segment.entered / segment.left."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from rapport.core import outbox
from rapport.core.models import AuditLogEntry, OutboxEvent
from rapport.core.permissions import Scope, system_actor
from rapport.marketing import services
from rapport.marketing.models import SegmentDirtyCustomer, SegmentMembership
from rapport.marketing.services import (
    SegmentInput,
    segment_create,
    segment_delete,
    segment_rebuild,
    segment_update,
    web_events_ingest,
)
from rapport.marketing.tests.factories import customer, event, marketer

pytestmark = pytest.mark.django_db

VIEWED_NOT_BOUGHT = {
    "op": "and",
    "rules": [
        {"kind": "event", "type": "product_view", "product_sku": "TEA-1", "days": 7},
        {"kind": "order", "measure": "count", "op": "eq", "value": 0, "days": 7},
    ],
}


def _members(segment: Any) -> set[int]:
    return set(
        SegmentMembership.objects.filter(segment=segment).values_list("customer_id", flat=True)
    )


def _dispatch_and_refresh() -> None:
    """What the worker does: the outbox hands events to consumers, then the refresh task."""
    while outbox.dispatch_pending():
        pass
    services.segments_refresh_dirty()


def test_create_builds_membership_audits_and_emits() -> None:
    nl = customer(country="NL")
    customer(country="BE")
    actor = marketer()
    segment = segment_create(
        actor=actor,
        data=SegmentInput(
            name="Dutch",
            rules={"op": "and", "rules": [{"kind": "field", "field": "country", "value": "NL"}]},
        ),
    )
    assert _members(segment) == {nl.pk} and segment.member_count == 1
    assert segment.owner_id == actor.pk and segment.built_at is not None
    assert AuditLogEntry.objects.filter(object_type="marketing.segment", action="create").exists()
    created = OutboxEvent.objects.get(type="segment.created")
    assert created.data == services.segment_payload(segment)


def test_bad_rules_are_refused_with_the_rule_path() -> None:
    with pytest.raises(ValidationError) as caught:
        segment_create(
            actor=marketer(),
            data=SegmentInput(name="x", rules={"op": "and", "rules": [{"kind": "nope"}]}),
        )
    assert "rules.0.kind" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        segment_create(actor=marketer(), data=SegmentInput(name=" "))
    assert "name" in caught.value.message_dict


def test_creating_needs_the_grant() -> None:
    reader = marketer()
    reader.role.permissions.filter(object_type="marketing.segment").update(can_create=False)
    reader = type(reader).objects.get(pk=reader.pk)
    with pytest.raises(PermissionDenied):
        segment_create(actor=reader, data=SegmentInput(name="x"))


def test_new_rules_rebuild_and_a_stale_version_is_refused() -> None:
    nl, be = customer(country="NL"), customer(country="BE")
    actor = marketer()
    segment = segment_create(actor=actor, data=SegmentInput(name="All"))
    assert _members(segment) == {nl.pk, be.pk}
    rules = {"op": "and", "rules": [{"kind": "field", "field": "country", "value": "BE"}]}
    segment = segment_update(
        actor=actor, segment=segment, data=SegmentInput(rules=rules), expected_version=1
    )
    assert _members(segment) == {be.pk} and segment.member_count == 1 and segment.version == 2
    from rapport.core.errors import Conflict

    with pytest.raises(Conflict):
        segment_update(
            actor=actor, segment=segment, data=SegmentInput(name="B"), expected_version=1
        )


def test_delete_removes_members() -> None:
    customer()
    actor = marketer()
    segment = segment_create(actor=actor, data=SegmentInput(name="All"))
    segment_delete(actor=actor, segment=segment)
    assert not SegmentMembership.objects.exists()
    assert OutboxEvent.objects.filter(type="segment.deleted").exists()


def test_a_static_segment_is_a_snapshot_until_rebuilt() -> None:
    customer(country="NL")
    actor = marketer()
    rules = {"op": "and", "rules": [{"kind": "field", "field": "country", "value": "NL"}]}
    segment = segment_create(
        actor=actor, data=SegmentInput(name="Snapshot", kind="static", rules=rules)
    )
    later = customer(country="NL", external_id="later")
    web_events_ingest(actor=actor, events=[event(customer={"external_id": "later"})])
    _dispatch_and_refresh()
    assert later.pk not in _members(segment)
    segment_rebuild(actor=actor, segment=segment)
    assert later.pk in _members(segment)


def test_an_event_moves_a_customer_in_and_an_order_moves_them_out() -> None:
    ada = customer(external_id="shop-ada")
    actor = marketer()
    segment = segment_create(
        actor=actor, data=SegmentInput(name="Viewed tea, no order", rules=VIEWED_NOT_BOUGHT)
    )
    assert _members(segment) == set()
    web_events_ingest(
        actor=actor,
        events=[event("product_view", product_sku="TEA-1", customer={"external_id": "shop-ada"})],
    )
    _dispatch_and_refresh()
    assert _members(segment) == {ada.pk}
    entered = OutboxEvent.objects.get(type="segment.entered")
    assert entered.data["customer_id"] == ada.pk and entered.data["segment_id"] == segment.pk
    web_events_ingest(
        actor=actor,
        events=[
            event(
                "order_placed",
                customer={"external_id": "shop-ada"},
                order={"external_id": "o-1", "currency": "EUR", "total": "10.00"},
            )
        ],
    )
    _dispatch_and_refresh()
    assert _members(segment) == set()
    segment.refresh_from_db()
    assert segment.member_count == 0
    assert OutboxEvent.objects.filter(type="segment.left").count() == 1


def test_stitching_a_visitor_brings_their_history_into_segments() -> None:
    ada = customer(email="ada@example.com")
    actor = marketer()
    segment = segment_create(
        actor=actor, data=SegmentInput(name="Viewed tea", rules=VIEWED_NOT_BOUGHT)
    )
    web_events_ingest(
        actor=actor, events=[event("product_view", product_sku="TEA-1", visitor_id="v1")]
    )
    _dispatch_and_refresh()
    assert _members(segment) == set()
    web_events_ingest(
        actor=actor, events=[event("login", visitor_id="v1", customer={"email": "ada@example.com"})]
    )
    _dispatch_and_refresh()
    assert _members(segment) == {ada.pk}


def test_the_refresh_evaluates_only_queued_customers_in_one_query_per_segment(
    django_assert_num_queries: Any,
) -> None:
    people = [customer(country="NL") for _ in range(30)]
    actor = marketer()
    rules = {"op": "and", "rules": [{"kind": "field", "field": "country", "value": "BE"}]}
    segments = [
        segment_create(actor=actor, data=SegmentInput(name=f"S{i}", rules=rules)) for i in range(3)
    ]
    for person in people:
        person.country = "BE"
        person.save()
    assert services.segments_queue_customers(customer_ids=[p.pk for p in people]) == 30
    # Savepoint, select + delete the queue, list the segments, then per segment: match,
    # current members, insert, member count, outbox rows: whatever the number of people.
    with django_assert_num_queries(23):
        services.segments_refresh_dirty()
    for segment in segments:
        assert _members(segment) == {p.pk for p in people}
    assert not SegmentDirtyCustomer.objects.exists()
    with django_assert_num_queries(3):  # savepoint, the empty queue, release
        assert services.segments_refresh_dirty() == 0


def test_customer_ids_of_event_reads_aggregates_and_batches() -> None:
    of = services.customer_ids_of_event
    assert of("customer.updated", {}, ("customers.customer", "7")) == {7}
    assert of("order.created", {"customer_id": 3}, ("commerce.order", "1")) == {3}
    assert services.customer_ids_of_event(
        "web_events.ingested", {"customer_ids": [1, 2]}, ("", "")
    ) == {1, 2}
    assert services.customer_ids_of_event("segment.entered", {"customer_id": 1}, ("", "")) == set()


def test_only_windowed_dynamic_segments_are_rebuilt_daily() -> None:
    actor = marketer()
    windowed = segment_create(actor=actor, data=SegmentInput(name="W", rules=VIEWED_NOT_BOUGHT))
    segment_create(actor=actor, data=SegmentInput(name="Plain"))
    static = SegmentInput(name="Static", kind="static", rules=VIEWED_NOT_BOUGHT)
    segment_create(actor=actor, data=static)
    assert [s.pk for s in services.dynamic_segments_with_windows()] == [windowed.pk]


def test_membership_is_global_and_matching_ignores_the_viewer() -> None:
    rep = marketer(Scope.OWN)
    customer(owner=rep)
    customer()
    segment = segment_create(actor=marketer(), data=SegmentInput(name="All"))
    assert services.segment_matching(segment).count() == 2
    assert services.live_customers().count() == 2
    q = services.live_filter(system_actor(), {"op": "and", "rules": []})
    assert services.live_customers().filter(q).count() == 2


def test_windows_move_on_with_the_daily_rebuild(settings: Any) -> None:
    from django.utils import timezone

    from rapport.marketing.models import WebEvent

    ada = customer(external_id="a")
    actor = marketer()
    segment = segment_create(actor=actor, data=SegmentInput(name="W", rules=VIEWED_NOT_BOUGHT))
    web_events_ingest(
        actor=actor,
        events=[event("product_view", product_sku="TEA-1", customer={"external_id": "a"})],
    )
    _dispatch_and_refresh()
    assert _members(segment) == {ada.pk}
    WebEvent.objects.update(occurred_at=timezone.now() - dt.timedelta(days=8))
    from rapport.marketing.tasks import rebuild_windowed_segments

    rebuild_windowed_segments.call()
    assert _members(segment) == set()
